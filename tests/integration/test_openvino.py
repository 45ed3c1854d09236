"""OpenVINO measured for real in a worker: settings read back from the compiled model, fidelity, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tests.support.jobs import assert_faithful_single_stream, quick_job, require
from tests.support.models import tiny_classifier
from tests.support.tflite_models import tiny_tflite

from deploybench.backends.openvino import OpenVinoBackend
from deploybench.core.records import (
    ResultRecord,
    Scenario,
    ScenarioKind,
    Status,
    Timing,
)
from deploybench.worker.launcher import run_in_worker

FEATURES, CLASSES = 8, 4


@pytest.fixture(autouse=True)
def _openvino_installed() -> None:
    """Skip without OpenVINO, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    require(OpenVinoBackend())


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)


def measure(model: Path, **changes: object) -> ResultRecord:
    """Run a openvino job on model in a worker."""
    return run_in_worker(quick_job(model, "openvino", **changes))


def test_single_stream_in_f32(model: Path) -> None:
    record = measure(model)
    assert_faithful_single_stream(record)
    assert record.provenance is not None
    assert record.provenance.settings == {"threads": 1, "precision": "f32", "performance_hint": "latency", "streams": 1}
    assert record.provenance.framework_version == OpenVinoBackend().probe().version
    assert record.resources is not None and record.resources.prepare_s is not None and record.resources.prepare_s > 0


@pytest.mark.parametrize("timing", [Timing.BOUND, Timing.END_TO_END])
def test_offline_batches_on_the_dynamic_batch_axis(model: Path, timing: Timing) -> None:
    scenario = Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=(1, 4))
    record = measure(model, scenario=scenario, timing=timing)
    assert record.status is Status.OK, record.failure
    assert [m.batch_size for m in record.measurements] == [1, 4]
    assert all(m.throughput_per_s > 0 for m in record.measurements)


def test_bf16_is_recorded_as_bf16_and_is_no_closer_than_f32(model: Path) -> None:
    import openvino

    bf16 = measure(model, settings={"threads": 1, "precision": "bf16"})
    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        assert bf16.failure is not None and bf16.failure.phase == "prepare"
        assert "precision `bf16` was asked, the compiled model runs in `f32`" in bf16.failure.message
        return
    f32 = measure(model)
    assert bf16.status is Status.OK and f32.status is Status.OK, (bf16.failure, f32.failure)
    assert bf16.provenance is not None and bf16.provenance.settings["precision"] == "bf16"
    assert bf16.fidelity is not None and f32.fidelity is not None
    assert bf16.fidelity.outputs[0].max_abs_error >= f32.fidelity.outputs[0].max_abs_error


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"thread": 2}, "openvino: unknown setting `thread`"),
        ({"precision": "int8"}, "openvino: `precision` = 'int8'; use one of f32, bf16, f16"),
        ({"performance_hint": "fast"}, "openvino: `performance_hint` = 'fast'; use one of latency, throughput"),
    ],
)
def test_bad_settings_are_refused(model: Path, settings: dict[str, object], words: str) -> None:
    record = measure(model, settings=settings)
    assert record.failure is not None and record.failure.phase == "prepare"
    assert words in record.failure.message


def test_a_truncated_model_fails_at_prepare_with_openvinos_reason(model: Path) -> None:
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    record = measure(model)
    assert record.failure is not None and record.failure.phase == "prepare"
    assert f"openvino cannot read {model}: Model can't be parsed" in record.failure.message


def test_concurrent_infer_calls_get_their_own_answers(model: Path, tmp_path: Path) -> None:
    backend = OpenVinoBackend()
    assert backend.capabilities().concurrent_sessions
    session = backend.open_session(backend.prepare(model, {"threads": 1}, tmp_path))
    rng = np.random.default_rng(3)
    feeds = [{"input": rng.standard_normal((1 + i % 4, FEATURES)).astype(np.float32)} for i in range(64)]
    expected = [session.infer(f)["probabilities"] for f in feeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(session.infer, feeds))
    session.close()
    for answer, want in zip(answers, expected, strict=True):
        np.testing.assert_array_equal(answer["probabilities"], want)


def test_infer_between_runs_leaves_bound_inputs_and_caller_arrays_alone(model: Path, tmp_path: Path) -> None:
    # OpenVINO 2026.4's CPU plugin writes another request's inputs into arrays set on a request (dynamic shapes).
    backend = OpenVinoBackend()
    session = backend.open_session(backend.prepare(model, {"threads": 1}, tmp_path))
    rng = np.random.default_rng(5)
    x, other = (rng.standard_normal((1, FEATURES)).astype(np.float32) for _ in range(2))
    kept = x.copy()
    session.bind({"input": x})
    session.run()
    first = session.outputs()["probabilities"]
    session.infer({"input": other})
    np.testing.assert_array_equal(x, kept)
    session.run()
    np.testing.assert_array_equal(session.outputs()["probabilities"], first)
    session.close()


def test_a_tflite_model_is_read_too(tmp_path: Path) -> None:
    path, weights, bias = tiny_tflite(tmp_path / "tiny.tflite", FEATURES, CLASSES)
    backend = OpenVinoBackend()
    assert "tflite" in backend.capabilities().input_formats
    session = backend.open_session(backend.prepare(path, {"threads": 1}, tmp_path))
    x = np.random.default_rng(4).standard_normal((4, FEATURES)).astype(np.float32)
    logits = x.astype(np.float64) @ weights + bias
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert [(i.name, i.shape, i.dtype) for i in session.inputs()] == [("input", (None, FEATURES), "float32")]
    session.bind({"input": x})
    session.run()
    np.testing.assert_allclose(session.outputs()["probabilities"], want, atol=1e-6)
    np.testing.assert_allclose(session.infer({"input": x[:1]})["probabilities"], want[:1], atol=1e-6)
    session.close()
