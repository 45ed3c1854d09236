"""One model's stored deployments side by side, for the dashboard's Pareto page: the figures of each, which of
them no other deployment beats on every criterion at once, and that front drawn as SVG."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import Measurement, ResultRecord, Status
from deploybench.optimize.pareto import Point, pareto_front
from deploybench.report.optimization import describe, draw_front, fidelity_figure
from deploybench.report.plotting import pyplot

COLUMNS = (
    "id",
    "framework",
    "settings",
    "optimization",
    "target / machine",
    "batch",
    "median µs",
    "p99 µs",
    "peak MiB",
    "size",
    "fidelity",
    "Pareto",
)
NO_MATPLOTLIB = "No plot: drawing the front needs matplotlib (pip install 'deploybench[select]')."


@dataclass(frozen=True)
class Deployment:
    """One measured batch size of one stored OK result, and its point for the Pareto front."""

    result_id: int
    record: ResultRecord
    measurement: Measurement
    point: Point


def deployments(results: Sequence[tuple[int, ResultRecord]]) -> list[Deployment]:
    """One deployment per measurement of each OK result (a failed one has no figure to weigh).

    The point's latency is the median per input (median over batch size), so batch sizes compare fairly; memory is
    the worker's peak RSS and size the deployed artifact's; fidelity is `fidelity_figure`. A figure the record
    lacks counts as the worst possible (no fidelity check: the least faithful; no resources: the largest), so a
    deployment is never said to beat another on a figure it did not measure; it stays on the front only where no
    other deployment is at least as fast, light and small.
    """
    found = []
    for result_id, record in results:
        if record.status is not Status.OK:
            continue
        resources, fidelity = record.resources, fidelity_figure(record)
        for measurement in record.measurements:
            point = Point(
                label=_label(result_id, record, measurement.batch_size),
                latency_us=measurement.summary.median_us / measurement.batch_size,
                memory_bytes=float(resources.peak_rss_bytes) if resources else math.inf,
                size_bytes=float(resources.artifact_size_bytes) if resources else math.inf,
                fidelity=-math.inf if fidelity is None else fidelity,
            )
            found.append(Deployment(result_id, record, measurement, point))
    return found


def deployment_rows(found: Sequence[Deployment], targets: Mapping[int, str]) -> list[dict[str, str]]:
    """A row of COLUMNS per deployment, fastest per input first, "yes" under Pareto for those on the front; the
    target is the lab's (targets: result id to target) for a result an agent measured, else the CPU it ran on."""
    front = pareto_front([d.point for d in found])
    rows = []
    for deployment in sorted(found, key=lambda d: d.point.latency_us):
        record, summary = deployment.record, deployment.measurement.summary
        resources, optimization = record.resources, record.job.optimization
        machine = record.provenance.machine.get("cpu") if record.provenance else None
        on_front = deployment.point in front
        rows.append(
            {
                "id": str(deployment.result_id),
                "framework": record.job.framework,
                "settings": ", ".join(f"{k}={v}" for k, v in sorted(record.job.settings.items())),
                "optimization": describe(optimization) if optimization else "none (FP32 model)",
                "target / machine": targets.get(deployment.result_id) or machine or "n/a",
                "batch": str(deployment.measurement.batch_size),
                "median µs": f"{summary.median_us:.1f}",
                "p99 µs": f"{summary.p99_us:.1f}",
                "peak MiB": f"{resources.peak_rss_bytes / 2**20:.1f}" if resources else "n/a",
                "size": _size(resources.artifact_size_bytes) if resources else "n/a",
                "fidelity": _fidelity(record),
                "Pareto": "yes" if on_front else "",
                "_class_Pareto": "done" if on_front else "",
            }
        )
    return rows


def plot_deployments(found: Sequence[Deployment], title: str) -> tuple[str | None, str]:
    """The front as inline SVG (latency per input across, fidelity up, marker area for the artifact's size) and a
    line on what is not drawn; no SVG, and the line says why, without matplotlib or any fidelity figure."""
    drawn = [d.point for d in found if math.isfinite(d.point.fidelity)]
    left_out = len(found) - len(drawn)
    note = f"{left_out} deployment(s) without a fidelity figure are in the table only." if left_out else ""
    if not drawn:
        return None, "No plot: no deployment has a fidelity figure."
    try:
        plt = pyplot()
    except ConfigurationError:
        return None, NO_MATPLOTLIB
    largest = max((p.size_bytes for p in drawn if math.isfinite(p.size_bytes)), default=0.0)
    areas = [40 + 200 * p.size_bytes / largest if largest and math.isfinite(p.size_bytes) else 40 for p in drawn]
    front = [p for p in pareto_front([d.point for d in found]) if p in drawn]
    figure, axes = plt.subplots(figsize=(8, 5))
    draw_front(axes, list(zip(drawn, areas, strict=True)), front)
    axes.set_xlabel("latency per input, µs (median)")
    axes.set_ylabel("top-1 agreement with the reference (else worst cosine)")
    axes.set_title(f"{title}: Pareto front in orange, marker area = artifact size")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue().decode("utf-8")
    return svg[svg.index("<svg") :], note


def _label(result_id: int, record: ResultRecord, batch: int) -> str:
    optimization = record.job.optimization
    settings = ", ".join(f"{k}={v}" for k, v in sorted(record.job.settings.items()))
    name = f"#{result_id} {record.job.framework} {optimization.method if optimization else 'fp32'} [{settings}]"
    return name + (f" batch {batch}" if batch != 1 else "")


def _size(size_bytes: int) -> str:
    if size_bytes < 1000:
        return f"{size_bytes} B"
    return f"{size_bytes / 1e3:.1f} kB" if size_bytes < 1e6 else f"{size_bytes / 1e6:.2f} MB"


def _fidelity(record: ResultRecord) -> str:
    fidelity = record.fidelity
    figure = fidelity_figure(record)
    if fidelity is None or figure is None:
        return "n/a"
    if fidelity.top1_agreement is not None:
        return f"{figure:.4f} top-1"
    return f"{figure:.6f} cosine"
