"""`deploybench analyze` on a generated 100 MB ONNX model: time and extra memory against the issue's limits
(5 s; twice the model's size), in one run, printed and saved to results/analyze.json; once with the weights
inside the .onnx file (onnx.load holds the file's bytes and the parsed model at once) and once with them in an
external data file (which analyze never reads).

Each analysis runs in a fresh process that imports what it needs first, so that the extra memory is the
analysis's own: the peak resident set (VmHWM) at the end minus the resident set before the analysis.
Usage: python benchmarks/analyze.py [--megabytes 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

LIMIT_S = 5.0
LIMIT_MEMORY_RATIO = 2.0
MEASURE = """
import json, sys, time
from pathlib import Path
import onnx
from deploybench.analyze.onnx_anatomy import analyze_onnx

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

before = rss("VmRSS:")
start = time.perf_counter()
anatomy = analyze_onnx(Path(sys.argv[1]))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "extra_bytes": rss("VmHWM:") - before, "macs": anatomy.macs}))
"""


def big_mlp(path: Path, megabytes: int) -> Path:
    """A seeded MLP of square Gemm layers (1024 wide) whose float32 weights add up to about megabytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    width = 1024
    layers = max(1, megabytes * 2**20 // (width * width * 4))
    rng = np.random.default_rng(0)
    nodes, weights, current = [], [], "x"
    for i in range(layers):
        weights.append(numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32), f"w{i}"))
        nodes.append(helper.make_node("Gemm", [current, f"w{i}"], [f"h{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        current = f"a{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, width])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def main() -> None:
    """Generate the model, analyze it in fresh processes, print and save the figures and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/analyze.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    inline = big_mlp(args.out.parent / "mlp-inline.onnx", args.megabytes)
    size = inline.stat().st_size
    external = external_copy(inline, args.out.parent / "mlp-external.onnx")
    report: dict[str, object] = {"model_bytes": size, "rounds": args.rounds}
    print(f"model {size / 1e6:.1f} MB of weights, {args.rounds} fresh processes each")
    for name, model in (("inline", inline), ("external_data", external)):
        runs = []
        for _ in range(args.rounds):
            command = [sys.executable, "-c", MEASURE, str(model)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        seconds = statistics.median(r["seconds"] for r in runs)
        extra = statistics.median(r["extra_bytes"] for r in runs)
        report[name] = {
            "runs": runs,
            "median_seconds": seconds,
            "median_extra_bytes": extra,
            "seconds_over_limit": seconds / LIMIT_S,
            "extra_memory_over_limit": extra / (LIMIT_MEMORY_RATIO * size),
        }
        print(
            f"{name:13} {seconds:.3f} s ({seconds / LIMIT_S:.3f} of the {LIMIT_S:g} s limit); extra memory "
            f"{extra / 1e6:.1f} MB = {extra / size:.2f} x the model ({extra / (LIMIT_MEMORY_RATIO * size):.3f} "
            f"of the {LIMIT_MEMORY_RATIO:g} x limit)"
        )
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"saved {args.out}")


def external_copy(model: Path, path: Path) -> Path:
    """The same model with its weights in a data file beside it."""
    import onnx

    onnx.save_model(onnx.load(str(model)), str(path), save_as_external_data=True, location=f"{path.stem}.data")
    return path


if __name__ == "__main__":
    main()
