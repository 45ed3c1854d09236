"""What an optimization costs and gains, as table rows: an optimized deployment beside its FP32 one on the same
framework and rows (latency, size and memory ratios, accuracy and its drop, agreement, output errors), and the
tensors where its outputs start to drift from the FP32 model's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import Emulation, LayerDivergence, Optimization, ResultRecord, Status
from deploybench.optimize.pareto import Outcome, Point, pareto_front
from deploybench.report.compare import compare
from deploybench.report.plotting import pyplot

DRIFT_SQNR_DB = 30.0
"""A tensor below this signal to quantization noise ratio (about 3 % RMS error) is where divergence shows."""


def describe(optimization: Optimization) -> str:
    """The method, its options and the tool, in one line."""
    options = ", ".join(f"{k}={v}" for k, v in sorted(optimization.options.items()))
    calibration = f"; {optimization.calibration.samples} calibration rows" if optimization.calibration else ""
    return (
        f"{optimization.framework} {optimization.method} ({options or 'defaults'}) by {optimization.tool}{calibration}"
    )


def fidelity_row(fp32: ResultRecord, optimized: ResultRecord) -> dict[str, str]:
    """One optimized deployment against its FP32 deployment: B/A ratios and fidelity against FP32 outputs."""
    optimization = optimized.job.optimization
    row = {
        "framework": optimized.job.framework,
        "method": optimization.method if optimization else "fp32",
    }
    if fp32.status is not Status.OK or optimized.status is not Status.OK:
        failed = optimized if optimized.status is not Status.OK else fp32
        reason = failed.failure.message if failed.failure else "failed"
        return {**row, "status": f"failed: {reason}"}
    if optimization is not None and optimization.sparsity is not None:
        row["sparsity"] = f"{optimization.sparsity:.3f}"
    if fp32.emulation is not None and optimized.emulation is not None:
        row |= _emulated_ratios(fp32.emulation, optimized.emulation)
    else:
        row |= _host_ratios(fp32, optimized)
    fidelity = optimized.fidelity
    if fidelity is None:
        return {**row, "status": "ok, fidelity not checked"}
    drop = fidelity.accuracy_drop
    outputs = fidelity.outputs
    return row | {
        "rows": str(fidelity.inputs),
        "accuracy (FP32)": (
            f"{fidelity.accuracy:.4f} ({fidelity.reference_accuracy:.4f})"
            if fidelity.accuracy is not None and fidelity.reference_accuracy is not None
            else ""
        ),
        "drop [95% CI]": (
            f"{drop.value * 100:+.2f} pt [{drop.low * 100:+.2f}, {drop.high * 100:+.2f}]" if drop is not None else ""
        ),
        "top-1 agreement": f"{fidelity.top1_agreement:.4f}" if fidelity.top1_agreement is not None else "",
        "cosine (worst output)": f"{min(o.cosine_similarity for o in outputs):.6f}",
        "max abs err": f"{max(o.max_abs_error for o in outputs):.3g}",
        "mean abs err": f"{max(o.mean_abs_error for o in outputs):.3g}",
        "status": "ok",
    }


def _host_ratios(fp32: ResultRecord, optimized: ResultRecord) -> dict[str, str]:
    """Latency (with its interval), artifact size and peak memory, optimized over FP32."""
    latency = compare(fp32, optimized)[0]
    fp32_resources, resources = fp32.resources, optimized.resources
    return {
        "latency B/A": f"{latency.ratio:.3f} [{latency.ratio_ci_low:.3f}, {latency.ratio_ci_high:.3f}]",
        "size B/A": _ratio(
            resources.artifact_size_bytes if resources else None,
            fp32_resources.artifact_size_bytes if fp32_resources else None,
        ),
        "peak memory B/A": _ratio(
            resources.peak_rss_bytes if resources else None, fp32_resources.peak_rss_bytes if fp32_resources else None
        ),
    }


def _emulated_ratios(a: Emulation, b: Emulation) -> dict[str, str]:
    """Two firmware on an emulated board: instructions per inference, flash (all, and the model's) and RAM,
    optimized (b) over FP32 (a)."""
    return {
        "instructions B/A": _ratio(b.instructions_median, a.instructions_median),
        "flash B/A": _ratio(b.flash_bytes, a.flash_bytes),
        "model flash B/A": _ratio(b.model_flash_bytes, a.model_flash_bytes),
        "RAM B/A": _ratio(b.ram_bytes, a.ram_bytes),
    }


def divergence_rows(layers: tuple[LayerDivergence, ...], limit: int = 8) -> list[dict[str, str]]:
    """The first tensor that drifts past DRIFT_SQNR_DB, then the worst tensors by SQNR, in model order."""
    noisy = [layer for layer in layers if layer.sqnr_db is not None]
    first = next((layer for layer in noisy if layer.sqnr_db is not None and layer.sqnr_db < DRIFT_SQNR_DB), None)
    worst = sorted(noisy, key=lambda layer: layer.sqnr_db if layer.sqnr_db is not None else 0.0)[:limit]
    chosen = ([first] if first is not None else []) + [layer for layer in worst if layer is not first]
    order = {layer.tensor: index for index, layer in enumerate(layers)}
    return [
        {
            "position": f"{order[layer.tensor] + 1} of {len(layers)}",
            "tensor": layer.tensor,
            "operator": layer.op_type,
            "SQNR dB": f"{layer.sqnr_db:.1f}" if layer.sqnr_db is not None else "exact",
            "cosine": f"{layer.cosine_similarity:.6f}",
            "note": "divergence enters here" if layer is first else "",
        }
        for layer in sorted(chosen[: limit + 1], key=lambda layer: order[layer.tensor])
    ]


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.3f}" if value is not None and base else ""


def search_rows(outcomes: Sequence[Outcome], front: Sequence[Point]) -> list[dict[str, str]]:
    """Every point of a search, fastest first: its figures, whether it keeps the constraints, and whether it is
    on the Pareto front."""
    on_front = {id(point) for point in front}
    ordered = sorted(outcomes, key=lambda o: o.point.latency_us if o.point else float("inf"))
    rows = []
    for outcome in ordered:
        point, fidelity = outcome.point, outcome.record.fidelity
        drop = fidelity.accuracy_drop if fidelity else None
        settings = ", ".join(f"{k}={v}" for k, v in sorted(outcome.record.job.settings.items()))
        rows.append(
            {
                "variant": outcome.variant.label,
                "settings": settings,
                "batch": str(outcome.batch),
                "us/input": f"{point.latency_us:.1f}" if point else "",
                "peak MiB": f"{point.memory_bytes / 2**20:.0f}" if point else "",
                "size MB": f"{point.size_bytes / 1e6:.2f}" if point else "",
                "fidelity": f"{point.fidelity:.4f}" if point else "",
                "acc drop pt": f"{drop.value * 100:+.2f}" if drop else "",
                "constraints": outcome.refused or "kept",
                "Pareto": "yes" if point is not None and id(point) in on_front else "",
            }
        )
    return rows


def fp32_job_key(optimized: ResultRecord) -> str | None:
    """The key of the FP32 job an optimized result is measured against: the same job on the FP32 model."""
    optimization = optimized.job.optimization
    if optimization is None:
        return None
    return optimized.job.model_copy(update={"model": optimization.source, "optimization": None}).key()


def plot_front(pairs: Sequence[tuple[ResultRecord, ResultRecord]], path: Path) -> Path:
    """A PNG of every optimized deployment against its FP32 one: latency ratio across, fidelity up, size as the
    marker's area, the Pareto front (faster and more faithful than any other) joined by a line."""
    plt = pyplot()
    points = []
    for fp32, optimized in pairs:
        fidelity = fidelity_figure(optimized)
        if fp32.status is not Status.OK or optimized.status is not Status.OK or fidelity is None:
            continue
        optimization = optimized.job.optimization
        size = _ratio_value(optimized, fp32, "artifact_size_bytes")
        memory = _ratio_value(optimized, fp32, "peak_rss_bytes")
        label = f"{optimized.job.framework} {optimization.method if optimization else 'fp32'}"
        ratio = compare(fp32, optimized)[0].ratio
        points.append((Point(label, ratio, memory, size, fidelity), size))
    if not points:
        raise ConfigurationError("no optimized result with its FP32 result to plot", hint="run deploybench optimize")
    front = pareto_front([p for p, _ in points])
    figure, axes = plt.subplots(figsize=(8, 5))
    draw_front(axes, [(point, 40 + 200 * size) for point, size in points], front)
    axes.axvline(1.0, c="grey", lw=0.5, ls="--")
    axes.set_xlabel("latency, optimized / FP32 (median)")
    axes.set_ylabel("top-1 agreement with FP32 (else worst cosine)")
    axes.set_title("optimized deployments against FP32: Pareto front in orange, marker area = size ratio")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def fidelity_figure(record: ResultRecord) -> float | None:
    """The one fidelity figure a Pareto front weighs: top-1 agreement with the reference for a classifier, else the
    worst output's cosine similarity; None when fidelity was not checked."""
    fidelity = record.fidelity
    if fidelity is None:
        return None
    if fidelity.top1_agreement is not None:
        return fidelity.top1_agreement
    return min((o.cosine_similarity for o in fidelity.outputs), default=None)


def draw_front(axes: Any, points: Sequence[tuple[Point, float]], front: Sequence[Point]) -> None:
    """Each point at its latency across and fidelity up, labelled, with the marker area given beside it; the points
    of the front in orange, joined by a line, the others in blue: the optimization report's plot and the
    dashboard's draw their fronts alike."""
    for point, area in points:
        axes.scatter(point.latency_us, point.fidelity, s=area, alpha=0.7, c="C1" if point in front else "C0")
        axes.annotate(
            point.label, (point.latency_us, point.fidelity), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    ordered = sorted(front, key=lambda p: p.latency_us)
    axes.plot([p.latency_us for p in ordered], [p.fidelity for p in ordered], c="C1", lw=1)


def _ratio_value(optimized: ResultRecord, fp32: ResultRecord, field: str) -> float:
    if optimized.resources is None or fp32.resources is None:
        return 1.0
    base = float(getattr(fp32.resources, field))
    return float(getattr(optimized.resources, field)) / base if base else 1.0
