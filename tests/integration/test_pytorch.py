"""PyTorch measured for real: eager, TorchScript and the reference on `.pt2` ExportedPrograms, in-process and in
a worker; settings read back, the float64 reference, and the errors a bad file or a bad trace gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.jobs import QUICK, quick_job, require
from tests.support.pytorch_models import tiny_conv_program, tiny_program, tiny_weights

from deploybench.backends.base import Backend
from deploybench.backends.pytorch import TorchBackend, TorchReferenceBackend, TorchScriptBackend
from deploybench.core.errors import BackendError
from deploybench.core.records import ResultRecord, Scenario, ScenarioKind, Status, Timing
from deploybench.worker.launcher import run_in_worker

FEATURES, CLASSES = 8, 4
BACKENDS = {"torch": TorchBackend, "torchscript": TorchScriptBackend, "torch-reference": TorchReferenceBackend}


@pytest.fixture(autouse=True)
def _torch_installed() -> None:
    """Skip without torch, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    require(TorchBackend())


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_program(tmp_path / "tiny.pt2", features=FEATURES, classes=CLASSES)


def expected_probabilities(x: np.ndarray) -> np.ndarray:
    """The tiny classifier's softmax(x @ weights + bias), computed in float64 with NumPy."""
    weights, bias = tiny_weights(FEATURES, CLASSES)
    logits = x.astype(np.float64) @ weights + bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def opened(backend: Backend, model: Path, settings: dict[str, Any], workdir: Path) -> tuple[Any, dict[str, Any]]:
    """A session of backend on model, and the settings prepare resolved."""
    prepared = backend.prepare(model, settings, workdir)
    return backend.open_session(prepared), prepared.settings


def measure(model: Path, framework: str, **changes: object) -> ResultRecord:
    """Run a job of framework on model in a worker."""
    return run_in_worker(quick_job(model, framework, **changes))


@pytest.mark.filterwarnings("error::UserWarning")  # torch.from_numpy warns on a read-only array
@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_each_backend_computes_the_classifier(name: str, model: Path, tmp_path: Path) -> None:
    backend = BACKENDS[name]()
    settings = {} if name == "torch-reference" else {"threads": 1}
    session, _ = opened(backend, model, settings, tmp_path)
    assert [(i.name, i.shape, i.dtype) for i in session.inputs()] == [("input", (None, FEATURES), "float32")]
    x = np.random.default_rng(1).standard_normal((4, FEATURES)).astype(np.float32)
    x.flags.writeable = False
    session.bind({"input": x})
    session.run()
    outputs = session.outputs()
    assert list(outputs) == ["softmax"] and outputs["softmax"].dtype == np.float32
    np.testing.assert_allclose(outputs["softmax"], expected_probabilities(x), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(session.infer({"input": x[:1]})["softmax"], outputs["softmax"][:1])
    with pytest.raises(BackendError, match=f"{name}: input `input` takes float32, the feed is float64"):
        session.bind({"input": x.astype(np.float64)})
    session.close()


@pytest.mark.parametrize(
    ("name", "settings"), [("torch", {}), ("torchscript", {}), ("torchscript", {"optimize": False})]
)
def test_a_conv_net_matches_its_eager_module_at_every_batch(
    name: str, settings: dict[str, Any], tmp_path: Path
) -> None:
    import torch

    path, module = tiny_conv_program(tmp_path / "conv.pt2")
    session, _ = opened(BACKENDS[name](), path, {"threads": 1, **settings}, tmp_path)
    assert [(i.name, i.shape) for i in session.inputs()] == [("image", (None, 3, 8, 8))]
    for batch in (1, 5, 2):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 8, 8)).astype(np.float32)
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        session.bind({"image": x})
        session.run()
        np.testing.assert_allclose(session.outputs()["softmax"], want, rtol=1e-5, atol=1e-6)
    session.close()


@pytest.mark.parametrize("name", ["torch", "torchscript"])
def test_threads_are_read_back_and_default_to_physical_cores(name: str, model: Path, tmp_path: Path) -> None:
    import psutil
    import torch

    backend = BACKENDS[name]()
    session, settings = opened(backend, model, {"threads": 2}, tmp_path)
    assert settings["threads"] == 2 == torch.get_num_threads()
    session.close()
    assert backend.prepare(model, {}, tmp_path).settings["threads"] == (psutil.cpu_count(logical=False) or 1)


