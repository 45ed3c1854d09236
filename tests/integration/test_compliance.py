"""Layer compliance for real: ONNX Runtime's kernel registry, OpenVINO's ONNX frontend, TVM's Relax converter
map and LiteRT's resolver and XNNPACK partitions asked about models whose support is known (a custom-domain
operator nobody takes, a string operator only ONNX Runtime takes, a function operator ONNX Runtime expands, a
TFLite operator XNNPACK leaves to LiteRT's own kernels), checked against real runs; the verdict logic, per
framework and per target; the CLI with its filters, matrix, stored reports and errors."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Run
from tests.support.jobs import require

from deploybench.backends.litert import LiteRtBackend
from deploybench.backends.onnxruntime import OnnxRuntimeBackend
from deploybench.backends.openvino import OpenVinoBackend
from deploybench.backends.tvm import TvmBackend
from deploybench.catalog import Catalog
from deploybench.core.records import NodeSupport, OperatorSupport
from deploybench.select.analysis_store import latest_compliance
from deploybench.select.compliance import Verdict, assemble, verdict_of
from deploybench.store import ResultStore

STRING_TEST = "test_strnormalizer_export_monday_casesensintive_nochangecase"
"""A node test of the onnx package: StringNormalizer dropping the stop word `monday` from four week days."""


def custom_model(path: Path, custom: bool = True) -> Path:
    """Relu, then an unnamed operator of a domain no framework knows (or a Sigmoid, which all take)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["y"], domain="com.example")
            if custom
            else helper.make_node("Sigmoid", ["r"], ["y"], name="sigmoid"),
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


def support(
    framework: str, frob: bool | None, error: str | None = None, fallback: str | None = None
) -> OperatorSupport:
    """An answer about Relu then Frobnicate: Frobnicate taken (True), refused (False) or falling back (None)."""
    nodes = (
        NodeSupport(node="relu", op_type="Relu", supported=True),
        NodeSupport(
            node="y",
            op_type="Frobnicate",
            supported=bool(frob),
            reason=None if frob else "no kernel",
            fallback=fallback if frob is None else None,
        ),
    )
    return OperatorSupport(framework=framework, source="test", nodes=() if error else nodes, error=error)


def test_verdicts_and_who_takes_what(builtin: Catalog) -> None:
    rows = [
        verdict_of(support("a", False), None),
        verdict_of(support("b", True), None),
        verdict_of(support("c", True, "boom"), None),
        verdict_of(support("d", None, fallback="the host CPU"), None),
    ]
    compliance = assemble("m.onnx", "onnx", rows, builtin, frameworks=["a", "b", "c", "d"])
    verdicts = {v.framework: v for v in compliance.frameworks}
    assert verdicts["a"].verdict is Verdict.NOT_DEPLOYABLE and verdicts["a"].unsupported == {"Frobnicate": "no kernel"}
    assert verdicts["b"].verdict is Verdict.DEPLOYABLE and verdicts["b"].checked_nodes == 2
    assert verdicts["c"].verdict is Verdict.UNKNOWN and verdicts["c"].error == "boom"
    assert verdicts["d"].verdict is Verdict.FALLBACK
    assert verdicts["d"].fallback == {"Frobnicate": "no kernel: runs on the host CPU"}
    assert compliance.taken_by == {"Frobnicate": ("b",)}
    assert compliance.targets == ()


