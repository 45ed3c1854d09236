"""The anatomy of a PyTorch model given as a torch.export program (`.pt2`: the module and its example inputs,
exported): its ATen graph, the shapes PyTorch's own fake tensors carry on every node (a dynamic dimension stays
symbolic under its SymInt name, such as `s77`), its parameters, buffers and constants as the weights, and the
operator table `data/pytorch_operators.yaml`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from deploybench.analyze.operators import OperatorCost, operator_costs
from deploybench.analyze.records import Anatomy, NodeWork, OperatorClass, TensorInfo
from deploybench.analyze.totals import (
    Shapes,
    Step,
    assemble,
    check_dims,
    fixed,
    node_work,
    parameter_groups,
    unknown_work,
)
from deploybench.backends.pytorch_program import load_program
from deploybench.core.errors import ConfigurationError

ANALYZER = "analyze"


def analyze_pytorch(path: Path, dims: dict[str, int] | None = None) -> Anatomy:
    """Anatomy of the ExportedProgram at path; dims give values to its symbolic dimensions."""
    try:
        import torch
    except ImportError as exc:
        raise ConfigurationError(
            "analyzing a .pt2 program needs PyTorch", hint="pip install 'deploybench[torch]'"
        ) from exc
    program = load_program(path, ANALYZER)
    dims = dict(dims or {})
    graph = program.graph
    kinds = {spec.arg.name: spec.kind for spec in program.graph_signature.input_specs if hasattr(spec.arg, "name")}
    user = torch.export.graph_signature.InputKind.USER_INPUT
    tensors = {node.name: _tensor(node) for node in graph.nodes if node.op in ("placeholder", "call_function")}
    check_dims(
        dims, {d for t in tensors.values() for d in t.shape or () if isinstance(d, str) and d.isidentifier()}, path
    )
    tensors = {name: _fixed_dims(t, dims) for name, t in tensors.items()}
    placeholders = [node for node in graph.nodes if node.op == "placeholder"]
    inputs = tuple(tensors[n.name] for n in placeholders if kinds.get(n.name) == user)
    weights = [tensors[n.name] for n in placeholders if kinds.get(n.name) != user]
    calls = [node for node in graph.nodes if node.op == "call_function"]
    costs = operator_costs("pytorch")
    nodes = tuple(_node_work(node, tensors, costs) for node in calls)
    output = next(node for node in graph.nodes if node.op == "output")
    outputs = tuple(tensors[n.name] for n in _tensor_args(output.args) if n.name in tensors)
    weight_names = {t.name for t in weights}
    steps = [
        Step(tuple(n.name for n in _tensor_args(node.args) if n.name not in weight_names), (node.name,))
        for node in calls
    ]
    groups = parameter_groups(weights)
    return assemble(
        path=str(path),
        format="pytorch",
        producer=f"torch {torch.__version__} (torch.export)",
        opsets={},
        inputs=inputs,
        outputs=outputs,
        dims=dims,
        nodes=nodes,
        parameters=groups,
        steps=steps,
        tensors=tensors,
    )


def _tensor(node: Any) -> TensorInfo:
    value = node.meta.get("val")
    if value is None or not hasattr(value, "shape"):
        return TensorInfo(name=node.name, shape=None, dtype="unknown")
    shape = tuple(d if isinstance(d, int) else str(d) for d in value.shape)
    return TensorInfo(name=node.name, shape=shape, dtype=str(value.dtype).removeprefix("torch."))


def _fixed_dims(tensor: TensorInfo, dims: dict[str, int]) -> TensorInfo:
    """The tensor with the given symbols replaced, products of symbols (`8*s77`) evaluated where all are given."""
    if not dims or tensor.shape is None:
        return tensor
    shape = tuple(_evaluate(d, dims) if isinstance(d, str) else d for d in tensor.shape)
    return tensor.model_copy(update={"shape": shape})


def _evaluate(dimension: str, dims: dict[str, int]) -> int | str:
    factors = [f.strip() for f in dimension.split("*")]
    if not all(f.isdigit() or f in dims for f in factors):
        return dimension
    return math.prod(int(f) if f.isdigit() else dims[f] for f in factors)


def _tensor_args(args: Any) -> list[Any]:
    """The graph nodes among args, nested lists and tuples included, in order."""
    found = []
    for arg in args:
        if isinstance(arg, (list, tuple)):
            found += _tensor_args(arg)
        elif hasattr(arg, "op") and hasattr(arg, "name"):
            found.append(arg)
    return found


def _op_type(node: Any) -> str:
    target = node.target
    packet = getattr(target, "overloadpacket", None)
    if packet is not None:
        return f"{target.namespace}.{packet.__name__}"
    return str(getattr(target, "__name__", target))


def _node_work(node: Any, tensors: dict[str, TensorInfo], costs: dict[str, OperatorCost]) -> NodeWork:
    op_type = _op_type(node)
    cost = costs.get(op_type.rpartition(".")[2])
    if cost is None:
        reason = f"operator {op_type}: its work is not in deploybench's operator table"
        return unknown_work(node.name, op_type, OperatorClass.OTHER, reason)
    ins = [tensors.get(n.name) for n in _tensor_args(node.args)]
    outs = [tensors.get(node.name)]
    op_class = cost.op_class
    groups = node.args[6] if cost.macs == "conv" and len(node.args) > 6 else 1
    weight = ins[1] if len(ins) > 1 else None
    if groups != 1 and weight is not None and weight.shape and weight.shape[1] == 1:
        op_class = OperatorClass.DEPTHWISE_CONVOLUTION
    return node_work(
        node.name,
        op_type,
        op_class,
        cost,
        ins,
        outs,
        lambda shapes, out_shapes: _macs(cost, shapes, out_shapes),
        lambda shapes: _window(node, shapes, math.prod(fixed(outs[0])) if outs[0] else 0),
    )


def _macs(cost: OperatorCost, shapes: Shapes, outs: Shapes) -> int:
    out = math.prod(outs[0])
    if cost.macs == "conv":
        return out * math.prod(shapes[1][1:])
    if cost.macs == "conv_transpose":
        return math.prod(shapes[0]) * math.prod(shapes[1][1:])
    if cost.macs == "fully_connected":
        return out * shapes[1][-1]
    if cost.macs == "addmm":
        return out * shapes[1][-1]
    return out * shapes[0][-1]


def _window(node: Any, shapes: Shapes, out_elements: int) -> int:
    """The pooling window: the kernel size argument of a fixed pooling, else input elements per output."""
    kernel = node.args[1] if len(node.args) > 1 and "adaptive" not in _op_type(node) else None
    if isinstance(kernel, (list, tuple)) and all(isinstance(k, int) for k in kernel):
        return math.prod(kernel)
    return max(1, math.prod(shapes[0]) // max(1, out_elements))
