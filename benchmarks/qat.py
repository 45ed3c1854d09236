"""Quantization-aware training for an FPGA, measured in one run: the zoo's digits CNN trained again with Brevitas
at several bit widths (W8A8, W6A6, W4A4: power-of-two scales, integer biases), each exported to QONNX; for each,
its accuracy on the 450 held-out digits against the FP32 network's and QONNX's count of its bit operations and
weight memory (as the zoo measures them), and hls4ml's
C simulation of the design on the same digits, through a worker like any job: its agreement with the QONNX
reference and its accuracy. Beside them, the FP32 ONNX network on hls4ml with its default fixed<16,6> types
(fixed point chosen after training, no QAT). Side by side as accuracy ratios over the FP32 network's, and bit
operations and weight memory over W8A8's. Latency and
FPGA resources are not measured (they need Vitis HLS synthesis). Printed and saved to results/qat.json.

Usage: python benchmarks/qat.py [--bits 8,6,4] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from spiking import fidelity_summary

BASE_MODEL = "digits-cnn"


def main() -> None:
    """Train, export, simulate and compare; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", default="8,6,4", help="Bit widths (weights and activations alike), comma-joined.")
    parser.add_argument("--out", type=Path, default=Path("results/qat.json"))
    args = parser.parse_args()

    from deploybench.catalog.local import detect_local_machine
    from deploybench.zoo.recipe import RECIPES_ENV, recipe

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base = recipe(BASE_MODEL).model_dump(mode="json")
        for bits in (int(b) for b in args.bits.split(",")):
            name = f"{BASE_MODEL}-w{bits}a{bits}"
            qat = {**base["qat"], "weight_bits": bits, "activation_bits": bits}
            (Path(folder) / f"{name}.yaml").write_text(yaml.safe_dump({**base, "name": name, "qat": qat}))
        os.environ[RECIPES_ENV] = folder
        from deploybench.zoo.recipe import recipes

        for name in sorted(n for n in recipes() if n.startswith(f"{BASE_MODEL}-w")):
            rows.append(_qat(name))
            print(json.dumps(rows[-1]))
        rows.append(_fixed_point_after_training())
        print(json.dumps(rows[-1]))
        del os.environ[RECIPES_ENV]
    fp32 = next((r["fp32_accuracy"] for r in rows if r.get("fp32_accuracy") is not None), None)
    result = {
        "machine": detect_local_machine().cpu_model,
        "model": BASE_MODEL,
        "rows": rows,
        "bops_over_w8a8": _bops_ratios(rows),
        "hls4ml_accuracy_over_fp32": [
            {"variant": r["variant"], "ratio": r["hls4ml"]["accuracy"] / fp32}
            for r in rows
            if fp32 and r["hls4ml"].get("accuracy") is not None
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result["hls4ml_accuracy_over_fp32"], indent=2))
    print(f"saved {args.out}")


def _bops_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each QAT variant's bit operations and weight memory over W8A8's, as QONNX counts them."""
    base = next((r for r in rows if r["variant"].endswith("-w8a8") and r.get("qonnx_bops")), None)
    if base is None:
        return []
    return [
        {
            "variant": r["variant"],
            "bops": r["qonnx_bops"] / base["qonnx_bops"],
            "weight_bits": r["qonnx_weight_bits"] / base["qonnx_weight_bits"],
        }
        for r in rows
        if r.get("qonnx_bops")
    ]


def _qat(name: str) -> dict[str, Any]:
    """One bit width: the QAT export as the zoo recorded it, and hls4ml on its held-out digits."""
    from deploybench.zoo.build import build_model, held_out_data

    started = time.perf_counter()
    artifact = build_model(name, "qonnx")
    metrics = artifact.built.metrics
    return {
        "variant": name,
        "exporter": artifact.built.exporter,
        "export_wall_s": time.perf_counter() - started,
        "fp32_accuracy": metrics.get("fp32_held_out_accuracy"),
        "qat_accuracy": metrics.get("qat_held_out_accuracy"),
        "qonnx_vs_brevitas_max_abs_difference": metrics.get("qonnx_max_abs_difference"),
        "qonnx_macs": metrics.get("qonnx_macs"),
        "qonnx_bops": metrics.get("qonnx_bops"),
        "qonnx_weight_bits": metrics.get("qonnx_weight_bits"),
        "hls4ml": _simulate(Path(artifact.path), held_out_data(artifact)),
    }


def _fixed_point_after_training() -> dict[str, Any]:
    """The FP32 ONNX network on hls4ml at its default fixed-point types, against the FP32 reference."""
    from deploybench.zoo.build import build_model, held_out_data

    artifact = build_model(BASE_MODEL, "onnx")
    return {
        "variant": f"{BASE_MODEL} FP32 ONNX, hls4ml fixed<16,6>",
        "hls4ml": _simulate(Path(artifact.path), held_out_data(artifact)),
    }


def _simulate(model: Path, data: Path | None) -> dict[str, Any]:
    """hls4ml's C simulation of the model on every held-out digit, in a worker; its fidelity or why it failed."""
    from deploybench.campaign.plan import model_ref
    from deploybench.core.records import InputData, JobSpec
    from deploybench.worker.launcher import run_in_worker

    if data is None:
        return {"status": "failed", "reason": "no held-out digits beside the model"}
    job = JobSpec(
        model=model_ref(model),
        framework="hls4ml",
        data=InputData(source="npz", path=str(data), count=450),
        timeout_s=1800,
    )
    started = time.perf_counter()
    record = run_in_worker(job)
    if record.failure is not None:
        return {"status": "failed", "phase": record.failure.phase, "reason": record.failure.message}
    return {
        "status": "ok",
        "simulator": record.simulation.simulator if record.simulation else None,
        "prepare_s": record.simulation.prepare_s if record.simulation else None,
        "wall_s": time.perf_counter() - started,
        **fidelity_summary(record.fidelity),
    }


if __name__ == "__main__":
    main()
