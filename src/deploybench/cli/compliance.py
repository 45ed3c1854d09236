"""`deploybench compliance MODEL...`: which operators every framework of the catalog (and every runtime
installed here) takes, each one's verdict, each target's, and the compact model x framework x target matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.cli.values import Database, split_names
from deploybench.core.errors import ConfigurationError
from deploybench.select.analysis_store import save_analysis
from deploybench.select.compliance import Compliance, Verdict, check_compliance, verdict_matrix
from deploybench.store import ResultStore

Frameworks = Annotated[
    str | None, typer.Option("--frameworks", help="Only these frameworks (comma-separated; catalog or backend names).")
]
Targets = Annotated[
    str | None, typer.Option("--targets", help="Only these targets (comma-separated), and the frameworks they take.")
]
Save = Annotated[bool, typer.Option("--save/--no-save", help="Keep the reports in the results database.")]
SHORT = {
    Verdict.DEPLOYABLE: "yes",
    Verdict.FALLBACK: "fallback",
    Verdict.NOT_DEPLOYABLE: "no",
    Verdict.UNKNOWN: "?",
}


def compliance(
    models: Annotated[list[Path], typer.Argument(help="Model files: .onnx, .tflite or .pt2.")],
    frameworks: Frameworks = None,
    targets: Targets = None,
    matrix: Annotated[bool, typer.Option(help="Print only the compact verdict matrices.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    save: Save = True,
    db: Database = None,
) -> None:
    """Layer compliance: for each model, each framework's verdict (deployable / with fallback / not / unknown)
    with the operators it refuses and who takes them, and each target's verdict."""
    if fmt is Format.CSV:
        raise ConfigurationError("compliance prints a table or JSON", hint="use --format table or --format json")
    reports = [check_compliance(m, split_names(frameworks), split_names(targets)) for m in models]
    if save:
        with ResultStore.open(db) as store:
            for model, report in zip(models, reports, strict=True):
                save_analysis(report, model, store)
    if fmt is Format.JSON:
        print_text(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
        return
    if not matrix:
        for report in reports:
            print_compliance(report)
    if matrix or len(reports) > 1:
        print_matrix(reports)


def print_compliance(report: Compliance) -> None:
    """One model's verdicts: a row per framework, one per target, then what each refuses and who takes it."""
    rows = [
        {
            "framework": v.framework if v.catalog in (None, v.framework) else f"{v.framework} ({v.catalog})",
            "version": v.version or "",
            "verdict": v.verdict.value,
            "refused": ", ".join(v.unsupported),
            "falls back": ", ".join(v.fallback),
            "nodes refused/fallback/checked": f"{v.unsupported_nodes}/{v.fallback_nodes}/{v.checked_nodes}",
            "source": v.error or v.source,
        }
        for v in report.frameworks
    ]
    print_table(f"layer compliance of {report.model}", list(rows[0]), rows)
    if report.targets:
        targets = [
            {
                "target": t.target,
                "verdict": t.verdict.value,
                "through": ", ".join(t.via),
                "its frameworks": ", ".join(t.frameworks) or "(none in the catalog)",
            }
            for t in report.targets
        ]
        print_table("targets", list(targets[0]), targets)
    for verdict in report.frameworks:
        for op, reason in [*verdict.unsupported.items(), *verdict.fallback.items()]:
            others = ", ".join(report.taken_by.get(op, ())) or "no framework checked here"
            note(f"{verdict.framework}: {reason}; taken by: {others}")
        for issue in verdict.model_issues:
            note(f"{verdict.framework}: {issue}")
        for op, conditions in verdict.conditions.items():
            note(f"{verdict.framework}: {op} only if: {'; '.join(conditions)}")


def print_matrix(reports: list[Compliance]) -> None:
    """Compact framework x model and target x model verdicts (yes, fallback, no, ?)."""
    frameworks, targets, cells = verdict_matrix(reports)
    names = [Path(r.model).name for r in reports]
    columns = names if len(set(names)) == len(names) else [r.model for r in reports]
    for kind, rows in (("framework", frameworks), ("target", targets)):
        if not rows:
            continue
        table = [
            {kind: row, **{c: _cell(cells, r.model, row) for c, r in zip(columns, reports, strict=True)}}
            for row in rows
        ]
        print_table(f"{kind} x model (yes, fallback, no, ? unknown)", [kind, *columns], table)


def _cell(cells: dict[tuple[str, str], Verdict], model: str, column: str) -> str:
    verdict = cells.get((model, column))
    return "" if verdict is None else SHORT[verdict]
