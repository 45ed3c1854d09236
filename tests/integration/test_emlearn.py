"""emlearn's C code for dense networks as Cortex-M7 firmware in QEMU: checked against ONNX Runtime on the same
inputs, run from the CLI into the store, and each model emlearn cannot take refused in one line naming the node."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.firmware import require_firmware_tools
from tests.support.models import dense_policy, tiny_classifier

from deploybench.backends.cortexm.firmware import board, build, run
from deploybench.core.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _require() -> None:
    require_firmware_tools()
    from deploybench.backends.emlearn_net import probe

    if not probe().available:
        pytest.skip(probe().reason or "emlearn not installed")


def test_emlearn_firmware_agrees_with_onnxruntime_and_counts_the_same_instructions_every_run(tmp_path: Path) -> None:
    import onnxruntime

    from deploybench.backends.emlearn_net import model_code

    model = dense_policy(tmp_path / "policy.onnx")
    before = np.geterr()
    code = model_code(model, tmp_path / "generated")
    assert np.geterr() == before, "importing emlearn changed NumPy's floating-point error handling"
    firmware = build(code, tmp_path / "firmware", board())
    inputs = np.random.default_rng(3).standard_normal((5, 2, 4)).astype(np.float32)
    first = run(firmware, code, inputs.reshape(5, -1))
    again = run(firmware, code, inputs.reshape(5, -1))
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"x": inputs})[0]
    got = np.stack([row["output0"] for row in first.outputs])
    assert code.input_shape == (1, 2, 4) and code.output_shapes == ((1, 2),) and code.output_names == ("action",)
    assert np.abs(got - reference).max() < 1e-4
    assert (got.argmax(axis=1) == reference.argmax(axis=1)).all()
    assert first.instructions == again.instructions and all(count > 0 for count in first.instructions)


def test_the_emlearn_cortexm_framework_runs_from_the_cli_and_stores_the_firmware_figures(
    cli: Run, tmp_path: Path
) -> None:
    model = dense_policy(tmp_path / "policy.onnx")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    status, out, err = cli("run", str(model), "-F", "emlearn-cortexm", "--count", "4", "--set", "optimization=Os")
    assert status == 0, err
    status, out, err = cli("run", str(model), "-F", "emlearn-cortexm", "--count", "4", "--db", db)
    assert status == 0, err
    assert "emulated cortex-m7" in out
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    (record,) = json.loads(listed)
    emulation = record["emulation"]
    assert emulation["generator"].startswith("emlearn ") and len(emulation["instructions"]) == 4
    assert emulation["prepare_s"] > 0
    weights = 4 * (8 * 16 + 16 + 16 * 3 + 3 + 3 * 2 + 2)
    assert emulation["model_flash_bytes"] > weights
    (output,) = record["fidelity"]["outputs"]
    assert output["name"] == "action" and output["max_abs_error"] < 1e-4


def _conv(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.ones((2, 1, 3, 3), dtype=np.float32), "kernel")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "kernel"], ["y"], name="conv0")],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_node_emlearn_cannot_take_is_named_with_the_framework_that_would(cli: Run, tmp_path: Path) -> None:
    status, _, err = cli("run", str(_conv(tmp_path / "conv.onnx")), "-F", "emlearn-cortexm", "--count", "2")
    assert status != 0
    assert "emlearn cannot take node conv0 (Conv)" in err and "aidge-cortexm" in err
    assert "Traceback" not in err


def test_a_single_dense_layer_gets_an_identity_layer_after_it_and_computes_the_same(tmp_path: Path) -> None:
    import onnxruntime

    from deploybench.backends.emlearn_net import dense_network, model_code

    model = tiny_classifier(tmp_path / "one.onnx")
    ((_, _, layers),) = dense_network(model).heads
    assert len(layers) == 2 and layers[0].activation == "softmax" and layers[1].nodes == ["(identity)"]
    code = model_code(model, tmp_path / "generated")
    firmware = build(code, tmp_path / "firmware", board())
    rows = np.random.default_rng(9).standard_normal((4, 8)).astype(np.float32)
    got = np.stack([row["output0"] for row in run(firmware, code, rows).outputs])
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = np.concatenate([session.run(None, {"input": row[None]})[0] for row in rows])
    assert np.abs(got - expected).max() < 1e-5


def test_a_dense_network_too_large_for_the_flash_is_refused_by_how_much(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from deploybench.backends.emlearn_cortexm import EmlearnCortexMBackend

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
            helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2"),
        ],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1100])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [
            numpy_helper.from_array(np.zeros((1100, 1200), dtype=np.float32), "w1"),
            numpy_helper.from_array(np.zeros((1200, 2), dtype=np.float32), "w2"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "wide.onnx"))
    with pytest.raises(
        ConfigurationError, match=r"weights alone \(5\.0 MiB\) exceed .* flash \(4\.0 MiB\) by 1\.0 MiB"
    ):
        EmlearnCortexMBackend().prepare(tmp_path / "wide.onnx", {}, tmp_path / "work")
    assert not (tmp_path / "work" / "code").exists()


def _two_heads(path: Path, merged: bool) -> Path:
    """An actor-critic policy: two dense chains from one input (an action's logits and a value), or, merged,
    the two added together."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    shapes = {"pw1": (4, 8), "pb1": (8,), "pw2": (8, 2), "pb2": (2,), "vw1": (4, 8), "vb1": (8,), "vw2": (8, 2)}
    nodes = [
        helper.make_node("Gemm", ["x", "pw1", "pb1"], ["p1"], name="pi1"),
        helper.make_node("Tanh", ["p1"], ["pa"], name="pi_tanh"),
        helper.make_node("Gemm", ["pa", "pw2", "pb2"], ["logits"], name="pi2"),
        helper.make_node("Gemm", ["x", "vw1", "vb1"], ["v1"], name="vf1"),
        helper.make_node("Tanh", ["v1"], ["va"], name="vf_tanh"),
        helper.make_node("MatMul", ["va", "vw2"], ["value"], name="vf2"),
    ]
    outputs = ["logits", "value"]
    if merged:
        nodes.append(helper.make_node("Add", ["logits", "value"], ["both"], name="merge"))
        outputs = ["both"]
    graph = helper.make_graph(
        nodes,
        "actor-critic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 2]) for name in outputs],
        [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), n) for n, shape in shapes.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_each_output_of_an_actor_critic_gets_its_own_dense_chain(tmp_path: Path) -> None:
    import onnxruntime

    from deploybench.backends.emlearn_cortexm import EmlearnCortexMBackend

    model = _two_heads(tmp_path / "ac.onnx", merged=False)
    backend = EmlearnCortexMBackend()
    session = backend.open_session(backend.prepare(model, {}, tmp_path / "work"))
    feeds = [{"x": row[None, :]} for row in np.random.default_rng(2).standard_normal((4, 4)).astype(np.float32)]
    outputs, emulation = session.emulate(feeds)
    reference = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for feed, got in zip(feeds, outputs, strict=True):
        expected = dict(zip(("logits", "value"), reference.run(None, feed), strict=True))
        assert set(got) == {"logits", "value"}
        for name in ("logits", "value"):
            assert got[name].shape == (1, 2) and np.abs(got[name] - expected[name]).max() < 1e-4
    assert len(emulation.instructions) == 4


def test_a_node_merging_two_computed_tensors_is_named(tmp_path: Path) -> None:
    from deploybench.backends.emlearn_net import model_code

    with pytest.raises(ConfigurationError, match=r"emlearn cannot take node merge \(Add\): it takes 2 computed"):
        model_code(_two_heads(tmp_path / "merged.onnx", merged=True), tmp_path / "generated")
