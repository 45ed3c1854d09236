"""Memory fit and energy: weights + peak activations + the framework's runtime overhead against the target's
memory (RAM, and flash for microcontrollers), and energy per inference from the predicted time and the
target's power envelope, marked as an estimate."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from deploybench.analyze.records import Anatomy
from deploybench.catalog.schemas import Target
from deploybench.catalog.schemas.target import UnitKind
from deploybench.select.estimate import Basis, Estimate, unknown
from deploybench.select.hardware import BYTES_PER_ELEMENT
from deploybench.select.observations import Observation

MB = 1e6


@dataclass(frozen=True)
class Fit:
    """Whether the deployment fits in the target's memory, and the figures compared."""

    fits: bool | None
    detail: str


def runtime_overhead_mb(framework: str, observations: Sequence[Observation]) -> float | None:
    """The framework's memory beyond weights and activations: the median over its measurements of peak
    resident memory minus the model's weights and peak activations; None without a measurement."""
    extra = [
        (o.peak_rss_bytes - _model_bytes(o.anatomy, o.precision)) / MB
        for o in observations
        if o.framework == framework and o.peak_rss_bytes is not None
    ]
    return statistics.median(extra) if extra else None


def _model_bytes(anatomy: Anatomy, precision: str) -> float:
    """Weights and peak activations at the precision, bytes (scaled from the FP32 anatomy)."""
    scale = BYTES_PER_ELEMENT[precision] / BYTES_PER_ELEMENT["fp32"]
    return (anatomy.memory.weights_bytes + (anatomy.memory.peak_activation_bytes or 0)) * scale


def memory_estimate(anatomy: Anatomy, precision: str, framework: str, observations: Sequence[Observation]) -> Estimate:
    """Memory of one deployment in MB: a prediction with the measured runtime overhead, else a lower bound."""
    model_mb = _model_bytes(anatomy, precision) / MB
    overhead = runtime_overhead_mb(framework, observations)
    scale = BYTES_PER_ELEMENT[precision] / BYTES_PER_ELEMENT["fp32"] / MB
    inputs = {
        "weights": f"{anatomy.memory.weights_bytes * scale:.4g} MB",
        "peak activations": f"{(anatomy.memory.peak_activation_bytes or 0) * scale:.4g} MB",
    }
    if overhead is None:
        inputs["runtime overhead"] = f"unknown: {framework} was never measured here"
        return Estimate(
            value=model_mb, low=model_mb, high=None, unit="MB", basis=Basis.BOUND, model="memory", inputs=inputs
        )
    inputs["runtime overhead"] = f"{overhead:.4g} MB (median of {framework}'s measured peak RSS beyond the model)"
    total = model_mb + max(overhead, 0.0)
    return Estimate(
        value=total, low=model_mb, high=None, unit="MB", basis=Basis.PREDICTED, model="memory", inputs=inputs
    )


def memory_fit(anatomy: Anatomy, precision: str, memory: Estimate, target: Target) -> Fit:
    """Whether the model fits: a microcontroller's flash must hold the weights and its RAM the activations;
    any other target's RAM the whole deployment."""
    scale = BYTES_PER_ELEMENT[precision] / BYTES_PER_ELEMENT["fp32"]
    if any(unit.kind is UnitKind.MCU for unit in target.processing_units) and target.memory.size_gb is None:
        ram = sum(m.size_kib or 0 for m in target.soc.on_chip_memory if "ram" in m.kind.lower()) * 1024
        flash = sum(m.size_kib or 0 for m in target.soc.on_chip_memory if "flash" in m.kind.lower()) * 1024
        weights = anatomy.memory.weights_bytes * scale
        activations = (anatomy.memory.peak_activation_bytes or 0) * scale
        if not ram:
            return Fit(None, f"target `{target.name}` has no RAM size in soc.on_chip_memory")
        if flash and weights > flash:
            return Fit(False, f"weights {weights / 1024:.0f} KiB > flash {flash / 1024:.0f} KiB")
        if not flash and weights + activations > ram:
            return Fit(
                False, f"weights + activations {(weights + activations) / 1024:.0f} KiB > RAM {ram / 1024:.0f} KiB"
            )
        if activations > ram:
            return Fit(False, f"activations {activations / 1024:.0f} KiB > RAM {ram / 1024:.0f} KiB")
        return Fit(True, f"{activations / 1024:.0f} KiB of {ram / 1024:.0f} KiB RAM")
    size_gb = target.memory.size_gb or target.som.memory_gb
    if size_gb is None:
        return Fit(None, f"target `{target.name}` has no memory.size_gb")
    need = memory.value or 0.0
    have = size_gb * 1e3
    if need > have:
        return Fit(False, f"needs {need:.0f} MB > {have:.0f} MB of RAM")
    return Fit(True, f"{need:.0f} MB of {have:.0f} MB")


def power_range(target: Target) -> tuple[float, float] | None:
    """The board's power under load, watts: the typical/max envelope, else the board's stated range."""
    if target.power.typical_w is not None:
        return target.power.typical_w, target.power.max_w or target.power.typical_w
    if target.som.power_w is not None:
        return target.som.power_w.min, target.som.power_w.max
    return None


def energy_estimate(latency: Estimate, target: Target) -> Estimate:
    """Energy of one inference in mJ: predicted time times the board's power range (an estimate, not a
    measurement); unknown without a latency or a power figure."""
    power = power_range(target)
    if latency.value is None:
        return unknown("mJ", "energy", f"latency unknown: {latency.reason}")
    if power is None:
        return unknown("mJ", "energy", f"target `{target.name}` has no power.typical_w or som.power_w")
    low_w, high_w = power
    middle = (low_w + high_w) / 2
    return Estimate(
        value=latency.value * middle,
        low=(latency.low if latency.low is not None else latency.value) * low_w,
        high=None if latency.high is None else latency.high * high_w,
        unit="mJ",
        basis=Basis.PREDICTED if latency.basis is Basis.PREDICTED else Basis.BOUND,
        model="energy",
        inputs={"latency": f"{latency.value:.4g} ms ({latency.model})", "power": f"{low_w:g}-{high_w:g} W"},
    )
