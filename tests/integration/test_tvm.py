"""Apache TVM measured for real in a worker: compiled once for a symbolic batch, settings recorded, errors named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.jobs import assert_faithful_single_stream, quick_job, require
from tests.support.models import tiny_classifier

from deploybench.backends.onnx_reference import OnnxReferenceBackend
from deploybench.backends.tvm import THREADS_ENV, TvmBackend
from deploybench.core.errors import BackendError
from deploybench.core.records import ResultRecord, Scenario, ScenarioKind, Status
from deploybench.worker.launcher import run_in_worker

FEATURES = 8


@pytest.fixture(autouse=True)
def _tvm_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without TVM, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there; restore TVM_NUM_THREADS after."""
    require(TvmBackend())
    monkeypatch.delenv(THREADS_ENV, raising=False)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES)


def measure(model: Path, **changes: object) -> ResultRecord:
    """Run a tvm job on model in a worker."""
    return run_in_worker(quick_job(model, "tvm", **changes))


def test_single_stream_records_every_setting(model: Path) -> None:
    record = measure(model)
    assert_faithful_single_stream(record)
    assert record.provenance is not None and record.provenance.framework_version == TvmBackend().probe().version
    settings = record.provenance.settings
    assert (settings["threads"], settings["opt_level"], settings["tuning"]) == (1, 3, "none")
    assert str(settings["target"]).startswith('{"kind":"llvm"') and '"mcpu":' in str(settings["target"])
    assert record.resources is not None and record.resources.prepare_s is not None and record.resources.prepare_s > 0


def test_offline_batches_share_one_executable(model: Path) -> None:
    scenario = Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=(1, 4))
    record = measure(model, scenario=scenario, settings={"threads": 1, "opt_level": 2})
    assert record.status is Status.OK, record.failure
    assert [m.batch_size for m in record.measurements] == [1, 4]
    assert all(m.throughput_per_s > 0 for m in record.measurements)
    assert record.fidelity is not None and record.fidelity.outputs[0].cosine_similarity > 0.9999
    assert record.provenance is not None and record.provenance.settings["opt_level"] == 2


def test_batches_of_four_match_the_reference_and_the_pool_size_is_recorded(model: Path, tmp_path: Path) -> None:
    backend = TvmBackend()
    x = np.random.default_rng(1).standard_normal((4, FEATURES)).astype(np.float32)
    reference = OnnxReferenceBackend()
    expected = reference.open_session(reference.prepare(model, {}, tmp_path)).infer({"input": x})["probabilities"]
    for threads in (2, 1):  # each prepare reads the size a pool started now gets
        workdir = tmp_path / f"threads-{threads}"
        workdir.mkdir()
        prepared = backend.prepare(model, {"threads": threads}, workdir)
        assert prepared.settings["threads"] == threads
    session = backend.open_session(prepared)
    assert [(i.name, i.shape, i.dtype) for i in session.inputs()] == [("input", ("batch", FEATURES), "float32")]
    session.bind({"input": x})
    session.run()
    np.testing.assert_allclose(session.outputs()["probabilities"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(BackendError, match="input `input` takes float32, the feed is float64"):
        session.infer({"input": x.astype(np.float64)})
    session.close()


def test_an_operator_the_frontend_lacks_is_named(tmp_path: Path) -> None:
    record = measure(celu_model(tmp_path / "celu.onnx"))
    assert record.failure is not None and record.failure.phase == "prepare"
    assert "The following operators are not supported for frontend ONNX: Celu" in record.failure.message


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"thread": 2}, "tvm: unknown setting `thread`"),
        ({"tuning": "meta-schedule"}, "tvm: `tuning` = 'meta-schedule' is not supported"),
        ({"opt_level": 5}, "tvm: `opt_level` = 5 must be 0, 1, 2 or 3"),
        ({"target": '{"kind": "cuda"}'}, "tvm: `target` kind `cuda` is not a CPU target"),
    ],
)
def test_bad_settings_are_refused(model: Path, settings: dict[str, object], words: str) -> None:
    record = measure(model, settings=settings)
    assert record.failure is not None and record.failure.phase == "prepare"
    assert words in record.failure.message


def test_a_truncated_model_fails_at_prepare(model: Path) -> None:
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    record = measure(model)
    assert record.failure is not None and record.failure.phase == "prepare"
    assert record.failure.error_type == "BackendError" and "not a readable ONNX model" in record.failure.message


def celu_model(path: Path) -> Path:
    """A valid ONNX model with a Celu node, which TVM 0.26's Relax ONNX frontend does not convert."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Celu", ["input"], ["output"], alpha=1.0)],
        "celu",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", FEATURES])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
