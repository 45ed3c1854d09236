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
from collections import Counter
from pathlib import Path
from typing import Any

from deploybench.analyze.onnx_reader import read_without_weights
from deploybench.analyze.operators import OperatorCost, operator_costs
from deploybench.analyze.records import (
    Anatomy,
    ClassTotals,
    Memory,
    NodeWork,
    OperatorClass,
    ParameterGroup,
    TensorInfo,
)
from deploybench.backends.onnx_model import external_data_files, validate
from deploybench.core.errors import ConfigurationError

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
    _check_dims(dims, graph, initializers, path)
    light = _light_copy(model, dims, stripped)
    validate(onnx.checker.check_model, light, path)
    inferred = onnx.shape_inference.infer_shapes(light, data_prop=True)
    tensors = _tensor_table(inferred.graph)
    inputs = tuple(tensors[i.name] for i in graph.input if i.name not in initializers)
    outputs = tuple(tensors[o.name] for o in graph.output)
    costs = operator_costs()
    nodes = tuple(_node_work(node, tensors, costs) for node in graph.node)
    counted = [n for n in nodes if n.unknown is None]
    flops = sum(n.flops or 0 for n in counted)
    moved = sum(n.bytes_moved or 0 for n in counted)
    weights = _parameters(graph.initializer)
    weights_bytes = sum(group.bytes for group in weights)
    return Anatomy(
        path=str(path),
        format="onnx",
        producer=" ".join(filter(None, (model.producer_name, model.producer_version))) or None,
        opsets={entry.domain or "": entry.version for entry in model.opset_import},
        inputs=inputs,
        outputs=outputs,
        dims=dims,
        symbolic_dims=tuple(sorted({d for t in inputs for d in (t.shape or ()) if isinstance(d, str)})),
        operators=dict(Counter(_op_name(node) for node in graph.node).most_common()),
        parameters=weights,
        nodes=nodes,
        classes=_class_totals(nodes),
        macs=sum(n.macs or 0 for n in counted),
        flops=flops,
        bytes_moved=moved,
        intensity=flops / moved if moved else None,
        uncounted_nodes=len(nodes) - len(counted),
        memory=_memory(graph, tensors, initializers, nodes, weights_bytes),
    )


def _check_dims(dims: dict[str, int], graph: Any, initializers: dict[str, Any], path: Path) -> None:
    names = {
        d.dim_param
        for i in graph.input
        if i.name not in initializers
        for d in i.type.tensor_type.shape.dim
        if d.dim_param
    }
    unknown = sorted(set(dims) - names)
    if unknown:
        raise ConfigurationError(
            f"{path}: the model has no dynamic dimension `{unknown[0]}`",
            hint=f"its dynamic dimensions: {', '.join(sorted(names)) or 'none'}",
        )
    absurd = sorted(name for name, value in dims.items() if not 0 < value <= 2**31)
    if absurd:
        raise ConfigurationError(f"--dim {absurd[0]}={dims[absurd[0]]}: a dimension must be between 1 and 2^31")


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

    def unknown(reason: str) -> NodeWork:
        return NodeWork(name=name, op_type=_op_name(node), op_class=op_class, macs=None, flops=None,
                        bytes_moved=None, unknown=reason)  # fmt: skip

    if cost is None:
        return unknown(f"operator {_op_name(node)}: its work is not in deploybench's operator table")
    if any(a.type == 8 or a.type == 10 for a in node.attribute):  # GRAPH(S): control flow
        return unknown("control flow: the work of its subgraphs is not counted")
    missing = [name for name, t in zip([*node.input, *node.output], [*ins, *outs], strict=False) if not _known(t)]
    if missing:
        symbolic = sorted({d for t in [*ins, *outs] if t and t.shape for d in t.shape if isinstance(d, str)})
        why = (
            f"symbolic dimension {', '.join(symbolic)} (give --dim)" if symbolic else f"shape of `{missing[0]}` unknown"
        )
        return unknown(why)
    shapes = [_fixed(t) for t in ins if t]
    out_shapes = [_fixed(t) for t in outs if t]
    macs = _macs(cost, node, shapes, out_shapes)
    per_element = _kernel_size(node, shapes) if cost.flops_per_element == "kernel" else cost.flops_per_element
    out_elements = sum(math.prod(s) for s in out_shapes)
    moved = sum(_bytes(t) for t in [*ins, *outs] if t)
    return NodeWork(
        name=name,
        op_type=_op_name(node),
        op_class=op_class,
        macs=macs,
        flops=2 * macs + int(per_element) * out_elements,
        bytes_moved=moved,
    )


