"""Stored results as rows of text: the side-by-side tables of `results list` and `run`."""

from __future__ import annotations

from collections.abc import Sequence

from deploybench.core.records import Emulation, Measurement, ResultRecord, Simulation

SUMMARY_COLUMNS = (
    "id",
    "status",
    "framework",
    "settings",
    "scenario",
    "batch",
    "median_us",
    "p99_us",
    "ci_pct",
    "cv",
    "determinism",
    "per_s",
    "cosine",
    "top1_agree",
    "accuracy",
    "note",
)


def summary_rows(results: Sequence[tuple[int, ResultRecord]]) -> list[dict[str, str]]:
    """One row per measurement of each result (one row for a failed result)."""
    rows = []
    for result_id, record in results:
        base = {
            "id": str(result_id),
            "status": record.status.value,
            "framework": record.job.framework,
            "settings": ", ".join(f"{k}={v}" for k, v in sorted(record.job.settings.items())),
            "scenario": record.job.scenario.kind.value,
        }
        off_host = off_host_summary(record)
        if off_host is not None:
            rows.append({c: "" for c in SUMMARY_COLUMNS} | base | _off_host(record, off_host))
            continue
        if not record.measurements:
            failure = record.failure
            note = f"{failure.phase}: {failure.message}" if failure else ""
            rows.append({c: "" for c in SUMMARY_COLUMNS} | base | {"note": note})
            continue
        for measurement in record.measurements:
            rows.append({c: "" for c in SUMMARY_COLUMNS} | base | _measured(record, measurement))
    return rows


def emulation_summary(emulation: Emulation) -> str:
    """A firmware's figures in a line: instructions per inference and the memory it takes."""
    return (
        f"emulated {emulation.core}: {emulation.instructions_median:,.0f} instructions "
        f"(±{emulation.resolution_instructions:g}), flash {emulation.flash_bytes / 1024:.1f} KiB "
        f"(model {emulation.model_flash_bytes / 1024:.1f}), RAM {emulation.ram_bytes / 1024:.1f} KiB"
    )


def simulation_summary(simulation: Simulation) -> str:
    """A simulated design's line: the simulator, its number type, and what it does not measure."""
    return f"simulated ({simulation.simulator}), {simulation.precision}; not measured: {simulation.not_measured}"


def off_host_summary(record: ResultRecord) -> str | None:
    """The line of a result run on an emulated board or in a simulated design; None for one run on the host."""
    if record.emulation is not None:
        return emulation_summary(record.emulation)
    if record.simulation is not None:
        return simulation_summary(record.simulation)
    return None


def _off_host(record: ResultRecord, summary: str) -> dict[str, str]:
    """A firmware's or simulated design's row: no host time, its figures in the note, its fidelity."""
    return {"batch": "1", **_fidelity_columns(record), "note": summary}


def _fidelity_columns(record: ResultRecord) -> dict[str, str]:
    fidelity = record.fidelity
    cosine = min((o.cosine_similarity for o in fidelity.outputs), default=None) if fidelity else None
    return {
        "cosine": "" if cosine is None else f"{cosine:.6f}",
        "top1_agree": _share(fidelity.top1_agreement if fidelity else None),
        "accuracy": _share(fidelity.accuracy if fidelity else None),
    }


def _measured(record: ResultRecord, m: Measurement) -> dict[str, str]:
    s = m.summary
    half_width = max(s.median_us - s.median_ci_low_us, s.median_ci_high_us - s.median_us)
    return {
        "batch": str(m.batch_size),
        "median_us": f"{s.median_us:.1f}",
        "p99_us": f"{s.p99_us:.1f}",
        "ci_pct": f"±{100 * half_width / s.median_us:.2f}",
        "cv": f"{s.cv:.3f}",
        "determinism": m.determinism.verdict,
        "per_s": f"{m.throughput_per_s:.1f}",
        **_fidelity_columns(record),
        "note": f"{len(record.warnings)} warning(s)" if record.warnings else "",
    }


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def loadgen_rows(results: Sequence[tuple[int, ResultRecord]]) -> list[dict[str, str]]:
    """For each result LoadGen also measured: deploybench's and LoadGen's median and p90 side by side, as ratios."""
    rows = []
    for result_id, record in results:
        run = record.loadgen
        if run is None or not record.measurements:
            continue
        ours = record.measurements[0].summary
        rows.append(
            {
                "id": str(result_id),
                "framework": record.job.framework,
                "scenario": run.scenario.value,
                "median_us": f"{ours.median_us:.1f}",
                "loadgen median_us": _micro(run.median_us),
                "median ratio": _ratio(run.median_us, ours.median_us),
                "p90_us": f"{ours.p90_us:.1f}",
                "loadgen p90_us": _micro(run.p90_us),
                "p90 ratio": _ratio(run.p90_us, ours.p90_us),
                "loadgen samples/s": "" if run.samples_per_s is None else f"{run.samples_per_s:.1f}",
                "loadgen verdict": "VALID" if run.valid else "INVALID",
            }
        )
    return rows


def _micro(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _ratio(loadgen: float | None, ours: float) -> str:
    """LoadGen's figure over deploybench's."""
    return "" if loadgen is None or ours <= 0 else f"{loadgen / ours:.3f}"
