"""The nodes of an ONNX model as operator-support checks need them: operator, domain, the version of the
operator the model's opset selects, and the element type of each input (from ONNX's shape inference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploybench.backends.onnx_model import check_onnx_model

ONNX_DOMAINS = ("", "ai.onnx")
Attribute = int | float | str | tuple[int | float | str, ...]
BODY_DEPTH = 2
"""How many levels of function bodies are expanded (a body may use another function operator)."""


@dataclass(frozen=True)
class TypedNode:
    """One node: name, domain ('' for ONNX's own), operator, selected version, input types and formal types."""

    name: str
    domain: str
    op_type: str
    since_version: int | None
    """The version of the operator's schema the model's opset selects; None when ONNX has no schema for it."""
    input_types: tuple[str | None, ...]
    """`tensor(float)`-style types of the inputs, None where inference gave none (or the input is omitted)."""
    formal_types: tuple[str | None, ...]
    """The schema's type parameter (`T`, ...) of each input, None where unknown."""
    outputs: tuple[str, ...]
    """Names of its outputs."""
    expands: bool
    """Whether ONNX defines the operator by a function body (or it is a Constant): a runtime without a kernel of
    its own runs the body instead (or folds the constant)."""
    body: tuple[TypedNode, ...] | None = None
    """The nodes of that body for this node, where onnx can build it."""
    attributes: tuple[tuple[str, Attribute], ...] = ()
    """Its scalar and list attributes (ints, floats, strings), by name; graphs and tensors are left out."""

    @property
    def qualified(self) -> str:
        """The operator with its domain outside ONNX's own."""
        return self.op_type if self.domain in ONNX_DOMAINS else f"{self.domain}.{self.op_type}"


def typed_nodes(path: Path) -> list[TypedNode]:
    """Every node of the model at path (checked first), in order."""
    import onnx
    from onnx import TensorProto

    check_onnx_model(path)
    model = onnx.load(str(path), load_external_data=False)
    inferred = onnx.shape_inference.infer_shapes(model)
    values: dict[str, Any] = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type:
            values[value.name] = value.type
    for tensor in inferred.graph.initializer:
        values[tensor.name] = onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims))
    types = {
        name: f"tensor({TensorProto.DataType.Name(t.tensor_type.elem_type).lower()})" for name, t in values.items()
    }
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    return [_typed(node, opsets, types, values, BODY_DEPTH) for node in model.graph.node]


def _typed(node: Any, opsets: dict[str, int], types: dict[str, str], values: dict[str, Any], depth: int) -> TypedNode:
    from onnx import defs

    domain = "" if node.domain in ONNX_DOMAINS else node.domain
    version = opsets.get(node.domain, opsets.get("" if node.domain == "ai.onnx" else "ai.onnx", 1))
    try:
        schema = defs.get_schema(node.op_type, version, node.domain)
    except defs.SchemaError:
        schema = None
    formals = [formal.type_str for formal in schema.inputs] if schema else []
    expands = node.op_type == "Constant" or bool(
        schema and (getattr(schema, "has_function", False) or _has_context_function(schema))
    )
    return TypedNode(
        name=node.name or (node.output[0] if node.output else node.op_type),
        domain=domain,
        op_type=node.op_type,
        since_version=schema.since_version if schema else None,
        input_types=tuple(types.get(i) if i else None for i in node.input),
        formal_types=tuple(_formal(formals, index) for index in range(len(node.input))),
        outputs=tuple(node.output),
        expands=expands,
        body=_body(node, schema, version, values, depth) if expands and schema and depth > 0 else None,
        attributes=tuple(_attributes(node)),
    )


def _attributes(node: Any) -> list[tuple[str, Attribute]]:
    """The attributes of plain values; strings decoded; a function body's references to the attributes of
    its caller are left out."""
    from onnx import helper

    found: list[tuple[str, Attribute]] = []
    for attribute in node.attribute:
        if attribute.ref_attr_name:
            continue
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            found.append((attribute.name, value.decode("utf-8", "replace")))
        elif isinstance(value, (int, float)):
            found.append((attribute.name, value))
        elif isinstance(value, list) and all(isinstance(v, (int, float, bytes)) for v in value):
            found.append(
                (attribute.name, tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value))
            )
    return found


def _body(node: Any, schema: Any, version: int, values: dict[str, Any], depth: int) -> tuple[TypedNode, ...] | None:
    """The nodes of the function ONNX defines the operator by, for this node; None where it cannot be built."""
    import onnx

    try:
        if _has_context_function(schema):
            known = [values[i].SerializeToString() for i in node.input if i in values]
            if len(known) != len([i for i in node.input if i]):
                return None
            raw = schema.get_context_dependent_function_with_opset_version(version, node.SerializeToString(), known)
            function = onnx.FunctionProto()
            function.ParseFromString(raw)
        else:
            function = schema.function_body
    except Exception:  # a body onnx cannot build for this node: the check stays with the operator itself
        return None
    opsets = {entry.domain: entry.version for entry in function.opset_import}
    return tuple(_typed(inner, opsets, {}, {}, depth - 1) for inner in function.node)


def _has_context_function(schema: object) -> bool:
    """Whether the schema defines its body by a function built for the node's context (attributes, types)."""
    return bool(getattr(schema, "has_context_dependent_function", False))


def _formal(formals: list[str], index: int) -> str | None:
    """The formal type of input index; a variadic last formal covers the inputs past it."""
    if not formals:
        return None
    return formals[min(index, len(formals) - 1)]
