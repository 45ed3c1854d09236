"""The anatomy of a TFLite flatbuffer, read with LiteRT's own schema bindings (`schema_py_generated`, the
flatbuffers code generated from TFLite's schema): the first subgraph, its tensors' static shapes (a dynamic
dimension, -1 in the shape signature, stays symbolic as `dN`), its constant tensors as the weights, and the
operator table `data/tflite_operators.yaml` for the work in NHWC layouts.
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
from deploybench.backends.tflite_model import operator_names
from deploybench.core.errors import BackendError, ConfigurationError

FLATBUFFER_ID = b"TFL3"


def analyze_tflite(path: Path, dims: dict[str, int] | None = None) -> Anatomy:
    """Anatomy of the `.tflite` model at path (its first subgraph); dims fix its dynamic dimensions."""
    schema, model, graph = _read(path)
    try:
        codes = operator_names(model, schema)
        tensors = [_tensor(graph.Tensors(i), i, schema) for i in range(graph.TensorsLength())]
        constant = [_is_constant(model, graph.Tensors(i)) for i in range(graph.TensorsLength())]
        operators = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        raise BackendError(f"{path}: a corrupt TFLite flatbuffer ({exc})", hint="give a whole .tflite file") from exc
    dims = dict(dims or {})
    check_dims(dims, {d for t in tensors for d in t.shape or () if isinstance(d, str)}, path)
    tensors = [_fixed_dims(t, dims) for t in tensors]
    costs = operator_costs("tflite")
    nodes = tuple(_node_work(op, index, codes, tensors, costs, schema) for index, op in enumerate(operators))
    activation = {t.name for t, c in zip(tensors, constant, strict=True) if not c}
    steps = [
        Step(
            tuple(tensors[i].name for i in op.InputsAsNumpy() if i >= 0 and tensors[i].name in activation),
            tuple(tensors[i].name for i in op.OutputsAsNumpy() if i >= 0),
        )
        for op in operators
    ]
    weights = parameter_groups(t for t, c in zip(tensors, constant, strict=True) if c)
    inputs = tuple(tensors[i] for i in graph.InputsAsNumpy())
    outputs = tuple(tensors[i] for i in graph.OutputsAsNumpy())
    description = model.Description()
    return assemble(
        path=str(path),
        format="tflite",
        producer=description.decode("utf-8", errors="replace") if description else None,
        opsets={"tflite schema": int(model.Version())},
        inputs=inputs,
        outputs=outputs,
        dims=dims,
        nodes=nodes,
        parameters=weights,
        steps=steps,
        tensors={t.name: t for t in tensors},
    )


def tflite_nodes(path: Path) -> list[tuple[str, str, str | None]]:
    """Every operator of the first subgraph, in order: (its first output's name, its operator, the element type
    of its first input), for checks of operator support."""
    schema, model, graph = _read(path)
    try:
        codes = operator_names(model, schema)
        tensors = [_tensor(graph.Tensors(i), i, schema) for i in range(graph.TensorsLength())]
        found = []
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            ins = [i for i in op.InputsAsNumpy() if i >= 0] if op.InputsLength() else []
            outs = [i for i in op.OutputsAsNumpy() if i >= 0] if op.OutputsLength() else []
            name = tensors[outs[0]].name if outs else f"operator{index}"
            found.append((name, codes[op.OpcodeIndex()], tensors[ins[0]].dtype if ins else None))
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        raise BackendError(f"{path}: a corrupt TFLite flatbuffer ({exc})", hint="give a whole .tflite file") from exc
    return found


def _read(path: Path) -> tuple[Any, Any, Any]:
    """LiteRT's schema module, the model and its first subgraph."""
    schema = _schema()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackendError(f"{path}: cannot read the model: {exc.strerror}") from exc
    if data[4:8] != FLATBUFFER_ID:
        raise BackendError(f"{path}: not a TFLite flatbuffer", hint="give a whole .tflite file")
    try:
        model = schema.Model.GetRootAs(data, 0)
        return schema, model, model.Subgraphs(0)
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        raise BackendError(f"{path}: a corrupt TFLite flatbuffer ({exc})", hint="give a whole .tflite file") from exc


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise ConfigurationError(
            "analyzing a .tflite model needs LiteRT's schema bindings", hint="pip install 'deploybench[litert]'"
        ) from exc
    return schema_py_generated


def _tensor(tensor: Any, index: int, schema: Any) -> TensorInfo:
    import numpy as np

    types = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    shape = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    signature = [int(d) for d in tensor.ShapeSignatureAsNumpy()] if tensor.ShapeSignatureLength() else shape
    dims: tuple[int | str | None, ...] = tuple(f"d{axis}" if d < 0 else d for axis, d in enumerate(signature))
    name = tensor.Name().decode("utf-8", errors="replace") if tensor.Name() else f"tensor{index}"
    try:
        dtype = np.dtype(types.get(tensor.Type(), "unknown").lower()).name
    except TypeError:
        dtype = "unknown"
    return TensorInfo(name=name, shape=dims, dtype=dtype)


def _is_constant(model: Any, tensor: Any) -> bool:
    index = tensor.Buffer()
    if index <= 0 or index >= model.BuffersLength():
        return False
    buffer = model.Buffers(index)
    return bool(buffer.DataLength() or buffer.Size())


def _fixed_dims(tensor: TensorInfo, dims: dict[str, int]) -> TensorInfo:
    if not dims or tensor.shape is None:
        return tensor
    shape = tuple(dims.get(d, d) if isinstance(d, str) else d for d in tensor.shape)
    return tensor.model_copy(update={"shape": shape})


def _node_work(
    op: Any, index: int, codes: list[str], tensors: list[TensorInfo], costs: dict[str, OperatorCost], schema: Any
) -> NodeWork:
    op_type = codes[op.OpcodeIndex()]
    outputs = [tensors[i] for i in op.OutputsAsNumpy() if i >= 0]
    name = outputs[0].name if outputs else f"{op_type}:{index}"
    cost = costs.get(op_type)
    if cost is None:
        reason = f"operator {op_type}: its work is not in deploybench's operator table"
        return unknown_work(name, op_type, OperatorClass.OTHER, reason)
    inputs = [tensors[i] for i in op.InputsAsNumpy() if i >= 0]
    return node_work(
        name,
        op_type,
        cost.op_class,
        cost,
        inputs,
        outputs,
        lambda shapes, outs: _macs(cost, shapes, outs),
        lambda shapes: _window(op, shapes, math.prod(fixed(outputs[0])), schema),
    )


def _macs(cost: OperatorCost, shapes: Shapes, outs: Shapes) -> int:
    out = math.prod(outs[0])
    if cost.macs == "conv_nhwc":
        return out * math.prod(shapes[1][1:])
    if cost.macs == "depthwise_nhwc":
        return out * shapes[1][1] * shapes[1][2]
    if cost.macs == "fully_connected":
        return out * shapes[1][-1]
    if cost.macs == "transpose_conv_nhwc":
        weight = shapes[1]
        return math.prod(shapes[2]) * weight[0] * weight[1] * weight[2]
    return out * shapes[0][-1]


def _window(op: Any, shapes: Shapes, out_elements: int, schema: Any) -> int:
    """The pooling window: the filter of Pool2DOptions, else the input elements per output element (a mean)."""
    if op.BuiltinOptionsType() == schema.BuiltinOptions.Pool2DOptions:
        options = schema.Pool2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        return int(options.FilterWidth() * options.FilterHeight())
    return max(1, math.prod(shapes[0]) // max(1, out_elements))
