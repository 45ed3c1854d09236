"""LiteRT for real: the interpreter in this environment on `.tflite` files, and in its own toolchain environment
(onnx2tf, TensorFlow) on ONNX models, through the same worker protocol; conversion failures and a missing
toolchain say what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import assert_faithful_single_stream, quick_job, require, require_toolchain
from tests.support.models import tiny_classifier
from tests.support.tflite_models import tiny_tflite

from deploybench.backends.base import Backend
from deploybench.backends.litert import LiteRtBackend, LiteRtReferenceBackend
from deploybench.backends.onnx2tf_log import conversion_failure
from deploybench.core.errors import BackendError
from deploybench.core.hashing import file_sha256
from deploybench.core.records import Status
from deploybench.worker.launcher import run_in_worker, support_in_worker
from deploybench.worker.placement import Environment, Placer
from deploybench.worker.toolchains import HOME_ENV, Installed

FEATURES, CLASSES = 8, 4


def softmax(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    logits = x.astype(np.float64) @ weights + bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture
def tflite(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    return tiny_tflite(tmp_path / "tiny.tflite", FEATURES, CLASSES)


@pytest.fixture(scope="module")
def toolchain() -> Installed:
    """The installed `litert` toolchain environment (`make test` installs it); a skip without it, a failure
    when DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    return require_toolchain("litert")


