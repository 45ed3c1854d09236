"""The measurement harness measured, side by side, in one run (results/harness.json):

1. fidelity: deploybench's median latency for an ONNX model against a bare `run_with_iobinding` loop on
   the same pre-bound inputs with the same settings (target: within 3 %); both run in alternating rounds,
   and the median of the rounds' ratios is reported, so that the machine's drift hits both sides alike;
2. overhead: the median of timing a call that does nothing, i.e. what the timed region adds per call
   (target: under 5 µs);
3. time to a stable answer: sampling time until the default stopping rule holds, for a model of about
   1 ms per inference (target: under 10 s);
4. the process boundary: wall time of a job of a fixed number of samples in a worker process against the
   same job run in this process with the runtime already imported (target: under 1 s more beyond the
   runtime's own load, which a fresh interpreter importing onnxruntime and onnx measures), also in
   alternating rounds.

Usage: python benchmarks/harness.py [--threads 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from deploybench.campaign.plan import model_ref
from deploybench.core.records import InputData, JobSpec, StoppingRule
from deploybench.measure.clock import MonotonicClock
from deploybench.measure.sampling import sample
from deploybench.worker.launcher import run_in_worker
from deploybench.worker.runner import run_job

WIDTH = 768
LAYERS = 8
FIXED_SAMPLES = 300


def mlp_model(path: Path) -> Path:
    """A seeded 8-layer 768-wide MLP (4.7 M multiply-adds): about a millisecond per inference on one core."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "input"
    for layer in range(LAYERS):
        weight = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
        weights.append(numpy_helper.from_array(weight, f"w{layer}"))
        nodes += [
            helper.make_node("MatMul", [previous, f"w{layer}"], [f"m{layer}"]),
            helper.make_node("Relu", [f"m{layer}"], [f"r{layer}"]),
        ]
        previous = f"r{layer}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", WIDTH])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def bare_loop_median_us(model: Path, threads: int, runs: int) -> float:
    """Median latency of a plain loop over `run_with_iobinding`, the reference a harness must match."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    feed = np.random.default_rng(0).standard_normal((1, WIDTH)).astype(np.float32)
    binding = session.io_binding()
    binding.bind_cpu_input("input", feed)
    binding.bind_output(session.get_outputs()[0].name, "cpu")
    for _ in range(200):
        session.run_with_iobinding(binding)
    latencies = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        session.run_with_iobinding(binding)
        latencies.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(latencies)


def runtime_import_s(runs: int = 5) -> float:
    """Median time a fresh interpreter takes to import the runtimes, minus a bare interpreter's start."""

    def median_wall(code: str) -> float:
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            walls.append(time.perf_counter() - start)
        return statistics.median(walls)

    return median_wall("import onnxruntime, onnx, onnx.reference") - median_wall("pass")


def main() -> None:
    """Run the four measurements, print them with their ratios and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/harness.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model = mlp_model(args.out.parent / "harness-mlp.onnx")
    job = JobSpec(
        model=model_ref(model),
        framework="onnxruntime",
        settings={"threads": args.threads},
        data=InputData(count=4),
    )
    fixed = job.model_copy(
        update={"stopping": StoppingRule(min_samples=FIXED_SAMPLES, max_samples=FIXED_SAMPLES, min_duration_s=0)}
    )
    run_job(fixed, lambda phase: None)

    rounds = []
    for _ in range(args.rounds):
        record = run_in_worker(job)
        if record.failure:
            raise SystemExit(f"the worker failed: {record.failure.message}")
        (measurement,) = record.measurements
        bare_us = bare_loop_median_us(model, args.threads, measurement.summary.count)
        start = time.perf_counter()
        run_in_worker(fixed)
        worker_s = time.perf_counter() - start
        start = time.perf_counter()
        run_job(fixed, lambda phase: None)
        local_s = time.perf_counter() - start
        rounds.append(
            {
                "deploybench_median_us": measurement.summary.median_us,
                "bare_loop_median_us": bare_us,
                "ratio": measurement.summary.median_us / bare_us,
                "sampling_s": measurement.sampling_s,
                "samples": measurement.summary.count,
                "stopped_by": measurement.stopped_by,
                "worker_fixed_job_s": worker_s,
                "in_process_fixed_job_s": local_s,
            }
        )
    runtime_s = runtime_import_s()
    overhead = sample(lambda: None, StoppingRule(min_samples=100_000, max_samples=100_000), MonotonicClock())

    def middle(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": args.threads,
        "rounds": rounds,
        "model": f"MLP {LAYERS} x MatMul {WIDTH}x{WIDTH} + Relu, batch 1",
        "fidelity": {
            "deploybench_median_us": middle("deploybench_median_us"),
            "bare_loop_median_us": middle("bare_loop_median_us"),
            "ratio": middle("ratio"),
            "ratio_per_round": [r["ratio"] for r in rounds],
            "target": "within 3 % (median of the rounds' ratios in 0.97-1.03)",
        },
        "timing_overhead": {
            "noop_call_median_us": statistics.median(overhead.samples_us),
            "noop_calls": len(overhead.samples_us),
            "target_us": 5.0,
        },
        "time_to_stable_answer": {
            "median_sampling_s": middle("sampling_s"),
            "max_sampling_s": max(r["sampling_s"] for r in rounds),
            "target_s": 10.0,
        },
        "process_boundary": {
            "fixed_samples": FIXED_SAMPLES,
            "worker_s": middle("worker_fixed_job_s"),
            "in_process_s": middle("in_process_fixed_job_s"),
            "worker_minus_in_process_s": middle("worker_fixed_job_s") - middle("in_process_fixed_job_s"),
            "runtime_import_s": runtime_s,
            "boundary_beyond_runtime_load_s": middle("worker_fixed_job_s")
            - middle("in_process_fixed_job_s")
            - runtime_s,
            "target_s": 1.0,
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    fidelity, boundary, stable = report["fidelity"], report["process_boundary"], report["time_to_stable_answer"]
    print(f"{report['model']}, {args.threads} thread(s), {args.rounds} alternating rounds (medians of rounds)")
    print(f"{'measurement':46} {'deploybench':>12} {'reference':>12} {'ratio':>7}")
    print(
        f"{'median latency, µs (worker vs bare loop)':46} {fidelity['deploybench_median_us']:12.1f} "
        f"{fidelity['bare_loop_median_us']:12.1f} {fidelity['ratio']:7.3f}"
    )
    noop_us = report["timing_overhead"]["noop_call_median_us"]
    print(f"{'timing overhead per call, µs (no-op call)':46} {noop_us:12.3f}")
    print(
        f"{'time to stable answer, s (median / max)':46} "
        f"{stable['median_sampling_s']:12.2f} {stable['max_sampling_s']:12.2f}"
    )
    print(
        f"{'fixed job wall, s (worker vs in process)':46} {boundary['worker_s']:12.2f} "
        f"{boundary['in_process_s']:12.2f} {boundary['worker_s'] / boundary['in_process_s']:7.3f}"
    )
    print(
        f"{'worker cost beyond the runtime import, s':46} {boundary['boundary_beyond_runtime_load_s']:12.2f}"
        f"   (runtime import {runtime_s:.2f} s)"
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
