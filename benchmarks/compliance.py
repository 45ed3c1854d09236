"""Check the compliance checker: the operator test models that ship with the `onnx` package (its backend node
tests: `onnx.backend.test.case.node`, the cases that generate `onnx/backend/test/data/node`, written here to
results/onnx-node-tests, those whose inputs are all tensors NumPy can hold: not bfloat16, which the runtimes'
Python APIs cannot take from NumPy) go through ONNX Runtime and OpenVINO for real
(load, then one inference on the test's own inputs), and the verdicts of `deploybench analyze --compliance` are
scored against what ran: precision and recall of "deployable", per runtime. Printed and saved to
results/compliance.json.

Each runtime runs the models in a child process of its own, one at a time, so that a runtime that crashes on a
model costs that model (counted as not run) and not the benchmark.
Usage: python benchmarks/compliance.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RUNTIMES = ("onnxruntime", "openvino")
TRY = """
import glob, json, sys
from pathlib import Path
import numpy as np
import onnx
from onnx import numpy_helper
from deploybench.backends.registry import load_backend

runtime, folders = sys.argv[1], sys.argv[2:]
backend = load_backend(runtime)
for folder in folders:
    model = Path(folder) / "model.onnx"
    verdict, ran, why = None, False, ""
    try:
        nodes, issues, _ = backend.operator_support(model)
        verdict = all(n.supported for n in nodes) and not issues
    except Exception as exc:
        why = f"check: {type(exc).__name__}"
    try:
        proto = onnx.load(str(model))
        names = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
        feeds = {}
        for name, path in zip(names, sorted(glob.glob(f"{folder}/test_data_set_0/input_*.pb"))):
            tensor = onnx.TensorProto()
            tensor.ParseFromString(Path(path).read_bytes())
            feeds[name] = np.array(numpy_helper.to_array(tensor), copy=True)
        if runtime == "onnxruntime":
            import onnxruntime as ort
            ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, feeds)
        else:
            import openvino as ov
            compiled = ov.Core().compile_model(str(model), "CPU")
            compiled({p.any_name: feeds[p.any_name] for p in compiled.inputs if p.any_name in feeds})
        ran = True
    except Exception as exc:
        why += f" run: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    print(json.dumps({"test": Path(folder).name, "verdict": verdict, "ran": ran, "why": why.strip()}), flush=True)
"""
"""The child: the check, then the real run, per model; one JSON line each. A runtime's own API is used here
directly: this script is the judge of the checker, not part of deploybench."""


def write_node_tests(root: Path, limit: int | None) -> list[str]:
    """The onnx package's node test cases whose inputs are all tensors, written as model.onnx and
    test_data_set_0/input_N.pb per folder (the layout of onnx's own test data); their folders."""
    import warnings

    import numpy as np
    from onnx import numpy_helper
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases()
    folders = []
    for case in sorted(cases, key=lambda c: c.name)[:limit]:
        if not all(i.type.HasField("tensor_type") for i in case.model.graph.input) or not case.data_sets:
            continue
        inputs, _ = case.data_sets[0]
        if not all(isinstance(array, np.ndarray) and array.dtype.kind != "V" for array in inputs):
            continue
        folder = root / case.name
        (folder / "test_data_set_0").mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(case.model.SerializeToString())
        for index, (value, array) in enumerate(zip(case.model.graph.input, inputs, strict=False)):
            tensor = numpy_helper.from_array(array, value.name)
            (folder / "test_data_set_0" / f"input_{index}.pb").write_bytes(tensor.SerializeToString())
        folders.append(str(folder))
    return folders


def judge(runtime: str, folders: list[str]) -> list[dict[str, object]]:
    """Every folder's verdict and outcome for runtime; a crashed child loses one model, then goes on."""
    results: list[dict[str, object]] = []
    remaining = list(folders)
    while remaining:
        done = subprocess.run([sys.executable, "-c", TRY, runtime, *remaining], capture_output=True, text=True)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        results += lines
        remaining = remaining[len(lines) :]
        if remaining and done.returncode != 0:
            results.append({"test": Path(remaining[0]).name, "verdict": None, "ran": False, "why": "crashed"})
            remaining = remaining[1:]
        elif remaining:
            raise SystemExit(f"{runtime}: the child stopped early without a crash:\n{done.stderr[-2000:]}")
    return results


def score(results: list[dict[str, object]]) -> dict[str, object]:
    """Precision and recall of the verdict "deployable" against "ran"."""
    judged = [r for r in results if r["verdict"] is not None]
    true_pos = sum(1 for r in judged if r["verdict"] and r["ran"])
    false_pos = [r for r in judged if r["verdict"] and not r["ran"]]
    false_neg = [r for r in judged if not r["verdict"] and r["ran"]]
    return {
        "models": len(results),
        "judged": len(judged),
        "ran": sum(1 for r in results if r["ran"]),
        "precision": true_pos / (true_pos + len(false_pos)) if true_pos + len(false_pos) else None,
        "recall": true_pos / (true_pos + len(false_neg)) if true_pos + len(false_neg) else None,
        "false_positives": [f"{r['test']}: {r['why']}" for r in false_pos],
        "false_negatives": [str(r["test"]) for r in false_neg],
    }


def main() -> None:
    """Judge both runtimes, print the scores side by side and save everything."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N test models")
    parser.add_argument("--out", type=Path, default=Path("results/compliance.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    folders = write_node_tests(args.out.parent / "onnx-node-tests", args.limit)
    report = {runtime: score(judge(runtime, folders)) for runtime in RUNTIMES}
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{len(folders)} onnx node test models")
    print(f"{'runtime':12} {'ran':>5} {'precision':>10} {'recall':>8} {'false +':>8} {'false -':>8}")
    for runtime, figures in report.items():
        precision, recall = figures["precision"], figures["recall"]
        print(
            f"{runtime:12} {figures['ran']:>5} {precision if precision is not None else float('nan'):10.4f} "
            f"{recall if recall is not None else float('nan'):8.4f} {len(figures['false_positives']):8} "  # type: ignore[arg-type]
            f"{len(figures['false_negatives']):8}"  # type: ignore[arg-type]
        )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
