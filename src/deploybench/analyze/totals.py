"""What every model format's analysis shares: a node's work from its tensors' shapes, totals by operator
class, the memory of one inference along the node order, and the assembled anatomy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploybench.analyze.operators import OperatorCost
from deploybench.analyze.records import (
    Anatomy,
    ClassTotals,
    Memory,
    NodeWork,
    OperatorClass,
    ParameterGroup,
    TensorInfo,
)
from deploybench.core.errors import ConfigurationError

Shapes = list[tuple[int, ...]]


@dataclass(frozen=True)
class Step:
    """One node in execution order: the names of the activations it reads and writes."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]


def check_dims(dims: dict[str, int], names: set[str], path: Path) -> None:
    """Refuse a --dim the model does not have (naming the ones it has), or a value no tensor could take."""
    unknown = sorted(set(dims) - names)
    if unknown:
        raise ConfigurationError(
            f"{path}: the model has no dynamic dimension `{unknown[0]}`",
            hint=f"its dynamic dimensions: {', '.join(sorted(names)) or 'none'}",
        )
    absurd = sorted(name for name, value in dims.items() if not 0 < value <= 2**31)
    if absurd:
        raise ConfigurationError(f"--dim {absurd[0]}={dims[absurd[0]]}: a dimension must be between 1 and 2^31")


def known(tensor: TensorInfo | None) -> bool:
    """Whether every dimension of the tensor is a number."""
    return tensor is not None and tensor.shape is not None and all(isinstance(d, int) for d in tensor.shape)


def fixed(tensor: TensorInfo) -> tuple[int, ...]:
    """The shape of a tensor `known` said is fully known."""
    return tuple(d for d in tensor.shape or () if isinstance(d, int))


def tensor_bytes(tensor: TensorInfo) -> int:
    """Bytes of a tensor of known shape (0 for an element type NumPy does not know)."""
    import numpy as np

    size = np.dtype(tensor.dtype).itemsize if tensor.dtype != "unknown" else 0
    return math.prod(fixed(tensor)) * size


def node_work(
    name: str,
    op_type: str,
    op_class: OperatorClass,
    cost: OperatorCost,
    ins: Sequence[TensorInfo | None],
    outs: Sequence[TensorInfo | None],
    macs: Callable[[Shapes, Shapes], int],
    kernel: Callable[[Shapes], int],
) -> NodeWork:
    """The work of a node the operator table knows: MACs by the format's rule, FLOPs, bytes moved; unknown,
    with the reason, when a shape is symbolic or was not inferred."""
    if not all(known(t) for t in [*ins, *outs]):
        symbolic = sorted({d for t in [*ins, *outs] if t and t.shape for d in t.shape if isinstance(d, str)})
        reason = f"symbolic dimension {', '.join(symbolic)} (give --dim)" if symbolic else "a shape was not inferred"
        return unknown_work(name, op_type, op_class, reason)
    shapes = [fixed(t) for t in ins if t]
    out_shapes = [fixed(t) for t in outs if t]
    counted = macs(shapes, out_shapes) if cost.macs else 0
    per_element = kernel(shapes) if cost.flops_per_element == "kernel" else cost.flops_per_element
    return NodeWork(
        name=name,
        op_type=op_type,
        op_class=op_class,
        macs=counted,
        flops=2 * counted + int(per_element) * sum(math.prod(s) for s in out_shapes),
        bytes_moved=sum(tensor_bytes(t) for t in [*ins, *outs] if t),
    )


def unknown_work(name: str, op_type: str, op_class: OperatorClass, reason: str) -> NodeWork:
    """A node whose work cannot be counted, and why."""
    return NodeWork(
        name=name, op_type=op_type, op_class=op_class, macs=None, flops=None, bytes_moved=None, unknown=reason
    )


def parameter_groups(weights: Iterable[TensorInfo]) -> tuple[ParameterGroup, ...]:
    """Count and bytes of the weights, by element type."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for tensor in weights:
        counts[tensor.dtype] += math.prod(fixed(tensor))
        sizes[tensor.dtype] += tensor_bytes(tensor)
    return tuple(ParameterGroup(dtype=d, count=counts[d], bytes=sizes[d]) for d in sorted(counts))


def class_totals(nodes: Sequence[NodeWork]) -> tuple[ClassTotals, ...]:
    """Work and traffic by operator class, with the nodes that could not be counted."""
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


def memory(
    inputs: Sequence[str],
    steps: Sequence[Step],
    outputs: Sequence[str],
    tensors: dict[str, TensorInfo],
    names: Sequence[str],
    weights_bytes: int,
) -> Memory:
    """Peak of live activations along the node order: a tensor lives from the step that writes it (the start,
    for inputs) to its last reader (the end, for outputs). Unknown while any activation's shape is."""
    activations = [*inputs, *(w for step in steps for w in step.writes)]
    if not all(known(tensors.get(name)) for name in activations):
        return Memory(weights_bytes=weights_bytes, peak_activation_bytes=None, peak_at_node=None,
                      min_working_set_bytes=None)  # fmt: skip
    size = {name: tensor_bytes(tensors[name]) for name in activations}
    last_use = dict.fromkeys(outputs, len(steps))
    for index, step in enumerate(steps):
        for name in step.reads:
            if name in size:
                last_use[name] = max(last_use.get(name, index), index)
    live = set(inputs)
    peak, peak_at, largest = sum(size[n] for n in live), "(inputs)", 0
    for index, step in enumerate(steps):
        live |= set(step.writes)
        current = sum(size[n] for n in live)
        largest = max(largest, sum(size[n] for n in {*step.reads, *step.writes} if n in size))
        if current > peak:
            peak, peak_at = current, names[index]
        live = {n for n in live if last_use.get(n, index) > index}
    return Memory(
        weights_bytes=weights_bytes,
        peak_activation_bytes=peak,
        peak_at_node=peak_at,
        min_working_set_bytes=weights_bytes + largest,
    )


def assemble(
    *,
    path: str,
    format: str,
    producer: str | None,
    opsets: dict[str, int],
    inputs: tuple[TensorInfo, ...],
    outputs: tuple[TensorInfo, ...],
    dims: dict[str, int],
    nodes: tuple[NodeWork, ...],
    parameters: tuple[ParameterGroup, ...],
    steps: Sequence[Step],
    tensors: dict[str, TensorInfo],
) -> Anatomy:
    """The anatomy, with the totals computed from the nodes and the memory from the steps (one per node)."""
    counted = [n for n in nodes if n.unknown is None]
    flops = sum(n.flops or 0 for n in counted)
    moved = sum(n.bytes_moved or 0 for n in counted)
    return Anatomy(
        path=path,
        format=format,
        producer=producer,
        opsets=opsets,
        inputs=inputs,
        outputs=outputs,
        dims=dims,
        symbolic_dims=tuple(sorted({d for t in inputs for d in (t.shape or ()) if isinstance(d, str)})),
        operators=dict(Counter(n.op_type for n in nodes).most_common()),
        parameters=parameters,
        nodes=nodes,
        classes=class_totals(nodes),
        macs=sum(n.macs or 0 for n in counted),
        flops=flops,
        bytes_moved=moved,
        intensity=flops / moved if moved else None,
        uncounted_nodes=len(nodes) - len(counted),
        memory=memory(
            [t.name for t in inputs],
            steps,
            [t.name for t in outputs],
            tensors,
            [n.name for n in nodes],
            sum(group.bytes for group in parameters),
        ),
    )