def _known(tensor: TensorInfo | None) -> bool:
    return tensor is not None and tensor.shape is not None and all(isinstance(d, int) for d in tensor.shape)


def _fixed(tensor: TensorInfo) -> tuple[int, ...]:
    """The shape of a tensor `_known` said is fully known."""
    return tuple(d for d in tensor.shape or () if isinstance(d, int))


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
    if cost.macs == "gemm":
        a = shapes[0]
        trans_a = next((x.i for x in node.attribute if x.name == "transA"), 0)
        return out * (a[0] if trans_a else a[1])
    a = shapes[3] if node.op_type == "QLinearMatMul" else shapes[0]
    return out * a[-1]


def _kernel_size(node: Any, shapes: list[tuple[int, ...]]) -> int:
    kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
    if kernel is not None:
        return math.prod(kernel)
    return math.prod(shapes[0][2:]) if shapes and len(shapes[0]) > 2 else 1


def _bytes(tensor: TensorInfo) -> int:
    import numpy as np

    size = np.dtype(tensor.dtype).itemsize if tensor.dtype != "unknown" else 0
    return math.prod(_fixed(tensor)) * size


def _parameters(initializers: Any) -> tuple[ParameterGroup, ...]:
    from onnx import helper

    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for tensor in initializers:
        dtype = _dtype_name(tensor.data_type, helper)
        count = math.prod(tensor.dims)
        counts[dtype] += count
        sizes[dtype] += _bytes(TensorInfo(name=tensor.name, shape=tuple(tensor.dims), dtype=dtype))
    return tuple(ParameterGroup(dtype=d, count=counts[d], bytes=sizes[d]) for d in sorted(counts))


def _class_totals(nodes: tuple[NodeWork, ...]) -> tuple[ClassTotals, ...]:
    totals = []
    for op_class in OperatorClass:
        members = [n for n in nodes if n.op_class is op_class]
        if not members:
            continue
        counted = [n for n in members if n.unknown is None]
        flops = sum(n.flops or 0 for n in counted)
        moved = sum(n.bytes_moved or 0 for n in counted)
        totals.append(
            ClassTotals(
                op_class=op_class,
                nodes=len(members),
                macs=sum(n.macs or 0 for n in counted),
                flops=flops,
                bytes_moved=moved,
                intensity=flops / moved if moved else None,
                uncounted_nodes=len(members) - len(counted),
            )
        )
    return tuple(totals)


def _memory(
    graph: Any,
    tensors: dict[str, TensorInfo],
    initializers: dict[str, Any],
    nodes: tuple[NodeWork, ...],
    weights_bytes: int,
) -> Memory:
    """Peak of live activations along the node order: a tensor lives from the node that makes it (the start,
    for inputs) to its last reader (the end, for outputs)."""
    activations = [i.name for i in graph.input if i.name not in initializers]
    activations += [o for node in graph.node for o in node.output if o]
    if not all(_known(tensors.get(name)) for name in activations):
        return Memory(weights_bytes=weights_bytes, peak_activation_bytes=None, peak_at_node=None,
                      min_working_set_bytes=None)  # fmt: skip
    size = {name: _bytes(tensors[name]) for name in activations}
    last_use = {name: len(graph.node) for name in (o.name for o in graph.output)}
    for step, node in enumerate(graph.node):
        for name in node.input:
            if name in size:
                last_use[name] = max(last_use.get(name, step), step)
    live = {i.name for i in graph.input if i.name not in initializers}
    peak, peak_at, largest = sum(size[n] for n in live), "(inputs)", 0
    for step, node in enumerate(graph.node):
        live |= {o for o in node.output if o}
        current = sum(size[n] for n in live)
        touched = sum(size[n] for n in {*node.input, *node.output} if n in size)
        largest = max(largest, touched)
        if current > peak:
            peak, peak_at = current, nodes[step].name
        live = {n for n in live if last_use.get(n, step) > step}
    return Memory(
        weights_bytes=weights_bytes,
        peak_activation_bytes=peak,
        peak_at_node=peak_at,
        min_working_set_bytes=weights_bytes + largest,
    )


def _op_name(node: Any) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