def test_the_reference_runs_in_float64_on_one_thread_and_leaves_the_pool_alone(model: Path, tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(2)
    session, settings = opened(TorchReferenceBackend(), model, {}, tmp_path)
    assert settings == {"precision": "float64"}
    x = np.random.default_rng(2).standard_normal((64, FEATURES)).astype(np.float32)
    got = session.infer({"input": x})["softmax"]
    np.testing.assert_allclose(got, expected_probabilities(x), rtol=0, atol=6e-8)  # float32 rounding alone
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
    session.close()


def test_a_program_that_casts_to_float32_gets_a_native_reference(tmp_path: Path) -> None:
    import torch

    class Casting(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return (x * 3).to(torch.float32) + 1

    path = tmp_path / "casting.pt2"
    torch.export.save(torch.export.export(Casting(), (torch.ones(2, 3),)), str(path))
    backend = TorchReferenceBackend()
    assert backend.prepare(path, {}, tmp_path).settings == {"precision": "native"}
    with pytest.raises(
        BackendError, match=r"cannot run .*casting.pt2 in float64: its float64 run fails \(RuntimeError"
    ):
        backend.prepare(path, {"precision": "float64"}, tmp_path)
    with pytest.raises(BackendError, match=r"torch-reference: `precision` = 'float16'; use one of auto, float64"):
        backend.prepare(path, {"precision": "float16"}, tmp_path)


def test_a_trace_that_fixes_the_batch_size_is_refused(tmp_path: Path) -> None:
    import torch

    class Flatten(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.view(x.shape[0], -1) * 2

    path = tmp_path / "flatten.pt2"
    program = torch.export.export(Flatten(), (torch.ones(2, 3, 4),), dynamic_shapes={"x": {0: torch.export.Dim("b")}})
    torch.export.save(program, str(path))
    words = r"the trace of .*flatten.pt2 does not hold at other sizes of its dynamic dimensions \(The values for"
    with pytest.raises(BackendError, match=words):
        TorchScriptBackend().prepare(path, {"threads": 1}, tmp_path)
    session, _ = opened(TorchBackend(), path, {"threads": 1}, tmp_path)
    x = np.ones((3, 3, 4), dtype=np.float32)
    np.testing.assert_array_equal(session.infer({"x": x})["mul"], np.full((3, 12), 2, dtype=np.float32))


@pytest.mark.parametrize("name", sorted(BACKENDS))
@pytest.mark.parametrize("content", [b"", b"not a zip", "half"])
def test_a_file_that_is_no_exported_program_is_named(name: str, content: Any, model: Path, tmp_path: Path) -> None:
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2] if content == "half" else content)
    with pytest.raises(BackendError, match=f"{name} cannot read {model}: it is not a PyTorch ExportedProgram") as info:
        BACKENDS[name]().prepare(model, {}, tmp_path)
    assert "torch.export.save(torch.export.export(module, example_args), path)" in str(info.value)


@pytest.mark.parametrize("name", ["torch", "torchscript"])
def test_single_stream_in_a_worker_is_checked_against_the_torch_reference(name: str, model: Path) -> None:
    record = measure(model, name)
    assert record.status is Status.OK, record.failure
    (measurement,) = record.measurements
    assert measurement.batch_size == 1 and measurement.summary.count >= QUICK.min_samples
    assert record.provenance is not None and record.provenance.settings["threads"] == 1
    assert record.provenance.framework_version == TorchBackend().probe().version
    assert record.fidelity is not None and record.fidelity.reference.startswith("torch-reference ")
    (output,) = record.fidelity.outputs
    assert output.name == "softmax" and output.cosine_similarity > 0.9999 and output.max_abs_error < 1e-6
    assert record.fidelity.top1_agreement == 1.0
    assert record.resources is not None
    assert (record.resources.prepare_s is None) is (name == "torch")


@pytest.mark.parametrize("timing", [Timing.BOUND, Timing.END_TO_END])
def test_offline_batches_in_a_worker(model: Path, timing: Timing) -> None:
    scenario = Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=(1, 4))
    record = measure(model, "torchscript", scenario=scenario, timing=timing)
    assert record.status is Status.OK, record.failure
    assert [m.batch_size for m in record.measurements] == [1, 4]
    assert all(m.throughput_per_s > 0 for m in record.measurements)


def test_a_bad_file_or_setting_fails_the_worker_at_prepare(model: Path) -> None:
    record = measure(model, "torch", settings={"thread": 1})
    assert record.failure is not None and record.failure.phase == "prepare"
    assert "torch: unknown setting `thread`; torch takes: threads" in record.failure.message
    model.write_bytes(b"not a zip")
    record = measure(model, "torch")
    assert record.failure is not None and record.failure.phase == "prepare"
    assert record.failure.error_type == "BackendError"
    assert f"torch cannot read {model}: it is not a PyTorch ExportedProgram (BadZipFile" in record.failure.message


def test_finding_and_probing_the_backends_imports_no_torch() -> None:
    code = (
        "import sys, json; from deploybench.backends.registry import load_backend\n"
        "for name in ('torch', 'torchscript', 'torch-reference'):\n"
        "    backend = load_backend(name); backend.probe(); backend.capabilities()\n"
        "print(json.dumps('torch' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) is False
