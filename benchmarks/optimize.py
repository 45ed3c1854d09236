"""INT8 and FP16 against FP32, per framework, on two real networks with real inputs, side by side in one run: the
small CNN trained here on scikit-learn's digits (accuracy and its drop on 300 held-out digits) and the trained
EfficientNet-Lite0 (a MobileNetV2-size CNN) on views of the photographs that ship in scikit-image and
scikit-learn (top-1 agreement with FP32). Printed and saved to results/optimize.json, with:

- the latency ratio INT8 / FP32 (median, with its 95 % bootstrap interval), the size and peak-memory ratios;
- which INT8 instructions this CPU has (VNNI or not), read from /proc/cpuinfo;
- where the best ONNX Runtime INT8 path is slower than FP32 (or not), ONNX Runtime's own per-operator profile of
  both models, to say from measurements where the time goes;
- `optimize --search` on EfficientNet-Lite0 (ONNX Runtime and OpenVINO): points explored and wall time, against
  the goal of at least 20 points in under 10 minutes.

Every optimized model is made by the framework's own tool in a worker, every deployment measured by the harness
at one thread.
Usage: python benchmarks/optimize.py [--models digits-cnn,efficientnet-lite0] [--skip-search] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

CASES = {"digits-cnn": (100, 300), "efficientnet-lite0": (30, 40)}
"""Zoo model -> (calibration rows, evaluation rows), drawn disjoint from the rows its builder held out."""
PATHS = [
    ("onnxruntime", "static-int8", {"per_channel": True}),
    ("onnxruntime", "static-int8", {}),
    ("onnxruntime", "dynamic-int8", {}),
    ("onnxruntime", "fp16", {}),
    ("openvino", "nncf-int8", {}),
    ("openvino", "fp16", {}),
    ("litert", "int8", {}),
    ("litert", "dynamic-range", {}),
    ("litert", "fp16", {}),
    ("executorch", "pt2e-int8", {}),
]
PROGRAM_FRAMEWORKS = ("executorch",)
"""Frameworks that optimize the PyTorch ExportedProgram (`.pt2`) of the model rather than its ONNX export."""
SEARCH_GOAL_S, SEARCH_GOAL_POINTS = 600, 20


def main() -> None:
    """Measure every path on both networks, profile ONNX Runtime, time the search; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-search", action="store_true", help="leave out the --search timing")
    parser.add_argument(
        "--models", default=",".join(CASES), help="comma-separated zoo models among " + ", ".join(CASES)
    )
    parser.add_argument("--out", type=Path, default=Path("results/optimize.json"))
    options = parser.parse_args()
    report: dict[str, Any] = {"cpu": _cpu(), "models": {}}
    with tempfile.TemporaryDirectory(prefix="deploybench-optimize-bench-") as scratch:
        db = f"sqlite:///{Path(scratch) / 'results.db'}"
        for name in options.models.split(","):
            report["models"][name] = _paths(name, *CASES[name], db)
        if not options.skip_search:
            report["search"] = _search(db)
    _print(report)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nsaved to {options.out}")


def _cpu() -> dict[str, Any]:
    """The CPU's model and the INT8-relevant instruction sets it reports."""
    text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    flags = set(next(line for line in text.splitlines() if line.startswith("flags")).split(":")[1].split())
    model = next(line for line in text.splitlines() if line.startswith("model name")).split(":")[1].strip()
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
    present = {flag: flag in flags for flag in wanted}
    vnni = present["avx512_vnni"] or present["avx_vnni"]
    return {
        "model": model,
        "flags": present,
        "vnni": vnni,
        "says": "VNNI present: INT8 dot products in one instruction"
        if vnni
        else "no VNNI: INT8 dot products take AVX2 multiply-add sequences (vpmaddubsw + vpmaddwd), with no "
        "per-instruction gain over FP32 FMA",
    }


