"""The zoo's spiking LeNets on the spiking runtimes, measured in one run: each network NIR can describe is exported
to NIR (what the export costs against the trained network, as the zoo measures it: the NIR reference's top-1
agreement and largest difference on 200 held-out digits), then each runtime (snnTorch, norse, SpikingJelly, in
the `pytorch` toolchain) imports the same graph and runs the same held-out digits through a worker like any job:
its fidelity against the NIR reference, its accuracy on the digits' labels, its latency per inference (all time
steps), or why it failed; side by side as latency ratios over SpikingJelly's. The networks NIR cannot describe
are listed with the reason. Printed and saved to results/spiking.json.

Usage: python benchmarks/spiking.py [--rows 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deploybench.core.records import Fidelity

MODELS = ("snn-lenet-ann2snn", "snn-lenet-surrogate", "snn-lenet-stdp")
RUNTIMES = ("snntorch", "norse", "spikingjelly")
BASE = "spikingjelly"


def main() -> None:
    """Export, run and compare; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="Held-out digits per runtime.")
    parser.add_argument("--out", type=Path, default=Path("results/spiking.json"))
    args = parser.parse_args()

    from deploybench.catalog.local import detect_local_machine

    exports, runs = [], []
    for name in MODELS:
        exported = _export(name)
        exports.append(exported)
        print(json.dumps(exported))
        if exported["status"] != "ok":
            continue
        for framework in RUNTIMES:
            runs.append(_run(name, Path(exported["path"]), framework, args.rows))
            print(json.dumps(runs[-1]))
    result = {
        "machine": detect_local_machine().cpu_model,
        "exports": exports,
        "runs": runs,
        "latency_over_spikingjelly": _ratios(runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result["latency_over_spikingjelly"], indent=2))
    print(f"saved {args.out}")


def _export(name: str) -> dict[str, Any]:
    """The model's NIR export and its cost as the zoo recorded it, or why NIR cannot describe it."""
    from deploybench.core.errors import DeploybenchError
    from deploybench.zoo.build import build_model

    started = time.perf_counter()
    try:
        artifact = build_model(name, "nir")
    except DeploybenchError as exc:
        return {"model": name, "status": "refused", "reason": exc.message}
    return {
        "model": name,
        "status": "ok",
        "path": artifact.path,
        "exporter": artifact.built.exporter,
        "trained_metrics": artifact.built.metrics,
        "wall_s": time.perf_counter() - started,
    }


def _run(name: str, model: Path, framework: str, rows: int) -> dict[str, Any]:
    """One runtime on the model's held-out digits, through a worker of the environment that hosts it."""
    from deploybench.campaign.plan import model_ref
    from deploybench.core.records import InputData, JobSpec, StoppingRule
    from deploybench.worker.launcher import run_in_worker
    from deploybench.worker.placement import Placer

    environment, status = Placer().place(framework, "nir")
    row: dict[str, Any] = {"model": name, "framework": framework}
    if environment is None:
        return row | {"status": "unavailable", "reason": status.reason}
    data = model.with_name(f"{name}-data.npz")
    job = JobSpec(
        model=model_ref(model),
        framework=framework,
        stopping=StoppingRule(min_samples=30, max_duration_s=10.0),
        data=InputData(source="npz", path=str(data), count=rows),
        timeout_s=1800,
    )
    record = run_in_worker(job, python=environment.python, env=environment.worker_env())
    if record.failure is not None:
        return row | {"status": "failed", "phase": record.failure.phase, "reason": record.failure.message}
    fidelity, latency = record.fidelity, record.measurements[0].summary
    return row | {
        "status": "ok",
        "converter": record.provenance.converter if record.provenance else None,
        "version": record.provenance.framework_version if record.provenance else None,
        "median_ms": latency.median_us / 1e3,
        "p99_ms": latency.p99_us / 1e3,
        "samples": latency.count,
        **fidelity_summary(fidelity),
    }


def fidelity_summary(fidelity: Fidelity | None) -> dict[str, Any]:
    """A result's fidelity in a few numbers: reference, rows, top-1 agreement, worst error, accuracies."""
    return {
        "reference": fidelity.reference if fidelity else None,
        "rows": fidelity.inputs if fidelity else None,
        "top1_agreement": fidelity.top1_agreement if fidelity else None,
        "max_abs_error": max((o.max_abs_error for o in fidelity.outputs), default=None) if fidelity else None,
        "accuracy": fidelity.accuracy if fidelity else None,
        "reference_accuracy": fidelity.reference_accuracy if fidelity else None,
    }


def _ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and runtime that ran, its median latency over SpikingJelly's on the same graph and rows."""
    base = {r["model"]: r for r in runs if r["framework"] == BASE and r["status"] == "ok"}
    return [
        {"model": r["model"], "framework": r["framework"], "median": r["median_ms"] / base[r["model"]]["median_ms"]}
        for r in runs
        if r["status"] == "ok" and r["model"] in base
    ]


if __name__ == "__main__":
    main()