@pytest.mark.parametrize("backend", [LiteRtBackend(), LiteRtReferenceBackend()], ids=lambda b: b.name)
@pytest.mark.parametrize("delegate", ["xnnpack", "none"])
def test_the_interpreter_computes_the_model(
    backend: Backend, delegate: str, tflite: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    require(backend)
    path, weights, bias = tflite
    settings: dict[str, int | str] = {"threads": 1, "delegate": delegate} if backend.name == "litert" else {}
    session = backend.open_session(backend.prepare(path, dict(settings), tmp_path))
    assert [(i.name, i.shape, i.dtype) for i in session.inputs()] == [("input", (None, FEATURES), "float32")]
    x = np.random.default_rng(1).standard_normal((3, FEATURES)).astype(np.float32)
    session.bind({"input": x})
    session.run()
    np.testing.assert_allclose(session.outputs()["probabilities"], softmax(x, weights, bias), atol=1e-6)
    np.testing.assert_allclose(
        session.infer({"input": x[:1]})["probabilities"], softmax(x[:1], weights, bias), atol=1e-6
    )
    session.close()


def test_settings_are_resolved_and_checked(tflite: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    backend = LiteRtBackend()
    require(backend)
    prepared = backend.prepare(tflite[0], {"threads": 2}, tmp_path)
    assert prepared.settings == {"threads": 2, "delegate": "xnnpack"} and prepared.prepare_s is None
    with pytest.raises(BackendError, match=r"`delegate` = 'gpu'.*xnnpack, none"):
        backend.prepare(tflite[0], {"delegate": "gpu"}, tmp_path)


def test_a_file_that_is_not_a_flatbuffer_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(BackendError, match=r"bogus.tflite is not a TFLite flatbuffer"):
        LiteRtBackend().prepare(bogus, {}, tmp_path)


def test_onnx2tf_failures_name_the_node_and_the_reason() -> None:
    log = (
        "\x1b[31mERROR:\x1b[0m DFT input last dimension must be 1 or 2.\n"
        "\x1b[31mERROR:\x1b[0m The trace log is below.\nTraceback ...\n"
        "\x1b[31mERROR:\x1b[0m onnx_op_name: sng_DFT_1\n"
    )
    assert conversion_failure(log) == "at node `sng_DFT_1`: DFT input last dimension must be 1 or 2."
    assert conversion_failure("Traceback\nSystemExit: 1\n") == "SystemExit: 1"
    keras = (
        '\x1b[31mERROR:\x1b[0m The trace log is below.\nTraceback (most recent call last):\n  File "x.py"\n'
        "ValueError: Exception encountered when calling layer 'tf.concat_6' (type TFOpLambda).\n\n"
        "Dimension 1 in both shapes must be equal, but are 80 and 40.\n\n"
        "Call arguments received by layer 'tf.concat_6' (type TFOpLambda):\n  • axis=1\n  • name='wa/head/Concat_6'\n"
        "\x1b[31mERROR:\x1b[0m input_onnx_file_path: /tmp/yolo.onnx\n"
        "\x1b[31mERROR:\x1b[0m onnx_op_name: wa/head/Concat_6\n"
        "\x1b[31mERROR:\x1b[0m Read this and deal with it.\n"
    )
    assert conversion_failure(keras) == (
        "at node `/head/Concat_6`: ValueError: Dimension 1 in both shapes must be equal, but are 80 and 40."
    )
    absl = "W0000 00:00:1795900678.769546   20881 computation_placer.cc:177] computation placer already registered."
    assert conversion_failure(f"Model loaded\n{absl}\n", -9) == (
        "onnx2tf was killed by signal 9 (SIGKILL); its last line: Model loaded"
    )
    assert conversion_failure(f"{absl}\n", 2) == "onnx2tf stopped without a message (exit status 2)"


def test_other_backends_on_a_tflite_model_are_checked_against_litert_reference(
    tflite: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    from deploybench.backends.openvino import OpenVinoBackend

    require(OpenVinoBackend())
    require(LiteRtReferenceBackend())
    record = run_in_worker(quick_job(tflite[0], "openvino"))
    assert_faithful_single_stream(record)
    assert record.fidelity is not None and record.fidelity.reference.startswith("litert-reference ")


def test_an_onnx_model_runs_converted_in_the_toolchain_environment(toolchain: Installed, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    environment, status = Placer().place("litert", "onnx")
    assert environment is not None and environment.name == "litert" and environment.python == toolchain.python
    assert "onnx" in status.input_formats
    record = run_in_worker(quick_job(model, "litert"), python=environment.python, env=environment.worker_env())
    assert_faithful_single_stream(record)
    assert record.provenance is not None and record.provenance.environment == "litert"
    assert record.provenance.converter == "onnx2tf 1.29.24, inputs in the ONNX model's layout"
    assert record.provenance.settings == {"threads": 1, "delegate": "xnnpack"}
    assert record.provenance.framework_version == "2.1.0"
    assert record.resources is not None and record.resources.prepare_s is not None and record.resources.prepare_s > 0
    assert record.fidelity is not None and record.fidelity.reference.startswith("onnx-reference ")
    assert file_sha256(model) == record.job.model.sha256, "onnx2tf must convert a copy, never the user's file"


def test_an_operator_onnx2tf_cannot_convert_is_a_failed_result_naming_it(toolchain: Installed, tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Frobnicate", ["input"], ["output"], domain="com.example", name="frob")],
        "custom",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, FEATURES])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, FEATURES])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    environment, _ = Placer().place("litert", "onnx")
    assert environment is not None
    record = run_in_worker(quick_job(path, "litert"), python=environment.python, env=environment.worker_env())
    assert record.status is Status.FAILED and record.failure is not None
    assert record.failure.phase == "prepare"
    assert "onnx2tf cannot convert custom.onnx" in record.failure.message
    assert "Frobnicate OP is not yet implemented" in record.failure.message


def test_the_cli_runs_litert_from_its_toolchain(toolchain: Installed, cli: Run, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    quick = ["--min-samples", "20", "--min-duration", "0.05", "--max-duration", "0.5", "--count", "4"]
    status, out, err = cli("run", str(model), "-F", "litert", "--threads", "1", "--db", db, *quick)
    assert status == 0, err
    assert "│ litert " in out
    status, out, err = cli("backends", "--format", "json")
    assert status == 0, err
    assert '"environment": "litert"' in out


def test_a_missing_toolchain_gives_the_command_that_installs_it(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "no-toolchains"))
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    status, out, err = cli("run", str(model), "-F", "litert", "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert status == 2 and out == ""
    assert err.strip().splitlines()[-1] == (
        "error: framework `litert` cannot run here: runs from toolchain `litert`, which is not installed: "
        "run `deploybench toolchain install litert`"
    )
    status, out, err = cli("backends", "--format", "json")
    assert status == 0, err
    assert "toolchain not installed: run `deploybench toolchain install litert`" in out
    placed = {status.name: status for status in Placer().placed_statuses("onnx")}
    assert placed["litert"].available is False
    assert placed["litert"].reason == (
        "runs from toolchain `litert`, which is not installed: run `deploybench toolchain install litert`"
    )


def test_an_onnx_models_operators_are_checked_through_the_converter(toolchain: Installed, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    (support,) = support_in_worker(
        model, toolchain.python, Environment("litert", toolchain.python).worker_env(), only=["litert"]
    )
    assert support.error is None and support.source.startswith("onnx2tf 1.29.24 conversion, then litert 2.1.0")
    assert [(n.op_type, n.supported) for n in support.nodes] == [
        ("FULLY_CONNECTED", True),
        ("ADD", True),
        ("SOFTMAX", True),
    ]


def test_a_node_onnx2tf_cannot_convert_is_the_one_refused(toolchain: Installed, tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["input"], ["r"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["output"], domain="com.example", name="frob"),
        ],
        "custom",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, FEATURES])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, FEATURES])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "custom.onnx"))
    environment = Environment("litert", toolchain.python)
    (support,) = support_in_worker(
        tmp_path / "custom.onnx", toolchain.python, environment.worker_env(), only=["litert"]
    )
    assert [(n.op_type, n.supported) for n in support.nodes] == [("Relu", True), ("com.example.Frobnicate", False)]
    assert "Frobnicate OP is not yet implemented" in str(support.nodes[1].reason)
