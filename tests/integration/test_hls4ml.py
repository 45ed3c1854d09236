"""hls4ml's FPGA flow on this machine: the model converted through QONNX and hls4ml and its bit-accurate C
simulation compiled with g++; its outputs checked against the FP32 reference at each fixed-point precision asked
for; what the simulation cannot measure said; an operator hls4ml does not convert named in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.models import relu_policy


@pytest.fixture(autouse=True)
def _require() -> None:
    from deploybench.backends.hls4ml_csim import Hls4mlBackend

    found = Hls4mlBackend().probe()
    if not found.available:
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"hls4ml not available (DEPLOYBENCH_REQUIRE_BACKENDS is set): {found.reason}")
        pytest.skip(found.reason or "hls4ml not available")


def test_the_c_simulation_runs_at_each_precision_and_wider_is_closer(cli: Run, tmp_path: Path) -> None:
    model = relu_policy(tmp_path / "mlp.onnx")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    status, out, err = cli(
        "run", str(model), "-F", "hls4ml", "--set", "precision=fixed<10,4>,fixed<32,16>", "--count", "12", "--db", db
    )
    assert status == 0, err
    assert "simulated (hls4ml" in out
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    records = {r["job"]["settings"]["precision"]: r for r in json.loads(listed)}
    assert set(records) == {"fixed<10,4>", "fixed<32,16>"}
    narrow, wide = records["fixed<10,4>"], records["fixed<32,16>"]
    for record in (narrow, wide):
        assert record["measurements"] == [] and record["emulation"] is None
        assert "C simulation" in record["simulation"]["simulator"] and "g++" in record["simulation"]["simulator"]
        assert "Vitis HLS synthesis" in record["simulation"]["not_measured"]
        assert record["simulation"]["prepare_s"] > 0
        assert record["fidelity"]["inputs"] == 12
    error = {p: r["fidelity"]["outputs"][0]["max_abs_error"] for p, r in records.items()}
    assert error["fixed<32,16>"] < 1e-2 < error["fixed<10,4>"]
    assert wide["fidelity"]["top1_agreement"] == 1.0


def test_a_leading_scaling_is_folded_into_the_next_layer_without_changing_the_function(tmp_path: Path) -> None:
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from deploybench.backends.hls4ml_csim import _fold_input_scaling

    rng = np.random.default_rng(3)
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["sixteen"], value=numpy_helper.from_array(np.array(16.0, np.float32))),
            helper.make_node("Div", ["x", "sixteen"], ["scaled"], name="div"),
            helper.make_node("Conv", ["scaled", "kernel", "bias"], ["y"], name="conv", pads=[1, 1, 1, 1]),
        ],
        "scaled-conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [
            numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "kernel"),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "bias"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "scaled.onnx"))
    folding = onnx.load(str(tmp_path / "scaled.onnx"))
    _fold_input_scaling(folding, "x")
    folded = tmp_path / "folded.onnx"
    onnx.save(folding, str(folded))
    assert "Div" not in {node.op_type for node in onnx.load(str(folded)).graph.node}
    x = rng.uniform(0, 16, (1, 1, 6, 6)).astype(np.float32)
    before, after = (
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        for path in (tmp_path / "scaled.onnx", folded)
    )
    assert np.abs(before - after).max() < 1e-5


def test_an_operator_hls4ml_does_not_convert_is_named(cli: Run, tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
            helper.make_node("Sin", ["h"], ["y"], name="sine"),
        ],
        "sine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(np.ones((4, 3), np.float32), "w")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "sine.onnx"))
    status, _, err = cli("run", str(tmp_path / "sine.onnx"), "-F", "hls4ml", "--count", "2")
    assert status != 0 and "Traceback" not in err
    assert "sine.onnx: hls4ml cannot convert it" in err and "Sin" in err