def test_a_target_takes_the_best_verdict_of_its_frameworks(builtin: Catalog) -> None:
    tensorrt, tengine = builtin.frameworks["tensorrt"], builtin.frameworks["tengine"]
    assert "jetson-nano" in tensorrt.targets and "jetson-nano" in tengine.targets
    refused = verdict_of(support("tensorrt", False), tensorrt)
    falling = verdict_of(support("tengine", None, fallback="the CPU"), tengine)
    report = assemble("m.onnx", "onnx", [refused, falling], builtin, targets=["jetson-nano"])
    (nano,) = report.targets
    assert (nano.verdict, nano.via) == (Verdict.FALLBACK, ("tengine",))
    unknown = verdict_of(support("tengine", True, error="cannot check"), tengine)
    (nano,) = assemble("m.onnx", "onnx", [refused, unknown], builtin, targets=["jetson-nano"]).targets
    assert (nano.verdict, nano.via) == (Verdict.UNKNOWN, ("tengine",))
    (nano,) = assemble("m.onnx", "onnx", [refused], builtin, targets=["jetson-nano"]).targets
    assert nano.verdict is Verdict.NOT_DEPLOYABLE and nano.frameworks == ("tengine", "tensorrt")


def test_tvm_refuses_what_its_converter_map_lacks_and_then_cannot_import_it(tmp_path: Path) -> None:
    from deploybench.core.errors import BackendError

    require(TvmBackend())
    model = custom_model(tmp_path / "custom.onnx")
    nodes, issues, source = TvmBackend().operator_support(model)
    assert [(n.op_type, n.supported) for n in nodes] == [("Relu", True), ("com.example.Frobnicate", False)]
    assert nodes[1].reason == "the Relax ONNX frontend has no converter for Frobnicate"
    assert issues == [] and "Relax ONNX frontend" in source
    with pytest.raises(BackendError, match="Frobnicate"):
        TvmBackend().prepare(model, {}, tmp_path)


def test_litert_sends_what_xnnpack_leaves_to_its_own_kernels_and_still_runs(tmp_path: Path) -> None:
    import numpy as np
    from tests.support.tflite_models import tiny_tflite

    require(LiteRtBackend())
    model, _, _ = tiny_tflite(tmp_path / "zeros.tflite", then="ZEROS_LIKE")
    nodes, issues, _ = LiteRtBackend().operator_support(model)
    assert [(n.op_type, n.supported, n.fallback) for n in nodes] == [
        ("FULLY_CONNECTED", True, None),
        ("SOFTMAX", True, None),
        ("ZEROS_LIKE", False, "LiteRT's built-in CPU kernels"),
    ]
    assert issues == []
    prepared = LiteRtBackend().prepare(model, {}, tmp_path)
    session = LiteRtBackend().open_session(prepared)
    (out,) = session.infer({"input": np.ones((1, 8), np.float32)}).values()
    session.close()
    assert out.shape == (1, 4) and not out.any()


def test_litert_refuses_a_custom_operator_it_has_no_kernel_for_and_cannot_load_it(tmp_path: Path) -> None:
    from tests.support.tflite_models import tiny_tflite

    from deploybench.core.errors import BackendError

    require(LiteRtBackend())
    model, _, _ = tiny_tflite(tmp_path / "custom.tflite", custom="Frobnicate")
    nodes, _, _ = LiteRtBackend().operator_support(model)
    assert [(n.op_type, n.supported, n.fallback) for n in nodes][2] == ("custom.Frobnicate", False, None)
    prepared = LiteRtBackend().prepare(model, {}, tmp_path)
    with pytest.raises(BackendError, match="Frobnicate"):
        LiteRtBackend().open_session(prepared)


def test_the_cli_checks_every_catalog_framework_and_keeps_the_report(cli: Run, tmp_path: Path) -> None:
    require(OnnxRuntimeBackend())
    model = custom_model(tmp_path / "custom.onnx")
    db = f"sqlite:///{tmp_path / 'results.db'}"
    status, out, err = cli("compliance", str(model), "--format", "json", "--db", db)
    assert status == 0, err
    (report,) = json.loads(out)
    verdicts = {v["framework"]: v for v in report["frameworks"]}
    assert verdicts["onnxruntime"]["verdict"] == "not deployable"
    assert verdicts["tensorrt"]["verdict"] == "not deployable"
    assert verdicts["tensorrt"]["unsupported"] == {
        "com.example.Frobnicate": "com.example.Frobnicate is not in the operators tensorrt 10.15 lists"
    }
    assert verdicts["bindsnet"]["verdict"] == "unknown" and "no operator table" in verdicts["bindsnet"]["error"]
    assert verdicts["keras2c"]["verdict"] == "unknown" and "keras" in verdicts["keras2c"]["error"]
    assert {t["target"] for t in report["targets"]} == _targets()
    with ResultStore.open(db) as store:
        stored = latest_compliance(model, store)
    assert stored is not None and stored.model_dump(mode="json") == report


