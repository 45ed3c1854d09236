"""Eclipse Aidge (the open successor of CEA's N2D2) as a code generator for microcontrollers: the ONNX model
imported by aidge_onnx, checked on Aidge's CPU backend, and exported as plain C++ by aidge_export_cpp (static
memory, no allocation), ready to be cross-compiled into a firmware."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploybench.backends.base import Probe, installed_package
from deploybench.backends.cortexm.firmware import ModelCode
from deploybench.core.errors import ConfigurationError

PROTOTYPE = re.compile(r"void\s+model_forward\s*\(([^)]*)\)")
CHANNELS_FIRST = {2: "nc", 3: "ncw", 4: "nchw"}
"""Aidge's name of an ONNX input's layout, by rank: told to the export, it lays the firmware's input out as the
model's (left at `default`, a channels-first model's input is read as channels-last)."""
NO_KERNEL = re.compile(r"Operator (\S+)\[(\w+)\] doesn't have an exportable backend")
PARAMETER = re.compile(r"^(const\s+)?(\w+)\s*(\*{1,2})\s*(\w+)$")


def probe() -> Probe:
    """Whether Aidge's ONNX import and C++ export are installed."""
    return installed_package("aidge_export_cpp", "aidge-export-cpp", "mcu")


def weight_bytes(model: Path) -> int:
    """Bytes of the model's weights (its initializers), read without loading their data."""
    import numpy as np
    import onnx
    from onnx import helper

    proto = onnx.load(str(model), load_external_data=False)
    return sum(
        int(np.prod(t.dims)) * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize for t in proto.graph.initializer
    )


def model_code(model: Path, folder: Path) -> ModelCode:
    """The model exported by Aidge as C++ into folder (at batch one, float32), and how to call it; an operator
    Aidge cannot import or export is a one-line error naming it."""
    import numpy as np

    fixed, inputs, shapes = _at_batch_one(model, folder / "model-batch1.onnx")
    if len(inputs) != 1:
        raise ConfigurationError(f"{model.name}: the firmware harness takes one input, the model has {len(inputs)}")
    ((input_name, shape),) = inputs.items()
    sizes = [int(np.prod(output)) for output in shapes.values()]
    aidge_core, aidge_onnx, export_cpp = _aidge()

    aidge_core.Log.set_console_level(aidge_core.Level.Error)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        graph = aidge_onnx.load_onnx(str(fixed))
    unknown = sorted(
        f"{node.name()} ({node.type()})"
        for node in graph.get_nodes()
        if isinstance(node.get_operator(), aidge_core.GenericOperatorOp)
    )
    if unknown:
        raise ConfigurationError(
            f"{model.name}: Aidge has no operator for {', '.join(unknown)}",
            hint="`deploybench analyze --compliance` lists the frameworks that take each operator",
        )
    aidge_core.remove_flatten(graph)
    example = aidge_core.Tensor(np.zeros(shape, dtype=np.float32))
    if len(shape) in CHANNELS_FIRST:
        example.set_data_format(getattr(aidge_core.dformat, CHANNELS_FIRST[len(shape)]))
    try:
        graph.compile("cpu", aidge_core.dtype.float32, dims=[list(shape)])
        export = folder / "aidge"
        config = export_cpp.ExportConfig(
            target="host", export_folder=str(export), dtype="float32", legacy=True, compile=False
        )
        with contextlib.redirect_stdout(quiet), _inside(folder):
            aidge_core.export_utils.export(graph=graph, config=config, input_tensors=[example])
    except RuntimeError as exc:
        raise ConfigurationError(f"{model.name}: Aidge cannot export it: {_reason(exc)}") from exc
    header = export / "dnn" / "include" / "forward.hpp"
    found = PROTOTYPE.search(header.read_text(encoding="utf-8"))
    if found is None:
        raise ConfigurationError(f"{header}: no model_forward() in Aidge's export")
    parameters = [PARAMETER.match(p.strip()) for p in found[1].split(",")]
    given = [p for p in parameters if p and p[3] == "*"]
    returned = [p for p in parameters if p and p[3] == "**"]
    if len(given) != 1 or len(returned) != len(sizes):
        raise ConfigurationError(f"{model.name}: the firmware harness takes one input, Aidge's export has {len(given)}")
    outputs = tuple((p[4], p[2], size) for p, size in zip(returned, sizes, strict=True))
    call = f"model_forward(input, {', '.join('&' + name for name, _, _ in outputs)})"
    return ModelCode(
        input_name=input_name,
        input_shape=tuple(shape),
        output_names=tuple(shapes),
        output_shapes=tuple(shapes.values()),
        sources=tuple(sorted((export / "dnn" / "src").rglob("*.cpp"))),
        include_dirs=(export / "dnn", export / "dnn" / "include", export),
        header="forward.hpp",
        call=call,
        input_type=given[0][2],
        input_size=int(np.prod(shape)),
        outputs=outputs,
        generator=f"aidge-export-cpp {probe().version}",
    )


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Work from folder for a while: Aidge's export writes a drawing of the graph into the current directory."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _reason(error: RuntimeError) -> str:
    """Aidge's complaint in one line, naming the node when it says which one has no kernel."""
    text = " ".join(str(error).split())
    missing = NO_KERNEL.search(text)
    if missing:
        return f"its C++ export has no kernel for node {missing[1]} ({missing[2]})"
    return text


def _aidge() -> tuple[Any, Any, Any]:
    """aidge_core, aidge_onnx and aidge_export_cpp, with Aidge's CPU kernels registered; imported by name
    because Aidge's own type stubs do not parse."""
    importlib.import_module("aidge_backend_cpu")
    names = ("aidge_core", "aidge_onnx", "aidge_export_cpp")
    core, onnx_import, export = (importlib.import_module(name) for name in names)
    return core, onnx_import, export


def _drop_identity_flattens(proto: Any) -> None:
    """Remove the Flatten nodes that change nothing (axis 1 on a tensor already of rank two, as in front of a
    policy network): Aidge's C++ export has no kernel for Flatten and only removes those before a dense layer."""
    from onnx import helper, shape_inference

    inferred = shape_inference.infer_shapes(proto).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in (*inferred.input, *inferred.value_info)}
    outputs = {v.name for v in proto.graph.output}
    for node in list(proto.graph.node):
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
        if node.op_type != "Flatten" or axis != 1 or ranks.get(node.input[0]) != 2 or node.output[0] in outputs:
            continue
        for consumer in proto.graph.node:
            consumer.input[:] = [node.input[0] if name == node.output[0] else name for name in consumer.input]
        proto.graph.node.remove(node)


def _at_batch_one(model: Path, target: Path) -> tuple[Path, dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """A copy of the model with its batch axis fixed at one (a firmware has static shapes), and each input's
    (weights aside) and output's shape; a dynamic axis other than the batch is a one-line error."""
    import onnx

    proto = onnx.load(str(model))
    for value in (*proto.graph.input, *proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
        if any(not d.HasField("dim_value") for d in dims):
            raise ConfigurationError(
                f"{model.name}: `{value.name}` has a dynamic axis besides the batch",
                hint="a firmware needs static shapes: export the model with fixed dimensions",
            )
    _drop_identity_flattens(proto)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(target))
    weights = {t.name for t in proto.graph.initializer}
    inputs = {v.name: _shape(v) for v in proto.graph.input if v.name not in weights}
    return target, inputs, {v.name: _shape(v) for v in proto.graph.output}


def _shape(value: Any) -> tuple[int, ...]:
    """The static shape of an ONNX graph input or output."""
    return tuple(int(d.dim_value) for d in value.type.tensor_type.shape.dim)
