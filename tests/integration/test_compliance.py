"""Layer compliance for real: ONNX Runtime's kernel registry and OpenVINO's ONNX frontend asked about models
whose support is known (a custom-domain operator nobody takes, a string operator only ONNX Runtime takes, a
function operator ONNX Runtime expands), checked against real runs; the verdict logic; the CLI."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Run
from tests.support.jobs import require

from deploybench.backends.onnxruntime import OnnxRuntimeBackend
from deploybench.backends.openvino import OpenVinoBackend
from deploybench.core.records import NodeSupport, OperatorSupport
from deploybench.select.compliance import Verdict, compliance_of

STRING_TEST = "test_strnormalizer_export_monday_casesensintive_nochangecase"
"""A node test of the onnx package: StringNormalizer dropping the stop word `monday` from four week days."""


def custom_model(path: Path) -> Path:
    """Relu, then an unnamed operator of a domain no framework knows."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["y"], domain="com.example"),
        ],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def node_test_model(op_type: str, name: str, path: Path) -> Path:
    """A model of the onnx package's own node tests."""
    return node_test_case(op_type, name, path)[0]


def node_test_case(op_type: str, name: str, path: Path) -> tuple[Path, list[Any]]:
    """A model of the onnx package's own node tests (of operator op_type), and the inputs of its first data set."""
    case = node_test_cases()[name]
    assert case.model.graph.node[0].op_type == op_type
    path.write_bytes(case.model.SerializeToString())
    return path, list(case.data_sets[0][0])


@cache
def node_test_cases() -> dict[str, Any]:
    """Every node test case of the onnx package, by name (onnx collects them once per process)."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {case.name: case for case in node.collect_testcases()}


@pytest.mark.parametrize("backend", [OnnxRuntimeBackend(), OpenVinoBackend()], ids=lambda b: b.name)
def test_an_unknown_domain_is_refused_by_name(backend: OnnxRuntimeBackend, tmp_path: Path) -> None:
    require(backend)
    nodes, issues, source = backend.operator_support(custom_model(tmp_path / "custom.onnx"))
    assert [(n.node, n.op_type, n.supported) for n in nodes] == [
        ("relu", "Relu", True),
        ("y", "com.example.Frobnicate", False),
    ]
    assert nodes[1].reason in (
        "no CPU kernel for com.example.Frobnicate",
        "the ONNX frontend cannot convert com.example.Frobnicate",
    )
    assert issues == [] and backend.name in source


def test_a_string_operator_only_onnxruntime_takes_runs_there(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime

    require(OnnxRuntimeBackend())
    require(OpenVinoBackend())
    model, inputs = node_test_case("StringNormalizer", STRING_TEST, tmp_path / "strings.onnx")
    ort_nodes, _, _ = OnnxRuntimeBackend().operator_support(model)
    ov_nodes, _, _ = OpenVinoBackend().operator_support(model)
    assert [n.supported for n in ort_nodes] == [True] and [n.supported for n in ov_nodes] == [False]
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: np.asarray(inputs[0])})
    assert list(output) == ["tuesday", "wednesday", "thursday"]


def test_a_function_operator_is_taken_as_its_body(tmp_path: Path) -> None:
    require(OnnxRuntimeBackend())
    model = node_test_model("CastLike", "test_castlike_FLOAT_to_DOUBLE", tmp_path / "castlike.onnx")
    (node,) = OnnxRuntimeBackend().operator_support(model)[0]
    assert node.op_type == "CastLike" and node.supported


def test_verdicts_and_who_takes_what() -> None:
    def support(framework: str, frob: bool, error: str | None = None) -> OperatorSupport:
        nodes = (
            NodeSupport(node="relu", op_type="Relu", supported=True),
            NodeSupport(node="y", op_type="Frobnicate", supported=frob, reason=None if frob else "no kernel"),
        )
        return OperatorSupport(framework=framework, source="test", nodes=() if error else nodes, error=error)

    compliance = compliance_of("m.onnx", [support("a", False), support("b", True), support("c", True, "boom")])
    verdicts = {v.framework: v for v in compliance.frameworks}
    assert verdicts["a"].verdict is Verdict.NOT_DEPLOYABLE and verdicts["a"].unsupported == {"Frobnicate": "no kernel"}
    assert verdicts["b"].verdict is Verdict.DEPLOYABLE and verdicts["b"].checked_nodes == 2
    assert verdicts["c"].verdict is Verdict.UNKNOWN and verdicts["c"].error == "boom"
    assert compliance.taken_by == {"Frobnicate": ("b",)}


def test_the_cli_reports_compliance(cli: Run, tmp_path: Path) -> None:
    require(OnnxRuntimeBackend())
    require(OpenVinoBackend())
    model = node_test_model("StringNormalizer", STRING_TEST, tmp_path / "strings.onnx")
    status, out, err = cli("analyze", str(model), "--compliance", "--format", "json")
    assert status == 0, err
    compliance = json.loads(out)["compliance"]
    verdicts = {v["framework"]: v["verdict"] for v in compliance["frameworks"]}
    assert verdicts == {"onnxruntime": "deployable", "openvino": "not deployable"}
    assert compliance["taken_by"] == {"StringNormalizer": ["onnxruntime"]}
    status, out, err = cli("analyze", str(model), "--compliance")
    assert status == 0, err
    assert "layer compliance" in out
    assert "openvino: the ONNX frontend cannot convert StringNormalizer; taken by: onnxruntime" in err


def test_a_float16_node_without_a_float16_kernel_is_taken_and_runs(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    require(OnnxRuntimeBackend())
    graph = helper.make_graph(
        [helper.make_node("Elu", ["x"], ["y"], name="elu")],
        "half",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "half.onnx"))
    ((node,), _, _) = OnnxRuntimeBackend().operator_support(tmp_path / "half.onnx")
    assert node.supported, node.reason
    session = onnxruntime.InferenceSession(str(tmp_path / "half.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.array([-1, 0, 1, 2], np.float16)})
    assert out.dtype == np.float16 and out[3] == 2


def test_a_function_whose_body_onnxruntime_lacks_is_refused_and_does_not_load(tmp_path: Path) -> None:
    import onnxruntime

    require(OnnxRuntimeBackend())
    model = node_test_model("Bernoulli", "test_bernoulli", tmp_path / "bernoulli.onnx")
    (node,) = OnnxRuntimeBackend().operator_support(model)[0]
    assert not node.supported
    assert node.reason == (
        "no CPU kernel for Bernoulli, and its function body needs: no CPU kernel for RandomUniformLike version 22"
    )
    with pytest.raises(Exception, match="RandomUniformLike"):
        onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
