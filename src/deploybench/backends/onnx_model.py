"""Checks every ONNX-consuming backend runs before loading a file: is it a whole, safe ONNX model?"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploybench.backends.base import TensorSpec
from deploybench.core.errors import BackendError, ConfigurationError

ONNX_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}
"""ONNX Runtime's type strings -> NumPy dtype names."""
SHAPE_ONLY = ("Flatten", "Reshape", "Identity")
"""Operators that only reshape a tensor: a sample's values keep their order, and a scaling commutes with them."""
PROTOBUF_LIMIT = 2**31 - 1
"""Largest single protobuf file; a bigger model's copy keeps its weights in an external file."""


def check_onnx_model(path: Path) -> list[Path]:
    """Refuse a file that is not a complete ONNX model or whose external data lies outside its folder.

    Returns the external data files the model uses.
    """
    import onnx

    data_files = external_data_files(read_onnx_model(path), path)
    validate(onnx.checker.check_model, str(path), path)
    return data_files


def read_onnx_model(path: Path) -> Any:
    """The ModelProto of the file at path, external data left unloaded; an unreadable file is a one-line error."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise BackendError(f"{path}: no such model file", hint="give the path of an .onnx file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BackendError(
            f"{path}: not a readable ONNX model ({exc})", hint="check that the file is a whole, uncorrupted .onnx file"
        ) from exc
    if not model.graph.node and not model.graph.output:
        raise BackendError(f"{path}: not an ONNX model (no graph)", hint="give an .onnx file exported by a converter")
    return model


def validate(checker: Callable[[Any], None], model: Any, path: Path) -> None:
    """Run an ONNX checker on model (a path or a ModelProto); a violation is a one-line error about path."""
    import onnx

    try:
        checker(model)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BackendError(f"{path}: invalid ONNX model: {first}", hint="re-export the model") from exc


def external_data_files(model: object, path: Path) -> list[Path]:
    """The external data files of the model read from path; one outside its folder, or missing, is an error."""
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    folder = path.parent.resolve()
    files: list[Path] = []
    for tensor in _get_all_tensors(model):  # type: ignore[arg-type]
        if not uses_external_data(tensor):
            continue
        location = ExternalDataInfo(tensor).location
        target = (folder / location).resolve()
        if os.path.commonpath([folder, target]) != str(folder):
            raise BackendError(
                f"{path}: external data of tensor `{tensor.name}` points outside the model's folder (`{location}`)",
                hint="keep external data files beside the .onnx file; a path leaving the folder is refused",
            )
        if not target.is_file():
            raise BackendError(
                f"{path}: external data file `{location}` of tensor `{tensor.name}` is missing",
                hint="copy the .onnx file together with its data files",
            )
        if target not in files:
            files.append(target)
    return files


FLOAT_TYPES = (1, 10, 11, 16)
"""ONNX TensorProto element types of float, float16, double and bfloat16 weights."""


def require_float_weights(path: Path, tool: str) -> None:
    """Refuse to quantize or compress a model with no float weights (one already quantized, or weightless)."""
    model = read_onnx_model(path)
    if not any(t.data_type in FLOAT_TYPES and math.prod(t.dims) > 1 for t in model.graph.initializer):
        raise BackendError(
            f"{tool}: {path.name} has no float weights to quantize", hint="give the FP32 model, not a quantized one"
        )


def onnx_inputs(path: Path) -> list[TensorSpec]:
    """The model's graph inputs (initializers left out): name, shape (a name or None where dynamic), NumPy dtype."""
    from onnx import helper

    graph = read_onnx_model(path).graph
    initializers = {i.name for i in graph.initializer}
    specs = []
    for value in graph.input:
        if value.name in initializers:
            continue
        kind = value.type.tensor_type
        shape = tuple(d.dim_value if d.dim_value > 0 else (d.dim_param or None) for d in kind.shape.dim)
        specs.append(TensorSpec(value.name, shape, helper.tensor_dtype_to_np_dtype(kind.elem_type).name))
    return specs


def constant_tensors(graph: Any) -> dict[str, Any]:
    """The graph's constants by name, as TensorProtos: its initializers and the values of its Constant nodes."""
    constants = {t.name: t for t in graph.initializer}
    constants |= {
        node.output[0]: node.attribute[0].t
        for node in graph.node
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"
    }
    return constants


def at_batch_one(model: Path) -> tuple[Any, dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """The model (weights loaded) with its batch axis fixed at one, for a deployment with static shapes (a
    firmware, an FPGA design), and its input's (weights aside) and each output's shape; a dynamic axis other
    than the batch, or more than one input, is a one-line error."""
    import onnx

    proto = onnx.load(str(model))
    for value in (*proto.graph.input, *proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
        if any(not d.HasField("dim_value") for d in dims):
            raise ConfigurationError(
                f"{model.name}: `{value.name}` has a dynamic axis besides the batch",
                hint="firmware and FPGA designs need static shapes: export the model with fixed dimensions",
            )
    weights = {t.name for t in proto.graph.initializer}
    inputs = {v.name: _static_shape(v) for v in proto.graph.input if v.name not in weights}
    if len(inputs) != 1:
        raise ConfigurationError(f"{model.name}: a static deployment takes one input, the model has {len(inputs)}")
    return proto, inputs, {v.name: _static_shape(v) for v in proto.graph.output}


def _static_shape(value: Any) -> tuple[int, ...]:
    """The static shape of an ONNX graph input or output."""
    return tuple(int(d.dim_value) for d in value.type.tensor_type.shape.dim)
