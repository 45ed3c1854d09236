"""Operator tables: the shipped ones load, cite a document and name real operators; a table judges each node
of a real ONNX or TFLite model by operator, operator version, element type and attribute values; a bad table
file is a located one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploybench.analyze.table_support import model_nodes, table_support
from deploybench.backends.registry import registered
from deploybench.catalog import Catalog
from deploybench.catalog.operator_tables import operator_tables, read_table
from deploybench.catalog.schemas.operator_table import OperatorTable
from deploybench.core.errors import CatalogError


def onnx_model(path: Path, nodes: list[tuple[str, dict[str, object]]], opset: int = 17, dtype: str = "FLOAT") -> Path:
    """A chain of single-input operators (with the attributes given) on a [1, 4, 8, 8] tensor."""
    import onnx
    from onnx import TensorProto, helper

    made = []
    for index, (op, attributes) in enumerate(nodes):
        made.append(helper.make_node(op, [f"t{index}"], [f"t{index + 1}"], name=f"n{index}", **attributes))
    element = getattr(TensorProto, dtype)
    graph = helper.make_graph(
        made,
        "chain",
        [helper.make_tensor_value_info("t0", element, [1, 4, 8, 8])],
        [helper.make_tensor_value_info(f"t{len(nodes)}", element, [1, 4, 8, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def table(**fields: object) -> OperatorTable:
    """A table for the catalog framework `tensorrt`, overriding the fields given."""
    data: dict[str, object] = {
        "framework": "tensorrt",
        "version": "1.0",
        "format": "onnx",
        "source": {"title": "a test table"},
        "operators": [{"op": "Relu"}],
    }
    return OperatorTable.model_validate(data | fields)


def judged(path: Path, made: OperatorTable) -> list[tuple[str, bool, str | None]]:
    fmt, nodes, opset = model_nodes(path)
    support = table_support(made, fmt, nodes, opset)
    assert support.error is None
    return [(n.op_type, n.supported, n.reason) for n in support.nodes]


def test_every_shipped_table_loads_and_names_a_catalog_framework_and_a_document(builtin: Catalog) -> None:
    tables = operator_tables()
    assert {t.framework for t in tables} >= {"tensorrt", "tflite-micro", "cubeai", "vitis-ai", "tengine", "n2d2"}
    for found in tables:
        assert found.framework in builtin.frameworks, found.framework
        assert found.source.url and found.source.revision, f"{found.framework}: the document is not cited"


def test_onnx_tables_name_real_onnx_operators_and_tflite_tables_real_builtins() -> None:
    from onnx import defs

    builtins = set()
    try:
        from ai_edge_litert import schema_py_generated

        builtins = {n for n in vars(schema_py_generated.BuiltinOperator) if not n.startswith("_")}
    except ImportError:
        pytest.skip("ai-edge-litert is not installed: the TFLite builtin names cannot be checked")
    onnx_ops = {s.name for s in defs.get_all_schemas_with_history() if s.domain in ("", "ai.onnx")}
    for found in operator_tables():
        for entry in found.operators:
            if "." in entry.op:
                continue  # another domain's operator (com.microsoft, ai.onnx.ml, custom.): named by its document
            if found.format == "onnx":
                assert entry.op in onnx_ops or entry.op in _KNOWN_NON_STANDARD, f"{found.framework}: {entry.op}"
            elif found.format == "tflite":
                assert entry.op in builtins, f"{found.framework}: {entry.op}"


_KNOWN_NON_STANDARD = {"LayerNorm", "Scale", "ImageScaler", "ParametricSoftplus", "ScaledTanh"}
"""Operator names tables list as their documents spell them, though the onnx package has no schema for them:
Tengine's converter registers `LayerNorm`, ST lists `Scale`, and TensorRT still takes three experimental
operators of ONNX's first opset that ONNX has since removed."""


def test_catalog_frameworks_name_registered_backends(builtin: Catalog) -> None:
    named = {b for f in builtin.frameworks.values() for b in f.backends}
    assert named == {"litert", "openvino", "tvm", "snntorch"}
    assert named <= set(registered())


def test_a_node_outside_the_table_is_refused_and_one_inside_taken(tmp_path: Path) -> None:
    model = onnx_model(tmp_path / "m.onnx", [("Relu", {}), ("Sigmoid", {})])
    assert judged(model, table()) == [
        ("Relu", True, None),
        ("Sigmoid", False, "Sigmoid is not in the operators tensorrt 1.0 lists"),
    ]


