"""The anatomy of an ONNX model, from ONNX's own shape inference and the operator table.

The file is read without the values of its large weights (`onnx_reader`). Shapes come from
`onnx.shape_inference` (with data propagation, so that shapes computed by Shape / Reshape chains resolve), run
on a copy of the graph in which those weights are inputs of known type and shape. Dynamic
dimensions the user gives (`--dim batch=1`) are fixed on the inputs before inference; the others stay
symbolic, and every node whose work depends on them says so instead of giving a number.

MACs are counted for convolutions, transposed convolutions, MatMul and Gemm; other FLOPs per output element
as the operator table says (each MAC is two FLOPs). Bytes moved are those of every input (weights included)
and output of a node, which with the FLOPs gives the arithmetic intensity of a roofline model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from deploybench.analyze.onnx_reader import read_without_weights
from deploybench.analyze.operators import OperatorCost, operator_costs
from deploybench.analyze.records import Anatomy, NodeWork, OperatorClass, TensorInfo
from deploybench.analyze.totals import Step, assemble, check_dims, node_work, parameter_groups, unknown_work
from deploybench.backends.onnx_model import external_data_files, validate

INLINE_LIMIT = 1024
"""Weights up to this many bytes keep their values in the copy shape inference sees (shape tensors)."""
Shape = tuple[int | str | None, ...]


def analyze_onnx(path: Path, dims: dict[str, int] | None = None) -> Anatomy:
    """Anatomy of the ONNX model at path, with the given dynamic dimensions fixed."""
    import onnx

    dims = dict(dims or {})
    model, stripped = read_without_weights(path)
    external_data_files(model, path)
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    check_dims(dims, _dynamic_names(graph, initializers), path)
    light = _light_copy(model, dims, stripped)
    validate(onnx.checker.check_model, light, path)
    inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    tensors = _tensor_table(inferred.graph)
    inputs = tuple(tensors[i.name] for i in graph.input if i.name not in initializers)
    outputs = tuple(tensors[o.name] for o in graph.output)
    costs = operator_costs("onnx")
    nodes = tuple(_node_work(node, tensors, costs) for node in graph.node)
    steps = [Step(tuple(i for i in node.input if i), tuple(o for o in node.output if o)) for node in graph.node]
    weights = parameter_groups(tensors[name] for name in initializers)
    return assemble(
        path=str(path),
        format="onnx",
        producer=" ".join(filter(None, (model.producer_name, model.producer_version))) or None,
        opsets={entry.domain or "": entry.version for entry in model.opset_import},
        inputs=inputs,
        outputs=outputs,
        dims=dims,
        nodes=nodes,
        parameters=weights,
        steps=steps,
        tensors=tensors,
    )


def _dynamic_names(graph: Any, initializers: dict[str, Any]) -> set[str]:
    return {
        d.dim_param
        for i in graph.input
        if i.name not in initializers
        for d in i.type.tensor_type.shape.dim
        if d.dim_param
    }


def _light_copy(model: Any, dims: dict[str, int], stripped: frozenset[str]) -> Any:
    """The model with its weights read without values (stripped), external or of more than INLINE_LIMIT bytes
    turned into graph inputs of the same type and shape (for the checker and shape inference alike), the given
    dynamic dimensions fixed."""
    import onnx
    from onnx import helper

    light = onnx.ModelProto(ir_version=model.ir_version)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    graph = light.graph
    graph.name = model.graph.name
    for field in ("node", "input", "output", "value_info"):
        getattr(graph, field).extend(getattr(model.graph, field))
    listed = {value.name for value in graph.input}
    for tensor in model.graph.initializer:
        if tensor.name not in stripped and tensor.ByteSize() <= INLINE_LIMIT and not tensor.external_data:
            graph.initializer.append(tensor)
        elif tensor.name not in listed:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    for value in graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in dims:
                dim.dim_value = dims[dim.dim_param]
    return light


def _tensor_table(graph: Any) -> dict[str, TensorInfo]:
    """Shape and element type of every tensor shape inference knows, by name."""
    from onnx import helper

    table = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        kind = value.type.tensor_type
        shape: Shape | None = (
            tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in kind.shape.dim)
            if kind.HasField("shape")
            else None
        )
        table[value.name] = TensorInfo(name=value.name, shape=shape, dtype=_dtype_name(kind.elem_type, helper))
    for tensor in graph.initializer:
        table[tensor.name] = TensorInfo(
            name=tensor.name, shape=tuple(int(d) for d in tensor.dims), dtype=_dtype_name(tensor.data_type, helper)
        )
    return table


def _dtype_name(elem_type: int, helper: Any) -> str:
    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type).name)
    except (KeyError, TypeError, ValueError):
        return "unknown"


def _node_work(node: Any, tensors: dict[str, TensorInfo], costs: dict[str, OperatorCost]) -> NodeWork:
    cost = costs.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    op_class = cost.op_class if cost else OperatorClass.OTHER
    name = node.name or f"{node.op_type}:{node.output[0] if node.output else ''}"
    ins = [tensors.get(i) for i in node.input if i]
    outs = [tensors.get(o) for o in node.output if o]
    if op_class is OperatorClass.CONVOLUTION and _is_depthwise(node, ins):
        op_class = OperatorClass.DEPTHWISE_CONVOLUTION
    if cost is None:
        reason = f"operator {_op_name(node)}: its work is not in deploybench's operator table"
        return unknown_work(name, _op_name(node), op_class, reason)
    if any(a.type in onnx_graph_types() for a in node.attribute):
        return unknown_work(name, _op_name(node), op_class, "control flow: the work of its subgraphs is not counted")
    return node_work(
        name,
        _op_name(node),
        op_class,
        cost,
        ins,
        outs,
        lambda shapes, out_shapes: _macs(cost, node, shapes, out_shapes),
        lambda shapes: _kernel_size(node, shapes),
    )


def onnx_graph_types() -> tuple[int, int]:
    """The attribute types that hold subgraphs (If, Loop, Scan): GRAPH and GRAPHS."""
    from onnx import AttributeProto

    return AttributeProto.GRAPH, AttributeProto.GRAPHS


def _is_depthwise(node: Any, ins: list[TensorInfo | None]) -> bool:
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    weight = ins[1] if len(ins) > 1 else None
    return group > 1 and weight is not None and weight.shape is not None and weight.shape[1] == 1


def _macs(cost: OperatorCost, node: Any, shapes: list[tuple[int, ...]], outs: list[tuple[int, ...]]) -> int:
    if cost.macs is None:
        return 0
    out = math.prod(outs[0])
    if cost.macs == "conv":
        weight = shapes[3] if node.op_type == "QLinearConv" else shapes[1]
        return out * math.prod(weight[1:])
    if cost.macs == "conv_transpose":
        weight = shapes[1]
        return math.prod(shapes[0]) * math.prod(weight[1:])
    if cost.macs == "einsum":
        return out * _contracted(node, shapes)
    if cost.macs == "gemm":
        a = shapes[0]
        trans_a = next((x.i for x in node.attribute if x.name == "transA"), 0)
        return out * (a[0] if trans_a else a[1])
    a = shapes[3] if node.op_type == "QLinearMatMul" else shapes[0]
    return out * a[-1]


def _contracted(node: Any, shapes: list[tuple[int, ...]]) -> int:
    """The product of the sizes of the indices an Einsum sums over (in its inputs, not in its output)."""
    equation = next((a.s.decode() for a in node.attribute if a.name == "equation"), "").replace(" ", "")
    terms, _, output = equation.partition("->")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms.split(","), shapes, strict=False):
        left, _, right = term.partition("...")
        sizes.update(zip(left, shape[: len(left)], strict=False))
        sizes.update(zip(right, shape[len(shape) - len(right) :], strict=False))
    return math.prod(size for letter, size in sizes.items() if letter not in output)


def _kernel_size(node: Any, shapes: list[tuple[int, ...]]) -> int:
    kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
    if kernel is not None:
        return math.prod(kernel)
    return math.prod(shapes[0][2:]) if shapes and len(shapes[0]) > 2 else 1


def _op_name(node: Any) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