def _targets() -> set[str]:
    from deploybench.catalog import load_catalog

    return set(load_catalog([]).targets)


def test_the_cli_filters_by_framework_and_target_and_prints_the_matrix(cli: Run, tmp_path: Path) -> None:
    model = custom_model(tmp_path / "custom.onnx")
    relu = custom_model(tmp_path / "plain.onnx", custom=False)
    status, out, err = cli("compliance", str(model), str(relu), "--frameworks", "tensorrt,TFLite Micro", "--no-save")
    assert status == 0, err
    assert "framework x model" in out and "target x model" not in out
    matrix = [line for line in out.splitlines() if line.startswith("│ tensorrt")]
    assert [cell.strip() for cell in matrix[-1].split("│")[1:-1]] == ["tensorrt", "no", "yes"]
    status, out, err = cli("compliance", str(relu), "--targets", "jetson-nano", "--format", "json", "--no-save")
    assert status == 0, err
    (report,) = json.loads(out)
    assert [t["target"] for t in report["targets"]] == ["jetson-nano"]
    assert {v["catalog"] for v in report["frameworks"]} == {"tengine", "tensorrt"}
    assert report["targets"][0]["verdict"] == "deployable"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--frameworks", "nosuch"], "--frameworks: no framework is named `nosuch`"),
        (["--targets", "nosuch"], "no catalog entry is named `nosuch`"),
        (["--format", "csv"], "compliance prints a table or JSON"),
    ],
)
def test_the_cli_refuses_unknown_names_in_one_line(
    cli: Run, tmp_path: Path, arguments: list[str], message: str
) -> None:
    model = custom_model(tmp_path / "custom.onnx")
    status, out, err = cli("compliance", str(model), "--no-save", *arguments)
    assert status == 2 and message in err and "Traceback" not in err
    assert out == ""


def test_the_cli_says_which_file_is_not_a_model(cli: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    status, _, err = cli("compliance", str(broken), "--no-save")
    assert status != 0 and str(broken) in err and "Traceback" not in err
    status, _, err = cli("analyze", str(broken), "--frameworks", "tensorrt")
    assert status == 2 and "add --compliance" in err


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


def test_openvino_checks_a_tflite_model_through_its_tflite_frontend_as_it_runs(tmp_path: Path) -> None:
    import numpy as np
    from tests.support.tflite_models import tiny_tflite

    from deploybench.core.errors import BackendError

    require(OpenVinoBackend())
    require(LiteRtBackend())
    taken, _, _ = tiny_tflite(tmp_path / "zeros.tflite", then="ZEROS_LIKE")
    refused, _, _ = tiny_tflite(tmp_path / "custom.tflite", custom="Frobnicate")
    nodes, issues, source = OpenVinoBackend().operator_support(taken)
    assert all(n.supported for n in nodes) and issues == [] and "TFLite frontend" in source
    nodes, _, _ = OpenVinoBackend().operator_support(refused)
    assert [(n.op_type, n.supported) for n in nodes][2] == ("custom.Frobnicate", False)
    session = OpenVinoBackend().open_session(OpenVinoBackend().prepare(taken, {}, tmp_path))
    (out,) = session.infer({"input": np.ones((1, 8), np.float32)}).values()
    session.close()
    assert not out.any()
    with pytest.raises(BackendError):
        OpenVinoBackend().prepare(refused, {}, tmp_path)