def test_operator_versions_element_types_and_attribute_values_are_checked(tmp_path: Path) -> None:
    model = onnx_model(
        tmp_path / "m.onnx", [("Relu", {}), ("Softmax", {"axis": 1}), ("LeakyRelu", {"alpha": 0.5})], opset=13
    )
    made = table(
        operators=[
            {"op": "Relu", "dtypes": ["float16"]},
            {"op": "Softmax", "until": 11},
            {"op": "LeakyRelu", "attributes": {"alpha": [0.01, 0.1]}},
        ]
    )
    assert judged(model, made) == [
        ("Relu", False, "Relu takes float16, not float32"),
        ("Softmax", False, "Softmax-13 is newer than the Softmax-11 the table lists"),
        ("LeakyRelu", False, "LeakyRelu takes alpha = 0.01 or 0.1, not 0.5"),
    ]
    older = onnx_model(tmp_path / "old.onnx", [("Softmax", {"axis": 1})], opset=11)
    assert judged(older, made) == [("Softmax", True, None)]
    assert judged(older, table(operators=[{"op": "Softmax", "since": 13}])) == [
        ("Softmax", False, "Softmax-11 is older than the Softmax-13 the table lists")
    ]


def test_stated_restrictions_travel_with_the_node_and_a_fallback_keeps_it_deployable(tmp_path: Path) -> None:
    model = onnx_model(tmp_path / "m.onnx", [("Relu", {}), ("Sigmoid", {})])
    made = table(operators=[{"op": "Relu", "restrictions": ["2-D only"]}], fallback="the host CPU")
    fmt, nodes, opset = model_nodes(model)
    relu, sigmoid = table_support(made, fmt, nodes, opset).nodes
    assert relu.supported and relu.conditions == ("2-D only",)
    assert not sigmoid.supported and sigmoid.fallback == "the host CPU"


def test_an_opset_outside_the_importers_range_is_a_model_issue(tmp_path: Path) -> None:
    model = onnx_model(tmp_path / "m.onnx", [("Relu", {})], opset=21)
    fmt, nodes, opset = model_nodes(model)
    support = table_support(table(opsets=[9, 20]), fmt, nodes, opset)
    assert support.model_issues == ("opset 21 is outside the opsets 9-20 its importer takes",)


def test_a_table_of_another_format_cannot_judge_the_model(tmp_path: Path) -> None:
    model = onnx_model(tmp_path / "m.onnx", [("Relu", {})])
    fmt, nodes, opset = model_nodes(model)
    support = table_support(table(format="keras", operators=[{"op": "Dense"}]), fmt, nodes, opset)
    assert support.error == "its table lists keras operators; this is a onnx model: convert it first"
    assert support.nodes == ()


def test_tflite_operators_are_judged_by_their_builtin_names(tmp_path: Path) -> None:
    from tests.support.tflite_models import tiny_tflite

    path, _, _ = tiny_tflite(tmp_path / "m.tflite", then="ZEROS_LIKE")
    made = table(format="tflite", operators=[{"op": "FULLY_CONNECTED", "dtypes": ["float32"]}, {"op": "SOFTMAX"}])
    assert [(op, ok) for op, ok, _ in judged(path, made)] == [
        ("FULLY_CONNECTED", True),
        ("SOFTMAX", True),
        ("ZEROS_LIKE", False),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("framework: tensorrt\nversion: '1'\nformat: onnx\nsource: {title: t}\noperators: []\n", ":5: `operators`"),
        (
            "framework: tensorrt\nversion: '1'\nformat: onnnx\nsource: {title: t}\noperators: [{op: Relu}]\n",
            ":3: `format`",
        ),
        (
            "framework: tensorrt\nversion: '1'\nformat: onnx\nsource: {title: t}\n"
            "operators: [{op: Relu}, {op: Relu}]\n",
            "operators listed twice: Relu",
        ),
        (
            "framework: tensorrt\nversion: '1'\nformat: onnx\nsource: {title: t}\n"
            "operators: [{op: Relu, dtypes: [fp32]}]\n",
            "dtypes",
        ),
        ("framework: [unclosed\n", "YAML syntax error"),
    ],
)
def test_a_bad_table_file_is_a_located_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        read_table(path)
    assert str(path) in raised.value.message and expected in raised.value.message
    assert "\n" not in raised.value.message
