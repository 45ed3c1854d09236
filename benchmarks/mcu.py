"""The zoo's small models as Cortex-M7 firmware, measured in one run: for each model and each MCU code path
here (Aidge's C++ export at -O2 and -Os, emlearn's C at -O2), built and run on QEMU's emulated Cortex-M7
through the worker like any job: flash and RAM (whole firmware and the model's own share), instructions per
inference, fidelity against the FP32 reference (max abs error, top-1 agreement), whether it fits the catalog's
STM32's RAM, and each failure's reason; side by side as ratios: -Os over -O2 (Aidge), emlearn over Aidge (both
-O2). For each model whose zoo entry ships labelled rows, Aidge's int8 firmware (`optimize --method ptq-int8`,
100 calibration rows) against the FP32 firmware on the same 200 other rows, as ratios with both fidelities.
Printed and saved to results/mcu.json.

Usage: python benchmarks/mcu.py [--models digits-cnn,dqn,...] [--count 16] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

MODELS = "digits-cnn,dqn,ppo,a2c,snn-lenet-surrogate,snn-lenet-ann2snn,snn-lenet-stdp,mobilenetv3-small"
PATHS = (
    ("aidge-cortexm", {"optimization": "O2"}),
    ("aidge-cortexm", {"optimization": "Os"}),
    ("emlearn-cortexm", {"optimization": "O2"}),
)
STM32 = "stm32-cortex-m7"


def main() -> None:
    """Build, run and compare every model on every path; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--count", type=int, default=16, help="Inputs per model (random unless the zoo ships data).")
    parser.add_argument("--out", type=Path, default=Path("results/mcu.json"))
    args = parser.parse_args()

    from deploybench.catalog import load_catalog
    from deploybench.catalog.local import detect_local_machine

    ram_kib = _stm32_ram_kib(load_catalog().targets[STM32])
    rows, int8 = [], []
    for name in args.models.split(","):
        for framework, settings in PATHS:
            rows.append(_measure(name, framework, settings, args.count, ram_kib))
            print(json.dumps(rows[-1]))
        quantized = _int8(name, ram_kib)
        if quantized is not None:
            int8.append(quantized)
            print(json.dumps(quantized))
    result = {
        "machine": detect_local_machine().cpu_model,
        "stm32_ram_kib": ram_kib,
        "stm32_flash_kib": None,
        "stm32_note": "the catalog's STM32 names no part, so its flash is unknown; RAM is the definition's 564 KiB",
        "rows": rows,
        "os_over_o2": _ratios(rows, "aidge-cortexm O2", "aidge-cortexm Os"),
        "emlearn_over_aidge": _ratios(rows, "aidge-cortexm O2", "emlearn-cortexm O2"),
        "aidge_int8_over_fp32": int8,
        "most_room": _most_room(
            rows + [q | q["int8"] | {"path": "aidge-cortexm ptq-int8"} for q in int8 if q["status"] == "ok"]
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    print(f"saved {args.out}")


def _measure(name: str, framework: str, settings: dict[str, Any], count: int, ram_kib: float | None) -> dict[str, Any]:
    """One model on one path through a worker process: its firmware figures, or why it failed."""
    from deploybench.campaign.plan import model_ref
    from deploybench.core.records import InputData, JobSpec, StoppingRule
    from deploybench.worker.launcher import run_in_worker
    from deploybench.zoo.build import build_model

    started = time.perf_counter()
    artifact = build_model(name, "onnx")
    data_file = Path(artifact.path).with_name(f"{name}-data.npz")
    data = InputData(source="npz", path=str(data_file), count=count) if data_file.is_file() else InputData(count=count)
    job = JobSpec(
        model=model_ref(Path(artifact.path)),
        framework=framework,
        settings=settings,
        stopping=StoppingRule(),
        data=data,
        timeout_s=1800,
    )
    record = run_in_worker(job)
    row: dict[str, Any] = {
        "model": name,
        "path": f"{framework} {settings['optimization']}",
        "wall_s": time.perf_counter() - started,
    }
    return row | _figures(record, ram_kib)


def _figures(record: Any, ram_kib: float | None) -> dict[str, Any]:
    """A firmware result's figures (or why it failed): instructions, memory, room left on the STM32, fidelity."""
    if record.failure is not None or record.emulation is None:
        reason = record.failure.message if record.failure else "no emulation figures"
        return {"status": "failed", "reason": reason}
    emulation, fidelity = record.emulation, record.fidelity
    ram = emulation.ram_bytes / 1024
    return {
        "status": "ok",
        "instructions_median": emulation.instructions_median,
        "instructions_resolution": emulation.resolution_instructions,
        "flash_kib": emulation.flash_bytes / 1024,
        "model_flash_kib": emulation.model_flash_bytes / 1024,
        "ram_kib": ram,
        "stack_peak_kib": emulation.stack_peak_bytes / 1024,
        "fits_stm32_ram": None if ram_kib is None else ram <= ram_kib,
        "stm32_ram_room_kib": None if ram_kib is None else ram_kib - ram,
        "max_abs_error": max((o.max_abs_error for o in fidelity.outputs), default=None) if fidelity else None,
        "top1_agreement": fidelity.top1_agreement if fidelity else None,
        "accuracy": fidelity.accuracy if fidelity else None,
        "job_s": None
        if record.provenance is None
        else (record.provenance.finished_at - record.provenance.started_at).total_seconds(),
    }


def _int8(name: str, ram_kib: float | None) -> dict[str, Any] | None:
    """Aidge's int8 firmware against its FP32 firmware on the same evaluation rows (None: no rows shipped)."""
    from deploybench.campaign.optimization import evaluation_jobs, optimize_model, plan_data
    from deploybench.campaign.plan import model_ref
    from deploybench.core.records import StoppingRule
    from deploybench.optimize.data import load_rows, split_rows
    from deploybench.worker.launcher import run_in_worker
    from deploybench.worker.placement import Placer
    from deploybench.zoo.build import build_model

    artifact = build_model(name, "onnx")
    data_file = Path(artifact.path).with_name(f"{name}-data.npz")
    if not data_file.is_file():
        return None
    rows = load_rows(data_file)
    plan = plan_data(rows, split_rows(rows, 100, 200))
    source = model_ref(Path(artifact.path))
    started = time.perf_counter()
    try:
        entry = optimize_model(source, "aidge-cortexm", "ptq-int8", {}, plan, Placer())
    except Exception as exc:  # a failure to quantize is a figure of this benchmark, not its end
        return {"model": name, "status": "failed", "reason": str(exc)}
    quantize_s = time.perf_counter() - started
    pair = [run_in_worker(job) for job in evaluation_jobs(source, entry, plan.evaluation, {}, StoppingRule())]
    found = [_figures(record, ram_kib) for record in pair]
    if any(figures["status"] != "ok" for figures in found):
        return {"model": name, "status": "failed", "fp32": found[0], "int8": found[1]}
    fp32, int8 = found
    return {
        "model": name,
        "status": "ok",
        "rows": plan.evaluation.samples,
        "quantize_s": quantize_s,
        "fp32": fp32,
        "int8": int8,
        "instructions": int8["instructions_median"] / fp32["instructions_median"],
        "flash": int8["flash_kib"] / fp32["flash_kib"],
        "model_flash": int8["model_flash_kib"] / fp32["model_flash_kib"],
        "ram": int8["ram_kib"] / fp32["ram_kib"],
    }


def _stm32_ram_kib(target: Any) -> float | None:
    """The catalog STM32's on-chip RAM, KiB."""
    sizes = [m.size_kib for m in target.soc.on_chip_memory if "RAM" in m.kind and m.size_kib is not None]
    return float(sizes[0]) if sizes else None


def _ratios(rows: list[dict[str, Any]], base: str, other: str) -> list[dict[str, Any]]:
    """Per model that both paths ran, the other path over the base: instructions, flash, the model's flash, RAM."""
    found = {(r["model"], r["path"]): r for r in rows if r["status"] == "ok"}
    ratios = []
    for model in dict.fromkeys(r["model"] for r in rows):
        a, b = found.get((model, base)), found.get((model, other))
        if a and b:
            ratios.append(
                {
                    "model": model,
                    "instructions": b["instructions_median"] / a["instructions_median"],
                    "flash": b["flash_kib"] / a["flash_kib"],
                    "model_flash": b["model_flash_kib"] / a["model_flash_kib"],
                    "ram": b["ram_kib"] / a["ram_kib"],
                }
            )
    return ratios


def _most_room(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model, of the paths that agree with the reference's top-1 on every input, the one that leaves the
    STM32 the most RAM (flash unknown), and the median over models."""
    best: dict[str, Any] = {}
    for row in rows:
        agrees = row.get("top1_agreement") == 1.0
        if row["status"] == "ok" and agrees and row["stm32_ram_room_kib"] is not None:
            current = best.get(row["model"])
            if current is None or row["stm32_ram_room_kib"] > current["stm32_ram_room_kib"]:
                best[row["model"]] = {"path": row["path"], "stm32_ram_room_kib": row["stm32_ram_room_kib"]}
    rooms = [v["stm32_ram_room_kib"] for v in best.values()]
    return {"per_model": best, "median_room_kib": statistics.median(rooms) if rooms else None}


if __name__ == "__main__":
    main()