def _paths(name: str, calibration: int, evaluation: int, db: str) -> dict[str, Any]:
    """Every path on one zoo model: the optimized deployment against FP32 on its framework."""
    from deploybench.campaign.optimization import evaluation_jobs, optimize_model, plan_data
    from deploybench.campaign.plan import model_ref
    from deploybench.campaign.runner import run_jobs
    from deploybench.core.errors import DeploybenchError
    from deploybench.core.records import StoppingRule
    from deploybench.optimize.data import load_rows, split_rows
    from deploybench.report.compare import compare
    from deploybench.store import ResultStore
    from deploybench.worker.placement import Placer
    from deploybench.zoo.build import build_model, held_out_data

    artifact = build_model(name, "onnx", echo=print)
    data = held_out_data(artifact)
    assert data is not None, f"{name} has no held-out rows"
    rows = load_rows(data)
    plan = plan_data(rows, split_rows(rows, calibration, evaluation, seed=0))
    sources = {"onnx": model_ref(Path(artifact.path)), "pt2": model_ref(Path(build_model(name, "pt2").path))}
    placer = Placer()
    stopping = StoppingRule(min_samples=100, max_duration_s=10.0)
    found: dict[str, Any] = {"calibration_rows": calibration, "evaluation_rows": evaluation, "paths": []}
    for framework, method, method_options in PATHS:
        label = f"{framework} {method}" + "".join(f" {k}={v}" for k, v in method_options.items())
        print(f"{name}: {label}")
        source = sources["pt2" if framework in PROGRAM_FRAMEWORKS else "onnx"]
        started = time.perf_counter()
        try:
            entry = optimize_model(source, framework, method, method_options, plan, placer)
        except DeploybenchError as exc:
            found["paths"].append({"path": label, "error": str(exc)})
            continue
        made_s = time.perf_counter() - started
        reference = None if framework in PROGRAM_FRAMEWORKS else "onnxruntime"  # None: torch-reference
        jobs = list(evaluation_jobs(source, entry, plan.evaluation, {"threads": 1}, stopping, reference))
        with ResultStore.open(db) as store:
            run_jobs(jobs, store, "optimize-benchmark", placer=placer)
            fp32, optimized = _newest(store, "optimize-benchmark", jobs)
        if fp32 is None or optimized is None or fp32.failure or optimized.failure:
            failed = next(r for r in (optimized, fp32) if r is None or r.failure)
            found["paths"].append(
                {"path": label, "error": failed.failure.message if failed and failed.failure else "not measured"}
            )
            continue
        latency = compare(fp32, optimized)[0]
        fidelity = optimized.fidelity
        drop = fidelity.accuracy_drop if fidelity else None
        found["paths"].append(
            {
                "path": label,
                "tool": entry.optimization.tool,
                "made_s": made_s,
                "fp32_median_us": latency.median_a_us,
                "optimized_median_us": latency.median_b_us,
                "latency_ratio": latency.ratio,
                "latency_ratio_ci": [latency.ratio_ci_low, latency.ratio_ci_high],
                "size_ratio": optimized.resources.artifact_size_bytes / fp32.resources.artifact_size_bytes
                if optimized.resources and fp32.resources
                else None,
                "memory_ratio": optimized.resources.peak_rss_bytes / fp32.resources.peak_rss_bytes
                if optimized.resources and fp32.resources
                else None,
                "top1_agreement": fidelity.top1_agreement if fidelity else None,
                "accuracy": fidelity.accuracy if fidelity else None,
                "fp32_accuracy": fidelity.reference_accuracy if fidelity else None,
                "accuracy_drop_pt": [drop.value * 100, drop.low * 100, drop.high * 100] if drop else None,
                "worst_cosine": min(o.cosine_similarity for o in fidelity.outputs) if fidelity else None,
                "artifact": entry.artifact.path,
                "source": source.path,
            }
        )
    found["onnxruntime_profile"] = _profile_int8(found["paths"], plan.evaluation.path)
    return found


def _profile_int8(paths: list[dict[str, Any]], rows: str) -> dict[str, Any] | None:
    """ONNX Runtime's per-operator time (its own profiler, one thread) of FP32 and of each of its INT8 models, and
    which INT8 path is the fastest and whether it is slower than FP32."""
    int8 = [p for p in paths if p["path"].startswith("onnxruntime") and "int8" in p["path"] and "latency_ratio" in p]
    if not int8:
        return None
    best = min(int8, key=lambda p: p["latency_ratio"])
    return {
        "best_path": best["path"],
        "best_slower_than_fp32": best["latency_ratio"] > 1,
        "fp32_ms_by_operator": _operator_times(best["source"], rows),
        "int8_ms_by_operator": {p["path"]: _operator_times(p["artifact"], rows) for p in int8},
    }


