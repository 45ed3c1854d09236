"""The targets the performance models know: the catalog's, and this machine as `local` with the peaks
measured here (throughput and bandwidth the catalog cannot hold for a machine it only detects)."""

from __future__ import annotations

from deploybench.catalog import Catalog
from deploybench.catalog.local.detect import LOCAL_TARGET_NAME, LocalMachine
from deploybench.catalog.schemas import Source, Target
from deploybench.measure.peaks import Peaks


def local_target(machine: LocalMachine, peaks: Peaks | None) -> Target:
    """This machine as a target; with its measured FP32 peak (per thread times physical cores) and copy
    bandwidth when they were measured."""
    target = machine.to_target()
    if peaks is None or not target.processing_units:
        return target
    unit = target.processing_units[0]
    cores = unit.count or 1
    measured = unit.model_copy(
        update={"peak": unit.peak.model_copy(update={"fp32_gflops": peaks.fp32_gflops_per_thread * cores})}
    )
    source = Source(
        id="measured-peaks",
        title=f"Measured by deploybench predict fit ({peaks.method}); FP32 peak: one thread's times {cores} cores",
        covers=("processing_units.0.peak", "memory.bandwidth_gbps"),
    )
    return target.model_copy(
        update={
            "processing_units": (measured, *target.processing_units[1:]),
            "memory": target.memory.model_copy(update={"bandwidth_gbps": peaks.bandwidth_gbps}),
            "sources": (*target.sources, source),
        }
    )


def known_targets(catalog: Catalog, machine: LocalMachine, peaks: Peaks | None) -> dict[str, Target]:
    """Every catalog target and this machine, by name."""
    return {**catalog.targets, LOCAL_TARGET_NAME: local_target(machine, peaks)}


def fingerprints(targets: dict[str, Target]) -> dict[str, str]:
    """Target name by hardware fingerprint, for the targets that have one."""
    return {target.fingerprint: name for name, target in targets.items() if target.fingerprint}
