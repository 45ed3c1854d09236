"""OpenVINO measured for real in a worker: settings read back from the compiled model, fidelity, errors."""

from __future__ import annotations

import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.jobs import assert_faithful_single_stream, quick_job, require
from tests.support.models import tiny_classifier

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
    path, weights, bias = tiny_tflite(tmp_path / "tiny.tflite")
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


def tiny_tflite(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The tiny classifier as a TFLite flatbuffer (FULLY_CONNECTED + SOFTMAX, dynamic batch); weights and bias."""
    flatbuffers = _needed("flatbuffers")
    schema = _needed("ai_edge_litert.schema_py_generated")
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((FEATURES, CLASSES)).astype(np.float32)
    bias = rng.standard_normal(CLASSES).astype(np.float32)

    def tensor(name: str, shape: list[int], buffer: int) -> object:
        made = schema.TensorT()
        made.name, made.type, made.buffer = name, schema.TensorType.FLOAT32, buffer
        made.shape = [1, *shape[1:]] if shape[0] == -1 else shape
        made.shapeSignature = shape if shape[0] == -1 else None
        return made

    def operator(code: int, inputs: list[int], output: int, options_type: int, options: object) -> object:
        made = schema.OperatorT()
        made.opcodeIndex, made.inputs, made.outputs = code, inputs, [output]
        made.builtinOptionsType, made.builtinOptions = options_type, options
        return made

    def buffer(array: np.ndarray | None) -> object:
        made = schema.BufferT()
        made.data = None if array is None else list(array.tobytes())
        return made

    softmax = schema.SoftmaxOptionsT()
    softmax.beta = 1.0
    graph = schema.SubGraphT()
    graph.tensors = [
        tensor("input", [-1, FEATURES], 0),
        tensor("weights", [CLASSES, FEATURES], 1),
        tensor("bias", [CLASSES], 2),
        tensor("logits", [-1, CLASSES], 0),
        tensor("probabilities", [-1, CLASSES], 0),
    ]
    graph.inputs, graph.outputs = [0], [4]
    graph.operators = [
        operator(0, [0, 1, 2], 3, schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT()),
        operator(1, [3], 4, schema.BuiltinOptions.SoftmaxOptions, softmax),
    ]
    codes = []
    for builtin in (schema.BuiltinOperator.FULLY_CONNECTED, schema.BuiltinOperator.SOFTMAX):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        codes.append(code)
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, codes, [graph]
    model.buffers = [buffer(None), buffer(weights.T.copy()), buffer(bias)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path, weights, bias


def _needed(module: str) -> Any:
    """module, imported; a skip without it, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{module} is not installed: the TFLite test model is written with it (pip install ai-edge-litert)"
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(reason)
