"""`deploybench results ...`: list, show, compare and export stored results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploybench.catalog.tabular import to_csv
from deploybench.cli.output import Format, console, note, print_table, print_text
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError
from deploybench.core.records import ResultRecord, Status
from deploybench.report.compare import compare, comparison_rows
from deploybench.report.optimization import fidelity_row, fp32_job_key, plot_front
from deploybench.report.tables import SUMMARY_COLUMNS, summary_rows
from deploybench.store import ResultStore

results_app = typer.Typer(help="List, show, compare and export stored results.", no_args_is_help=True)


@results_app.command("list")
def list_results(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    framework: Annotated[str | None, typer.Option(help="Only this framework.")] = None,
    status: Annotated[Status | None, typer.Option(help="ok or failed.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many, newest first.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = Format.TABLE,
    db: Database = None,
) -> None:
    """Side-by-side table of stored results."""
    with ResultStore.open(db) as store:
        rows = store.rows(campaign=campaign, framework=framework, status=status, limit=limit)
        results = [(row.id, store.get(row.id)) for row in rows]
    _emit(results, fmt)


@results_app.command()
def show(
    result_id: Annotated[int, typer.Argument(help="Result id.")],
    samples: Annotated[bool, typer.Option(help="Keep the raw samples in the output.")] = False,
    db: Database = None,
) -> None:
    """The whole record of one result as JSON (raw samples left out unless asked)."""
    with ResultStore.open(db) as store:
        record = store.get(result_id)
    data = record.model_dump(mode="json")
    if not samples:
        for measurement in data["measurements"]:
            measurement["samples_us"] = f"{len(measurement['samples_us'])} samples (use --samples)"
    print_text(json.dumps({"id": result_id, **data}, indent=2))


@results_app.command("compare")
def compare_results(
    a: Annotated[int | None, typer.Argument(help="Result id of A (the baseline).")] = None,
    b: Annotated[int | None, typer.Argument(help="Result id of B.")] = None,
    optimized: Annotated[
        bool, typer.Option(help="Every optimized result against its FP32 result, side by side (instead of A, B).")
    ] = False,
    campaign: Annotated[str | None, typer.Option(help="With --optimized: only this campaign.")] = None,
    plot: Annotated[Path | None, typer.Option(help="With --optimized: draw the Pareto front into this PNG.")] = None,
    db: Database = None,
) -> None:
    """B against A: ratio of medians with its 95 % confidence interval, and a Mann-Whitney U test; or, with
    --optimized, each optimized deployment against its FP32 one (latency, size and memory ratios, fidelity)."""
    if optimized:
        _compare_optimized(campaign, plot, db)
        return
    if a is None or b is None:
        raise ConfigurationError("give two result ids, A and B", hint="or --optimized for every optimized result")
    with ResultStore.open(db) as store:
        record_a, record_b = store.get(a), store.get(b)
    rows = comparison_rows(compare(record_a, record_b))
    print_table(f"B = result {b} vs A = result {a}", list(rows[0]), rows)


def _compare_optimized(campaign: str | None, plot: Path | None, db: str | None) -> None:
    with ResultStore.open(db) as store:
        rows = store.rows(campaign=campaign)
        newest = {row.job_key: row.id for row in reversed(rows)}
        pairs = []
        for row in rows:
            record = store.get(row.id)
            key = fp32_job_key(record)
            if key is not None and key in newest and newest[record.job_key] == row.id:
                pairs.append((newest[key], store.get(newest[key]), row.id, record))
    if not pairs:
        raise ConfigurationError(
            "no optimized result with its FP32 result is stored" + (f" in campaign `{campaign}`" if campaign else ""),
            hint="run deploybench optimize first",
        )
    table = [
        {"A (FP32)": f"result {fp32_id}", "B": f"result {optimized_id}", **fidelity_row(fp32, optimized)}
        for fp32_id, fp32, optimized_id, optimized in pairs
    ]
    columns = list(dict.fromkeys(name for row in table for name in row))
    print_table("each optimized deployment (B) against FP32 (A), same framework, same rows", columns, table)
    if plot is not None:
        note(f"Pareto front drawn in {plot_front([(p[1], p[3]) for p in pairs], plot)}")


@results_app.command()
def export(
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="json (whole records) or csv (summary rows).")
    ] = Format.JSON,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    db: Database = None,
) -> None:
    """Export results as JSON or CSV."""
    if fmt is Format.TABLE:
        raise ConfigurationError("export writes json or csv", hint="use --format json or --format csv")
    with ResultStore.open(db) as store:
        results = [(row.id, store.get(row.id)) for row in store.rows(campaign=campaign)]
    if fmt is Format.JSON:
        text = json.dumps([{"id": i, **r.model_dump(mode="json")} for i, r in results], indent=2)
    else:
        text = to_csv(summary_rows(results), SUMMARY_COLUMNS)
    if output is None:
        print_text(text)
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        console.print(f"wrote {len(results)} result(s) to {output}", markup=False)


def _emit(results: list[tuple[int, ResultRecord]], fmt: Format) -> None:
    if fmt is Format.JSON:
        print_text(json.dumps([{"id": i, **r.model_dump(mode="json")} for i, r in results], indent=2))
    elif fmt is Format.CSV:
        print_text(to_csv(summary_rows(results), SUMMARY_COLUMNS))
    else:
        print_table(f"{len(results)} result(s)", SUMMARY_COLUMNS, summary_rows(results))
