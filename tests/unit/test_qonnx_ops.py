"""QONNX's quantization operators in the ONNX reference evaluator: a QONNX graph evaluates as QONNX defines it
(scale, clamp to the bit width, round half to even, rescale), and without the qonnx package it is refused in one
line that names the operator and the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from deploybench.backends.onnx_reference import OnnxReferenceBackend
from deploybench.core.errors import ConfigurationError


def _quant_graph(path: Path) -> Path:
    """x -> Quant(scale 0.5, zero point 0, 4 bits, signed, ROUND): a 4-bit signed quantizer spans -8..7."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    domain = "qonnx.custom_op.general"
    graph = helper.make_graph(
        [
            helper.make_node(
                "Quant", ["x", "scale", "zero", "bits"], ["q"], domain=domain, signed=1, narrow=0, rounding_mode="ROUND"
            ),
            helper.make_node("Identity", ["q"], ["y"]),
        ],
        "quant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [
            numpy_helper.from_array(np.array(0.5, np.float32), "scale"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
            numpy_helper.from_array(np.array(4.0, np.float32), "bits"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)])
    proto.ir_version = 8
    onnx.save(proto, str(path))
    return path


def test_a_quant_node_scales_clamps_rounds_half_to_even_and_rescales(tmp_path: Path) -> None:
    pytest.importorskip("qonnx")
    backend = OnnxReferenceBackend()
    session = backend.open_session(backend.prepare(_quant_graph(tmp_path / "q.onnx"), {}, tmp_path))
    x = np.array([[0.6, -10.0, 3.3, 1.25, 0.75]], np.float32)
    # x / 0.5 = 1.2, -20, 6.6, 2.5, 1.5 -> clamped to -8..7 -> 1.2, -8, 6.6, 2.5, 1.5 -> half to even: 1, -8, 7, 2, 2
    assert session.infer({"x": x})["y"].tolist() == [[0.5, -4.0, 3.5, 1.0, 1.0]]


def test_a_qonnx_graph_without_the_qonnx_package_names_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "qonnx.custom_op.registry", None)
    backend = OnnxReferenceBackend()
    prepared = backend.prepare(_quant_graph(tmp_path / "q.onnx"), {}, tmp_path)
    with pytest.raises(ConfigurationError) as raised:
        backend.open_session(prepared)
    assert "QONNX operator Quant" in str(raised.value) and "deploybench[fpga]" in raised.value.hint
