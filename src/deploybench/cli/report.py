"""`deploybench report CAMPAIGN|MODEL`: a campaign's newest results as a Markdown document and an HTML page;
or, for a model, the selection report: one self-contained HTML page and the same data as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploybench.cli.output import note
from deploybench.cli.select import ZOO_PREFIX, resolve_model
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError, NotFoundError
from deploybench.core.formats import model_format
from deploybench.core.records import ResultRecord
from deploybench.report.optimization import fp32_job_key, plot_front
from deploybench.report.reference import html_document, markdown
from deploybench.report.selection import html_document as selection_html
from deploybench.report.selection import json_document
from deploybench.select.constraints import Constraints, Objective
from deploybench.select.fit import framework_units
from deploybench.select.published import load_published
from deploybench.select.session import Selector, analysed
from deploybench.select.validate import validate
from deploybench.store import ResultStore
from deploybench.zoo.anatomies import zoo_anatomies


def report(
    campaign: Annotated[
        str, typer.Argument(help="Campaign name (the `name` of its file), or an analysed model file or zoo:NAME.")
    ],
    markdown_file: Annotated[Path, typer.Option("--markdown", help="Markdown file to write.")] = Path(
        "docs/reference-results.md"
    ),
    html_file: Annotated[Path | None, typer.Option("--html", help="HTML page to write too.")] = None,
    title: Annotated[str | None, typer.Option(help="Title of the document.")] = None,
    db: Database = None,
) -> None:
    """Write the campaign's reference results: per model, every framework's latency, throughput, memory,
    size, compile time and fidelity, or why it failed; with the provenance of the figures. For a model: the
    selection report (ranked combinations, support matrix, Pareto front, rooflines, predicted against measured,
    provenance) as HTML (--html, default MODEL-selection.html) and JSON beside it."""
    if campaign.startswith(ZOO_PREFIX) or model_suffix(campaign):
        selection_report(resolve_model(campaign), html_file, db)
        return
    with ResultStore.open(db) as store:
        rows = store.rows(campaign=campaign)
        newest = {row.job_key: row.id for row in reversed(rows)}
        results = [(result_id, store.get(result_id)) for result_id in sorted(newest.values())]
    if not results:
        raise NotFoundError(f"no results of campaign `{campaign}`", hint="run it first: deploybench campaign run FILE")
    heading = title or f"Reference results: campaign {campaign}"
    markdown_file.parent.mkdir(parents=True, exist_ok=True)
    markdown_file.write_text(markdown(results, campaign, heading), encoding="utf-8")
    note(f"wrote {markdown_file}")
    if html_file is not None:
        html_file.parent.mkdir(parents=True, exist_ok=True)
        front = _front_png(results, html_file.with_suffix(".pareto.png"))
        html_file.write_text(html_document(results, campaign, heading, front), encoding="utf-8")
        note(f"wrote {html_file}")


def _front_png(results: list[tuple[int, ResultRecord]], scratch: Path) -> bytes | None:
    """The Pareto front of the campaign's optimized results with their FP32 results, drawn; None without any."""
    by_key = {record.job_key: record for _, record in results}
    pairs = [
        (by_key[key], record) for _, record in results if (key := fp32_job_key(record)) is not None and key in by_key
    ]
    if not pairs:
        return None
    try:
        drawn = plot_front(pairs, scratch)
        return drawn.read_bytes()
    finally:
        scratch.unlink(missing_ok=True)


def model_suffix(name: str) -> bool:
    """Whether the argument names a model file rather than a campaign."""
    try:
        model_format(Path(name))
    except ConfigurationError:
        return False
    return True


def selection_report(model: Path, html_file: Path | None, db: str | None) -> None:
    """Write the selection report of an analysed model, HTML and JSON."""
    target = html_file or Path(f"{model.stem}-selection.html")
    with ResultStore.open(db) as store:
        analysis = analysed(model, store)
        anatomies = zoo_anatomies((f.model for f in load_published()), store)
        selector = Selector.open(store, anatomies)
    selection = selector.select(analysis, Constraints(), Objective.LATENCY)
    knowledge = selector.knowledge
    checks, summaries = (
        validate(list(knowledge.observations), knowledge.targets, framework_units(selector.catalog))
        if knowledge.observations
        else ([], [])
    )
    targets = list(knowledge.targets.values())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        selection_html(selection, analysis.anatomy, analysis.compliance, targets, summaries, checks), encoding="utf-8"
    )
    target.with_suffix(".json").write_text(json_document(selection, summaries, checks), encoding="utf-8")
    note(f"wrote {target} and {target.with_suffix('.json')}")
