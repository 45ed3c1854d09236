"""Every local framework on one MobileNetV2-like ONNX model, side by side, in one run (results/frameworks.json):

- per framework (through deploybench's worker, single-stream, 1 thread by default): median latency, its ratio to
  ONNX Runtime's, compile / load time, peak memory, fidelity against the ONNX reference evaluator;
- OpenVINO: deploybench's median against OpenVINO's own `benchmark_app` (same precision, threads, one stream);
- TVM: deploybench's median against the compiled module's own `time_evaluator`;
- LiteRT (from its toolchain environment): deploybench's median against a bare `Interpreter.invoke()` loop on the
  same converted `.tflite` file, in the same environment, with the same threads.

The model is generated here (seeded): a 224x224 stem convolution, then inverted-residual blocks (1x1 expand,
3x3 depthwise, 1x1 project) as in MobileNetV2, global pooling and a 1000-way classifier.
Usage: python benchmarks/frameworks.py [--threads 1] [--rounds 3] [--framework NAME ...]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from deploybench.campaign.plan import model_ref
from deploybench.core.records import InputData, JobSpec
from deploybench.worker.launcher import run_in_worker
from deploybench.worker.placement import Placer

BLOCKS = ((16, 1, 1), (24, 2, 6), (32, 2, 6), (64, 2, 6), (96, 1, 6), (160, 2, 6), (320, 1, 6))
"""MobileNetV2's stages, one block each: (output channels, stride, expansion)."""


def mobilenet_like(path: Path) -> Path:
    """Write the seeded MobileNetV2-like model to path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []

    def conv(name: str, source: str, cin: int, cout: int, kernel: int, stride: int, group: int, relu: bool) -> str:
        weight = rng.standard_normal((cout, cin // group, kernel, kernel)) / np.sqrt(cin // group * kernel * kernel)
        weights.append(numpy_helper.from_array(weight.astype(np.float32), f"{name}.w"))
        weights.append(numpy_helper.from_array((0.1 * rng.standard_normal(cout)).astype(np.float32), f"{name}.b"))
        pad = kernel // 2
        nodes.append(
            helper.make_node(
                "Conv", [source, f"{name}.w", f"{name}.b"], [name], strides=[stride] * 2, pads=[pad] * 4, group=group
            )
        )
        if not relu:
            return name
        nodes.append(helper.make_node("Clip", [name, "zero", "six"], [f"{name}.relu6"]))
        return f"{name}.relu6"

    weights += [numpy_helper.from_array(np.float32(0), "zero"), numpy_helper.from_array(np.float32(6), "six")]
    current, channels = conv("stem", "input", 3, 32, 3, 2, 1, True), 32
    for index, (cout, stride, expansion) in enumerate(BLOCKS):
        hidden = channels * expansion
        source = current
        if expansion != 1:
            current = conv(f"b{index}.expand", current, channels, hidden, 1, 1, 1, True)
        current = conv(f"b{index}.dw", current, hidden, hidden, 3, stride, hidden, True)
        current = conv(f"b{index}.project", current, hidden, cout, 1, 1, 1, False)
        if stride == 1 and cout == channels:
            nodes.append(helper.make_node("Add", [current, source], [f"b{index}.add"]))
            current = f"b{index}.add"
        channels = cout
    current = conv("head", current, channels, 1280, 1, 1, 1, True)
    weights.append(numpy_helper.from_array((rng.standard_normal((1000, 1280)) / 36).astype(np.float32), "fc.w"))
    weights.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc.b"))
    nodes += [
        helper.make_node("GlobalAveragePool", [current], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "mobilenet_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 1000])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def benchmark_app_median_us(model: Path, threads: int) -> float:
    """OpenVINO's own benchmark_app, f32, one stream, synchronous: its reported median latency."""
    tool = Path(sys.executable).parent / "benchmark_app"
    command = [str(tool), "-m", str(model), "-d", "CPU", "-hint", "none", "-nthreads", str(threads)]
    command += ["-nstreams", "1", "-infer_precision", "f32", "-api", "sync", "-niter", "300"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Median:\s+([\d.]+) ms", output)
    if match is None:
        raise SystemExit(f"benchmark_app printed no median:\n{output[-2000:]}")
    return float(match.group(1)) * 1000


def tvm_time_evaluator_median_us(model: Path, threads: int, workdir: Path) -> float:
    """The median of TVM's own `time_evaluator` on the module deploybench's TVM backend compiles."""
    from deploybench.backends.tvm import TvmBackend

    backend = TvmBackend()
    prepared = backend.prepare(model, {"threads": threads}, workdir)
    import tvm
    from tvm import relax

    device = tvm.cpu()
    machine = relax.VirtualMachine(tvm.runtime.load_module(str(prepared.artifact)), device)
    feed = tvm.runtime.tensor(np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32), device)
    timer = machine.time_evaluator("main", device, number=5, repeat=20)
    return float(np.median(timer(feed).results)) * 1e6


