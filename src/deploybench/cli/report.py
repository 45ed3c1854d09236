"""`deploybench report CAMPAIGN`: a campaign's newest results as a Markdown document and an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploybench.cli.output import note
from deploybench.cli.values import Database
from deploybench.core.errors import NotFoundError
from deploybench.core.records import ResultRecord
from deploybench.report.optimization import fp32_job_key, plot_front
from deploybench.report.reference import html_document, markdown
from deploybench.store import ResultStore


def report(
    campaign: Annotated[str, typer.Argument(help="Campaign name (the `name` of its file).")],
    markdown_file: Annotated[Path, typer.Option("--markdown", help="Markdown file to write.")] = Path(
        "docs/reference-results.md"
    ),
    html_file: Annotated[Path | None, typer.Option("--html", help="HTML page to write too.")] = None,
    title: Annotated[str | None, typer.Option(help="Title of the document.")] = None,
    db: Database = None,
) -> None:
    """Write the campaign's reference results: per model, every framework's latency, throughput, memory,
    size, compile time and fidelity, or why it failed; with the provenance of the figures."""
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
