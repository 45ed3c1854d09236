"""A target as the performance models see it: for one precision and the units a framework can use, the
peak throughput and memory bandwidth the catalog gives, or which figure is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploybench.catalog.schemas import Target
from deploybench.catalog.schemas.target import ProcessingUnit, UnitKind

PEAK_FIELD = {"fp32": "fp32_gflops", "fp16": "fp16_gflops", "int8": "int8_gops"}
"""The catalog's peak figure for each precision."""

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}
"""Size of one tensor element at each precision: traffic is scaled from the FP32 anatomy by it."""


@dataclass(frozen=True)
class Hardware:
    """The figures a roofline needs, for one unit group of one target at one precision."""

    target: str
    unit: UnitKind
    unit_index: int
    precision: str
    peak_ops_per_s: float
    bandwidth_bytes_per_s: float

    def describe(self) -> dict[str, str]:
        """The figures, in words, for an estimate's inputs."""
        return {
            "target": self.target,
            "unit": f"processing_units.{self.unit_index} ({self.unit.value})",
            "precision": self.precision,
            "peak": f"{self.peak_ops_per_s / 1e9:g} G{'FLOP' if self.precision != 'int8' else 'OP'}/s",
            "bandwidth": f"{self.bandwidth_bytes_per_s / 1e9:g} GB/s",
        }


@dataclass(frozen=True)
class Missing:
    """Why a target cannot be modelled: the figure that is missing, as a dotted catalog path."""

    target: str
    figure: str

    def __str__(self) -> str:
        return f"target `{self.target}` has no `{self.figure}` in its catalog entry"


def hardware_for(
    target: Target, units: Sequence[UnitKind], precision: str, threads: int | None = None
) -> Hardware | Missing:
    """The fastest unit group of the target a framework running on `units` can use at `precision`, with its
    peak (a CPU's scaled to `threads` of its cores) and the target's memory bandwidth; the missing figure when
    the catalog lacks one."""
    field = PEAK_FIELD[precision]
    usable = [(index, unit) for index, unit in enumerate(target.processing_units) if not units or unit.kind in units]
    if not usable:
        kinds = ", ".join(kind.value for kind in units)
        return Missing(target.name, f"processing_units (a {kinds} unit)")
    rated = [(index, unit, getattr(unit.peak, field)) for index, unit in usable]
    known = [(index, unit, peak) for index, unit, peak in rated if peak is not None]
    if not known:
        return Missing(target.name, f"processing_units.{usable[0][0]}.peak.{field}")
    index, unit, peak = max(known, key=lambda item: item[2])
    bandwidth = _bandwidth(target, unit)
    if bandwidth is None:
        return Missing(target.name, "memory.bandwidth_gbps")
    if threads is not None and unit.kind is UnitKind.CPU:
        if unit.count is None:
            return Missing(target.name, f"processing_units.{index}.count")
        peak *= min(threads, unit.count) / unit.count
    return Hardware(target.name, unit.kind, index, precision, peak * 1e9, bandwidth * 1e9)


def _bandwidth(target: Target, unit: ProcessingUnit) -> float | None:
    """Main-memory bandwidth, else the fastest on-chip memory for a unit that has no main memory (an MCU)."""
    if target.memory.bandwidth_gbps is not None:
        return target.memory.bandwidth_gbps
    on_chip = [memory.bandwidth_gbps for memory in target.soc.on_chip_memory if memory.bandwidth_gbps is not None]
    return max(on_chip) if on_chip and unit.kind is UnitKind.MCU else None
