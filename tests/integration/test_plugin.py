"""A third-party backend, installed as a real package (`tests/plugins/example_backend`), is found through its
entry point and runs real jobs in a worker. It is installed once for this module into a folder of its own,
put on `PYTHONPATH` of the subprocesses only: the main environment is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.jobs import QUICK
from tests.support.models import tiny_classifier

from deploybench.backends.registry import registered
from deploybench.campaign.plan import model_ref
from deploybench.core.records import InputData, JobSpec, Status
from deploybench.worker.launcher import run_in_worker

PLUGIN = Path(__file__).parent.parent / "plugins" / "example_backend"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a process that has the example backend installed (once per module)."""
    target = tmp_path_factory.mktemp("example-backend")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run([*install, "--target", str(target), str(PLUGIN)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(target), env.get("PYTHONPATH", "")) if p)
    env.pop("DEPLOYBENCH_BACKENDS", None)
    return env


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    tiny_classifier(folder / "tiny.onnx")
    sigmoid_model(folder / "sigmoid.onnx")
    return folder


def sigmoid_model(path: Path, features: int = 8) -> Path:
    """MatMul then Sigmoid: an operator the example backend does not run."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.ones((features, 2), dtype=np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weights"], ["logits"]), helper.make_node("Sigmoid", ["logits"], ["y"])],
        "sigmoid",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def python(env: dict[str, str], code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def job(model: Path) -> JobSpec:
    return JobSpec(
        model=model_ref(model), framework="example-numpy", stopping=QUICK, data=InputData(count=4), timeout_s=60
    )


def test_the_entry_point_registers_the_backend(plugin_env: dict[str, str]) -> None:
    code = """if True:
        import json
        from importlib.metadata import entry_points
        from deploybench.backends.registry import registered
        (ep,) = [ep for ep in entry_points(group="deploybench.backends") if ep.name == "example-numpy"]
        print(json.dumps({"registered": registered(), "value": ep.value, "dist": ep.dist.name}))
    """
    found = json.loads(python(plugin_env, code))
    assert found["registered"]["example-numpy"] == found["value"] == "deploybench_example_backend:NumpyBackend"
    assert found["dist"] == "deploybench-example-backend"
    assert {"onnxruntime", "onnx-reference"} <= set(found["registered"])
    assert "example-numpy" not in registered()


def test_the_example_keeps_the_contract(plugin_env: dict[str, str], models: Path, tmp_path: Path) -> None:
    code = """if True:
        import json, sys
        from pathlib import Path
        from deploybench.backends.contract import check_backend
        from deploybench.backends.registry import load_backend
        print(json.dumps(check_backend(load_backend("example-numpy"), Path(sys.argv[1]), Path(sys.argv[2]))))
    """
    assert json.loads(python(plugin_env, code, str(models / "tiny.onnx"), str(tmp_path))) == []


def test_a_job_runs_on_the_example_backend(plugin_env: dict[str, str], models: Path) -> None:
    record = run_in_worker(job(models / "tiny.onnx"), env=plugin_env)
    assert record.status is Status.OK, record.failure
    assert record.fidelity is not None and record.fidelity.reference.startswith("onnx-reference ")
    (output,) = record.fidelity.outputs
    assert output.name == "probabilities" and output.cosine_similarity > 0.9999
    assert record.fidelity.top1_agreement == 1.0
    assert record.provenance is not None and record.provenance.settings == {"compute_dtype": "float32"}
    assert record.provenance.framework_version.startswith("0.1.0 (NumPy ")


def test_an_operator_it_lacks_is_named(plugin_env: dict[str, str], models: Path) -> None:
    record = run_in_worker(job(models / "sigmoid.onnx"), env=plugin_env)
    assert record.status is Status.FAILED and record.failure is not None
    assert record.failure.phase == "prepare" and record.failure.error_type == "BackendError"
    assert "unsupported operator `Sigmoid`" in record.failure.message