def _operator_times(model: str, rows: str, runs: int = 100) -> dict[str, float]:
    """Mean milliseconds per inference spent in each operator type, from ONNX Runtime's profiler."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        with np.load(rows) as data:
            x = data["x"][:1]
        for _ in range(runs):
            session.run(None, {name: x})
        trace = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    totals: dict[str, float] = {}
    for event in trace:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            totals[op] = totals.get(op, 0.0) + event["dur"] / 1000.0 / runs
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def _search(db: str) -> dict[str, Any]:
    """`optimize --search` through its Python API on EfficientNet-Lite0, ONNX Runtime and OpenVINO."""
    from deploybench.campaign.optimization import plan_data
    from deploybench.campaign.plan import model_ref
    from deploybench.campaign.runner import run_jobs
    from deploybench.campaign.search import judge, plan_search
    from deploybench.core.records import StoppingRule
    from deploybench.optimize.data import load_rows, split_rows
    from deploybench.optimize.space import load_space
    from deploybench.store import ResultStore
    from deploybench.worker.placement import Placer
    from deploybench.zoo.build import build_model, held_out_data

    artifact = build_model("efficientnet-lite0", "onnx", echo=print)
    data = held_out_data(artifact)
    assert data is not None
    rows = load_rows(data)
    started = time.perf_counter()
    plan = plan_data(rows, split_rows(rows, *CASES["efficientnet-lite0"], seed=1))
    placer = Placer()
    planned = plan_search(
        model_ref(Path(artifact.path)),
        load_space(),
        plan,
        placer,
        [1],
        [1],
        StoppingRule(min_samples=20, max_duration_s=2.0),
        "onnxruntime",
        ["onnxruntime", "openvino"],
    )
    jobs = [job for _, job in planned.jobs]
    with ResultStore.open(db) as store:
        run_jobs(jobs, store, "optimize-search-benchmark", placer=placer)
        records = _newest(store, "optimize-search-benchmark", jobs)
    measured = [(variant, record) for (variant, _), record in zip(planned.jobs, records, strict=True) if record]
    outcomes, front = judge(measured, 0.99)
    wall = time.perf_counter() - started
    points = len(outcomes) + len(planned.failed)
    return {
        "points": points,
        "failed_optimizations": [[v.label, reason] for v, reason in planned.failed],
        "kept_by_min_agreement_0.99": sum(1 for o in outcomes if o.refused is None),
        "pareto_front": [p.label for p in front],
        "wall_s": wall,
        "goal": f">= {SEARCH_GOAL_POINTS} points in < {SEARCH_GOAL_S} s",
        "meets_goal": points >= SEARCH_GOAL_POINTS and wall < SEARCH_GOAL_S,
    }


def _newest(store: Any, campaign: str, jobs: list[Any]) -> list[Any]:
    """The newest stored result of each job (a job stored by an earlier path is not run again), or None."""
    newest = {row.job_key: row.id for row in reversed(store.rows(campaign=campaign))}
    return [store.get(newest[job.key()]) if job.key() in newest else None for job in jobs]


def _print(report: dict[str, Any]) -> None:
    cpu = report["cpu"]
    print(f"\nCPU: {cpu['model']}; {cpu['says']}")
    for name, found in report["models"].items():
        print(f"\n{name} ({found['calibration_rows']} calibration rows, {found['evaluation_rows']} evaluation rows)")
        print(f"{'path':42} {'latency B/A [95% CI]':26} {'size':>6} {'memory':>6} {'agree':>7} {'acc drop pt':>24}")
        for path in found["paths"]:
            if "error" in path:
                print(f"{path['path']:42} failed: {path['error']}")
                continue
            low, high = path["latency_ratio_ci"]
            drop = path["accuracy_drop_pt"]
            drop_text = f"{drop[0]:+.2f} [{drop[1]:+.2f}, {drop[2]:+.2f}]" if drop else ""
            print(
                f"{path['path']:42} {path['latency_ratio']:.3f} [{low:.3f}, {high:.3f}]{'':5} "
                f"{path['size_ratio']:6.3f} {path['memory_ratio']:6.3f} {path['top1_agreement']:7.4f} {drop_text:>24}"
            )
        profile = found.get("onnxruntime_profile")
        if profile:
            verdict = "slower" if profile["best_slower_than_fp32"] else "faster"
            print(f"ONNX Runtime, ms per inference by operator (fastest INT8: {profile['best_path']}, {verdict}):")
            profiles = {"fp32": profile["fp32_ms_by_operator"], **profile["int8_ms_by_operator"]}
            for label, times in profiles.items():
                top = ", ".join(f"{op} {ms:.3f}" for op, ms in list(times.items())[:6])
                print(f"  {label}: {top}")
    search = report.get("search")
    if search:
        print(
            f"\nsearch: {search['points']} points in {search['wall_s']:.0f} s ({search['goal']}: "
            f"{'met' if search['meets_goal'] else 'NOT met'}); Pareto front: {len(search['pareto_front'])} points"
        )


if __name__ == "__main__":
    main()
