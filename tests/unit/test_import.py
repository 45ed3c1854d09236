"""`import deploybench` must stay light: no ML runtime, no catalog."""

from __future__ import annotations

import json
import subprocess
import sys

RUNTIMES = ("onnxruntime", "onnx", "openvino", "torch", "tvm", "tensorflow", "ai_edge_litert", "executorch")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_import_deploybench_loads_no_runtime_and_no_catalog() -> None:
    loaded = _modules_after("import deploybench")
    assert not {m.split(".")[0] for m in loaded} & set(RUNTIMES)
    assert "deploybench.catalog" not in loaded
    assert "pydantic" not in loaded


def test_cli_and_catalog_load_no_runtime() -> None:
    loaded = _modules_after("import deploybench.cli.app, deploybench.catalog; deploybench.catalog.load_catalog([])")
    assert not {m.split(".")[0] for m in loaded} & set(RUNTIMES)
