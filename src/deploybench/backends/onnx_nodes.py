"""The nodes of an ONNX model as operator-support checks need them: operator, domain, the version of the
operator the model's opset selects, and the element type of each input (from ONNX's shape inference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploybench.backends.onnx_model import check_onnx_model

ONNX_DOMAINS = ("", "ai.onnx")


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

    @property
    def qualified(self) -> str:
        """The operator with its domain outside ONNX's own."""
        return self.op_type if self.domain in ONNX_DOMAINS else f"{self.domain}.{self.op_type}"


def typed_nodes(path: Path) -> list[TypedNode]:
    """Every node of the model at path (checked first), in order."""
    import onnx
    from onnx import TensorProto, defs

    check_onnx_model(path)
    model = onnx.load(str(path), load_external_data=False)
    inferred = onnx.shape_inference.infer_shapes(model)
    types: dict[str, str] = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type:
            types[value.name] = f"tensor({TensorProto.DataType.Name(value.type.tensor_type.elem_type).lower()})"
    for tensor in inferred.graph.initializer:
        types[tensor.name] = f"tensor({TensorProto.DataType.Name(tensor.data_type).lower()})"
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    opsets.setdefault("ai.onnx", opsets.get("", 1))
    nodes = []
    for node in model.graph.node:
        domain = "" if node.domain in ONNX_DOMAINS else node.domain
        try:
            schema = defs.get_schema(node.op_type, opsets.get(node.domain, 1), node.domain)
        except defs.SchemaError:
            schema = None
        formals = [formal.type_str for formal in schema.inputs] if schema else []
        nodes.append(
            TypedNode(
                name=node.name or (node.output[0] if node.output else node.op_type),
                domain=domain,
                op_type=node.op_type,
                since_version=schema.since_version if schema else None,
                input_types=tuple(types.get(i) if i else None for i in node.input),
                formal_types=tuple(_formal(formals, index) for index in range(len(node.input))),
                outputs=tuple(node.output),
                expands=node.op_type == "Constant"
                or bool(schema and (getattr(schema, "has_function", False) or _has_context_function(schema))),
            )
        )
    return nodes


def _has_context_function(schema: object) -> bool:
    """Whether the schema defines its body by a function built for the node's context (attributes, types)."""
    return bool(getattr(schema, "has_context_dependent_function", False))


def _formal(formals: list[str], index: int) -> str | None:
    """The formal type of input index; a variadic last formal covers the inputs past it."""
    if not formals:
        return None
    return formals[min(index, len(formals) - 1)]