BARE_LITERT_LOOP = """
import sys, time
from pathlib import Path
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from deploybench.backends.litert import convert_onnx

model, threads, workdir = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
interpreter = Interpreter(model_path=str(convert_onnx(model, workdir)), num_threads=threads)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
x = np.random.default_rng(0).standard_normal(tuple(detail["shape"])).astype(np.float32)
interpreter.set_tensor(detail["index"], x)
for _ in range(50):
    interpreter.invoke()
samples = []
for _ in range(1000):
    start = time.perf_counter_ns()
    interpreter.invoke()
    samples.append(time.perf_counter_ns() - start)
print(float(np.median(samples)) / 1000)
"""
"""The bare loop: deploybench's own conversion (so both run the same file), then nothing but invoke()."""


def litert_bare_loop_median_us(model: Path, threads: int, workdir: Path, python: str) -> float:
    """The median of a bare `Interpreter.invoke()` loop, in the LiteRT toolchain's own Python."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [python, "-c", BARE_LITERT_LOOP, str(model), str(threads), str(workdir)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run every local framework and the two native tools; print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/frameworks.json"))
    parser.add_argument("--framework", action="append", help="only these frameworks (repeatable; default: all)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model = mobilenet_like(args.out.parent / "mobilenet-like.onnx")
    placer = Placer()
    frameworks = [
        s.name
        for s in placer.placed_statuses("onnx")
        if s.available and s.deployment and "onnx" in s.input_formats and s.name in (args.framework or [s.name])
    ]
    environments = placer.environments(frameworks, "onnx")
    rows: dict[str, dict[str, object]] = {}
    medians: dict[str, list[float]] = {}
    native: dict[str, list[tuple[float, float]]] = {"openvino": [], "tvm": [], "litert": []}
    for _ in range(args.rounds):
        for name in frameworks:
            settings = {"threads": args.threads} if name != "example-numpy" else {}
            environment = environments[name]
            record = run_in_worker(
                JobSpec(model=model_ref(model), framework=name, settings=settings, data=InputData(count=4)),
                python=environment.python,
                env=environment.worker_env(),
            )
            if record.failure or not record.measurements or record.resources is None or record.fidelity is None:
                rows[name] = {"failure": record.failure.message if record.failure else "no measurement"}
                continue
            median_us = record.measurements[0].summary.median_us
            medians.setdefault(name, []).append(median_us)
            rows.setdefault(name, {}).update(
                prepare_s=record.resources.prepare_s,
                load_s=record.resources.load_s,
                peak_rss_mb=record.resources.peak_rss_bytes / 1e6,
                environment=environment.name,
                cosine=min(o.cosine_similarity for o in record.fidelity.outputs),
                max_abs_error=max(o.max_abs_error for o in record.fidelity.outputs),
                settings=record.provenance.settings if record.provenance else {},
            )
            if name == "openvino":
                native["openvino"].append((median_us, benchmark_app_median_us(model, args.threads)))
            if name == "tvm":
                with_dir = args.out.parent / "tvm-bench"
                with_dir.mkdir(exist_ok=True)
                native["tvm"].append((median_us, tvm_time_evaluator_median_us(model, args.threads, with_dir)))
            if name == "litert":
                bare = litert_bare_loop_median_us(
                    model, args.threads, args.out.parent / "litert-bench", environment.python
                )
                native["litert"].append((median_us, bare))
    baseline = statistics.median(medians["onnxruntime"]) if "onnxruntime" in medians else None
    for name, values in medians.items():
        median_us = statistics.median(values)
        rows[name].update(medians_us=values, median_us=median_us)
        rows[name]["ratio_to_onnxruntime"] = median_us / baseline if baseline else None
    against = {
        name: {
            "deploybench_median_us": statistics.median(d for d, _ in pairs),
            "native_median_us": statistics.median(n for _, n in pairs),
            "ratio": statistics.median(d / n for d, n in pairs),
        }
        for name, pairs in native.items()
        if pairs
    }
    report = {
        "model": "MobileNetV2-like, 1x3x224x224",
        "threads": args.threads,
        "rounds": args.rounds,
        "frameworks": rows,
        "against_native_tools": against,
    }
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(
        f"{'framework':14} {'median µs':>10} {'x ORT':>7} {'prepare s':>10} {'load s':>8} {'peak MB':>8} {'cosine':>10}"
    )
    for name, row in rows.items():
        if "failure" in row:
            print(f"{name:14} failed: {row['failure']}")
            continue
        prepare = row["prepare_s"]
        print(
            f"{name:14} {row['median_us']:10.1f} {row['ratio_to_onnxruntime'] or 0:7.3f} "
            f"{prepare if prepare is not None else float('nan'):10.3f} {row['load_s']:8.3f} {row['peak_rss_mb']:8.1f} "
            f"{row['cosine']:10.6f}"
        )
    for name, figures in against.items():
        tool = {"openvino": "benchmark_app", "tvm": "time_evaluator", "litert": "bare invoke() loop"}[name]
        print(
            f"{name} vs its own {tool}: {figures['deploybench_median_us']:.1f} vs "
            f"{figures['native_median_us']:.1f} µs, ratio {figures['ratio']:.3f} "
            f"(median of {args.rounds} alternating rounds)"
        )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
