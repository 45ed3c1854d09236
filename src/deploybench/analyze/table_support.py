"""Operator support read from a framework's shipped operator table, for frameworks that cannot be installed
here: every node of the model against the operators, versions, element types and attribute values the table
lists. Conditions the table states only in words travel with the node, unchecked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploybench.analyze.onnx_reader import read_without_weights
from deploybench.analyze.tflite_anatomy import tflite_nodes
from deploybench.backends.onnx_nodes import ONNX_DOMAINS, Attribute, typed_nodes
from deploybench.catalog.schemas.operator_table import OperatorTable, TableOperator
from deploybench.core.formats import model_format
from deploybench.core.records import NodeSupport, OperatorSupport

ONNX_TYPES = {
    "float": "float32",
    "double": "float64",
    "float8e4m3fn": "float8",
    "float8e4m3fnuz": "float8",
    "float8e5m2": "float8",
    "float8e5m2fnuz": "float8",
}
"""ONNX element-type names that differ from the tables' (NumPy's) names."""


@dataclass(frozen=True)
class ModelNode:
    """One node as a table judges it: name, operator, operator version, data-input type, attributes."""

    name: str
    op: str
    version: int | None
    dtype: str | None
    attributes: tuple[tuple[str, Attribute], ...]


def model_nodes(model: Path) -> tuple[str, list[ModelNode], int | None]:
    """The model's format, its nodes, and its ONNX opset (None outside ONNX)."""
    fmt = model_format(model)
    if fmt == "onnx":
        nodes = [
            ModelNode(n.name, n.qualified, n.since_version, _onnx_dtype(n.input_types), n.attributes)
            for n in typed_nodes(model)
        ]
        opsets = {o.domain: o.version for o in read_without_weights(model)[0].opset_import}
        return fmt, nodes, next((opsets[d] for d in ONNX_DOMAINS if d in opsets), None)
    if fmt == "tflite":
        return fmt, [ModelNode(name, op, None, dtype, ()) for name, op, dtype in tflite_nodes(model)], None
    return fmt, [], None


def table_support(table: OperatorTable, fmt: str, nodes: list[ModelNode], opset: int | None) -> OperatorSupport:
    """What the table says about each node; a model of another format than the table's is an error cell."""
    label = framework_label(table)
    source = f"operator table: {table.source.url or table.source.title}"
    if fmt != table.format:
        error = f"its table lists {table.format} operators; this is a {fmt} model: convert it first"
        return OperatorSupport(framework=label, version=table.version, source=source, error=error)
    issues = []
    if table.opsets is not None and opset is not None and not table.opsets[0] <= opset <= table.opsets[1]:
        oldest, newest = table.opsets
        issues.append(f"opset {opset} is outside the opsets {oldest}-{newest} its importer takes")
    listed = {entry.op: entry for entry in table.operators}
    judged = tuple(_judge(node, listed.get(node.op), table) for node in nodes)
    return OperatorSupport(
        framework=label, version=table.version, source=source, nodes=judged, model_issues=tuple(issues)
    )


def framework_label(table: OperatorTable) -> str:
    """The name a table's verdict goes by: the catalog framework, with the unit where the table names one."""
    return f"{table.framework} ({table.unit})" if table.unit else table.framework


def _judge(node: ModelNode, entry: TableOperator | None, table: OperatorTable) -> NodeSupport:
    reason = _refusal(node, entry, table)
    conditions = entry.restrictions if entry is not None and reason is None else ()
    return NodeSupport(
        node=node.name or node.op,
        op_type=node.op,
        supported=reason is None,
        reason=reason,
        fallback=table.fallback if reason is not None else None,
        conditions=conditions,
    )


def _refusal(node: ModelNode, entry: TableOperator | None, table: OperatorTable) -> str | None:
    """Why the table refuses the node, or None."""
    if entry is None:
        return f"{node.op} is not in the operators {table.framework} {table.version} lists"
    if node.version is not None and entry.since is not None and node.version < entry.since:
        return f"{node.op}-{node.version} is older than the {node.op}-{entry.since} the table lists"
    if node.version is not None and entry.until is not None and node.version > entry.until:
        return f"{node.op}-{node.version} is newer than the {node.op}-{entry.until} the table lists"
    if entry.dtypes and node.dtype is not None and node.dtype not in entry.dtypes:
        return f"{node.op} takes {', '.join(entry.dtypes)}, not {node.dtype}"
    values = dict(node.attributes)
    for name, allowed in entry.attributes.items():
        if name in values and not _allowed(values[name], allowed):
            return f"{node.op} takes {name} = {' or '.join(map(str, allowed))}, not {values[name]}"
    return None


def _allowed(value: Attribute, allowed: tuple[int | float | str, ...]) -> bool:
    """A scalar is allowed when listed; a list when every element is."""
    if isinstance(value, tuple):
        return all(v in allowed for v in value)
    return value in allowed


def _onnx_dtype(types: tuple[str | None, ...]) -> str | None:
    """The table name of the first input's element type (`tensor(float)` -> float32)."""
    first = types[0] if types else None
    if first is None or not first.startswith("tensor("):
        return None
    name = first[len("tensor(") : -1]
    return ONNX_TYPES.get(name, name)
