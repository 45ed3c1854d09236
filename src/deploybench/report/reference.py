"""The reference results of a campaign as a document: one table per model, one row per framework (median and
p99 latency, throughput, peak memory, artifact size, compile time, fidelity, or the reason it failed), with the
provenance that makes the figures reproducible; in Markdown and in HTML."""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from deploybench.core.records import ResultRecord
from deploybench.report.tables import off_host_summary

COLUMNS = (
    "framework",
    "version",
    "median ms",
    "p99 ms",
    "per s",
    "peak MiB",
    "size MB",
    "compile s",
    "max abs err",
    "cosine",
    "emulated or simulated",
    "status",
)


def reference_tables(results: Sequence[tuple[int, ResultRecord]]) -> dict[str, list[dict[str, str]]]:
    """Rows by model (file name), in the order the results come."""
    tables: dict[str, list[dict[str, str]]] = defaultdict(list)
    for _, record in results:
        tables[Path(record.job.model.path).name].append(_row(record))
    return dict(tables)


def provenance_lines(results: Sequence[tuple[int, ResultRecord]], campaign: str) -> list[str]:
    """Where and with what the figures were measured."""
    measured = [(r.provenance, r.job) for _, r in results if r.provenance is not None]
    lines = [f"Campaign `{campaign}`: {len(results)} result(s), {sum(r.status.value == 'ok' for _, r in results)} ok."]
    if measured:
        first, job = measured[0]
        lines.append(f"deploybench {first.deploybench_version}, record schema {first.schema_version}.")
        lines.append("Machine: " + ", ".join(f"{k} {v}" for k, v in sorted(first.machine.items())) + ".")
        lines.append(
            f"Scenario {job.scenario.kind.value}, timing {job.timing.value}, stopping: "
            f"{job.stopping.min_samples}-{job.stopping.max_samples} samples, "
            f"{job.stopping.min_duration_s:g}-{job.stopping.max_duration_s:g} s."
        )
    return lines


def coverage_lines(results: Sequence[tuple[int, ResultRecord]]) -> list[str]:
    """How many of the models measured each framework ran, and the jobs' time in all."""
    models = {Path(r.job.model.path).name for _, r in results}
    ran: dict[str, set[str]] = defaultdict(set)
    for _, record in results:
        if record.status.value == "ok":
            ran[record.job.framework].add(Path(record.job.model.path).name)
    frameworks = sorted({r.job.framework for _, r in results})
    seconds = sum(
        (r.provenance.finished_at - r.provenance.started_at).total_seconds() for _, r in results if r.provenance
    )
    return [
        f"Coverage, of the {len(models)} model(s) measured: "
        + ", ".join(f"{name} {len(ran[name])}" for name in frameworks)
        + ".",
        f"Time in the jobs, in all: {seconds / 60:.1f} min.",
    ]


def markdown(results: Sequence[tuple[int, ResultRecord]], campaign: str, title: str) -> str:
    """The whole document in Markdown."""
    parts = [f"# {title}", "", *provenance_lines(results, campaign), *coverage_lines(results), ""]
    for model, rows in reference_tables(results).items():
        parts += [f"## {model}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        parts += ["| " + " | ".join(row[c].replace("|", "\\|") for c in COLUMNS) + " |" for row in rows]
        parts.append("")
    return "\n".join(parts)


def html_document(
    results: Sequence[tuple[int, ResultRecord]], campaign: str, title: str, front_png: bytes | None = None
) -> str:
    """The whole document as one HTML page (no script, no external resource): with the Pareto front of the
    campaign's optimized deployments drawn inline when there is one."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    body += [f"<p>{html.escape(line)}</p>" for line in [*provenance_lines(results, campaign), *coverage_lines(results)]]
    for model, rows in reference_tables(results).items():
        body.append(f"<h2>{html.escape(model)}</h2><table><tr>")
        body += [f"<th>{html.escape(c)}</th>" for c in COLUMNS]
        body.append("</tr>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{html.escape(row[c])}</td>" for c in COLUMNS) + "</tr>")
        body.append("</table>")
    if front_png is not None:
        encoded = base64.b64encode(front_png).decode("ascii")
        body.append("<h2>Optimized deployments against FP32: the Pareto front</h2>")
        body.append(f"<img alt='Pareto front' src='data:image/png;base64,{encoded}'>")
    style = "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _row(record: ResultRecord) -> dict[str, str]:
    row = {c: "" for c in COLUMNS}
    row["framework"] = record.job.framework
    row["version"] = record.provenance.framework_version if record.provenance else ""
    if record.failure is not None:
        row["status"] = f"failed ({record.failure.phase}): {record.failure.message}"
        return row
    row["status"] = record.status.value
    if record.measurements:
        summary = record.measurements[0].summary
        row["median ms"] = f"{summary.median_us / 1000:.3f}"
        row["p99 ms"] = f"{summary.p99_us / 1000:.3f}"
        row["per s"] = f"{record.measurements[0].throughput_per_s:.1f}"
    if record.resources is not None:
        row["peak MiB"] = f"{record.resources.peak_rss_bytes / 2**20:.0f}"
        row["size MB"] = f"{record.resources.artifact_size_bytes / 1e6:.1f}"
        row["compile s"] = "" if record.resources.prepare_s is None else f"{record.resources.prepare_s:.2f}"
    off_host = record.emulation or record.simulation
    if off_host is not None:
        row["emulated or simulated"] = off_host_summary(record) or ""
        row["compile s"] = "" if off_host.prepare_s is None else f"{off_host.prepare_s:.2f}"
    if record.fidelity is not None and record.fidelity.outputs:
        row["max abs err"] = f"{max(o.max_abs_error for o in record.fidelity.outputs):.2e}"
        row["cosine"] = f"{min(o.cosine_similarity for o in record.fidelity.outputs):.6f}"
    return row
