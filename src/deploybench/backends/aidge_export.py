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
from deploybench.backends.onnx_model import at_batch_one as batch_one
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

    fixed, inputs, shapes = at_batch_one(model, folder / "model-batch1.onnx")
    ((input_name, shape),) = inputs.items()
    graph = import_graph(fixed, model.name)
    aidge_core = aidge_modules()[0]
    graph.compile("cpu", aidge_core.dtype.float32, dims=[list(shape)])
    export = export_graph(graph, folder, model.name, "float32", example(np.zeros(shape, dtype=np.float32)))
    return read_code(export, model.name, (input_name, tuple(shape)), shapes, f"aidge-export-cpp {probe().version}")


def import_graph(onnx_file: Path, model_name: str) -> Any:
    """The ONNX file as an Aidge graph, with its no-op Flatten nodes removed; an ONNX operator Aidge has no
    operator for is a one-line error naming the nodes."""
    aidge_core, aidge_onnx, _ = aidge_modules()
    aidge_core.Log.set_console_level(aidge_core.Level.Error)
    with contextlib.redirect_stdout(io.StringIO()):
        graph = aidge_onnx.load_onnx(str(onnx_file))
    unknown = sorted(
        f"{node.name()} ({node.type()})"
        for node in graph.get_nodes()
        if isinstance(node.get_operator(), aidge_core.GenericOperatorOp)
    )
    if unknown:
        raise ConfigurationError(
            f"{model_name}: Aidge has no operator for {', '.join(unknown)}",
            hint="`deploybench analyze --compliance` lists the frameworks that take each operator",
        )
    aidge_core.remove_flatten(graph)
    return graph


def example(values: Any) -> Any:
    """An Aidge tensor of the values, told it is channels-first when its rank says it may be (left at its
    default, Aidge's export reads a channels-first input as channels-last)."""
    aidge_core = aidge_modules()[0]
    tensor = aidge_core.Tensor(values)
    if values.ndim in CHANNELS_FIRST:
        tensor.set_data_format(getattr(aidge_core.dformat, CHANNELS_FIRST[values.ndim]))
    return tensor


def export_graph(
    graph: Any, folder: Path, model_name: str, dtype: str, sample: Any, prequantized: bool = False
) -> Path:
    """Aidge's C++ export of the compiled graph into folder/aidge (static memory, legacy adaptation): float32,
    or int8 for a graph Aidge's quantization already quantized."""
    aidge_core, _, export_cpp = aidge_modules()
    export = folder / "aidge"
    config = export_cpp.ExportConfig(
        target="host",
        export_folder=str(export),
        dtype=dtype,
        legacy=True,
        compile=False,
        model_prequantized=prequantized,
    )
    try:
        with contextlib.redirect_stdout(io.StringIO()), _inside(folder):
            aidge_core.export_utils.export(graph=graph, config=config, input_tensors=[sample])
    except RuntimeError as exc:
        raise ConfigurationError(f"{model_name}: Aidge cannot export it: {_reason(exc)}") from exc
    return export


def read_code(
    export: Path,
    model_name: str,
    given: tuple[str, tuple[int, ...]],
    shapes: dict[str, tuple[int, ...]],
    generator: str,
    input_scale: float | None = None,
) -> ModelCode:
    """How the harness calls an Aidge export: its sources and `model_forward`'s parameters, read from its
    header, with the model's input (name, shape) and outputs (name -> shape)."""
    import numpy as np

    header = export / "dnn" / "include" / "forward.hpp"
    found = PROTOTYPE.search(header.read_text(encoding="utf-8"))
    if found is None:
        raise ConfigurationError(f"{header}: no model_forward() in Aidge's export")
    parameters = [PARAMETER.match(p.strip()) for p in found[1].split(",")]
    takes = [p for p in parameters if p and p[3] == "*"]
    returned = [p for p in parameters if p and p[3] == "**"]
    if len(takes) != 1 or len(returned) != len(shapes):
        raise ConfigurationError(f"{model_name}: the firmware harness takes one input, Aidge's export has {len(takes)}")
    sizes = [int(np.prod(shape)) for shape in shapes.values()]
    outputs = tuple((p[4], p[2], size) for p, size in zip(returned, sizes, strict=True))
    input_name, input_shape = given
    return ModelCode(
        input_name=input_name,
        input_shape=input_shape,
        output_names=tuple(shapes),
        output_shapes=tuple(shapes.values()),
        sources=tuple(sorted((export / "dnn" / "src").rglob("*.cpp"))),
        include_dirs=(export / "dnn", export / "dnn" / "include", export),
        header="forward.hpp",
        call=f"model_forward(input, {', '.join('&' + name for name, _, _ in outputs)})",
        input_type=takes[0][2],
        input_size=int(np.prod(input_shape)),
        outputs=outputs,
        generator=generator,
        input_scale=input_scale,
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


def aidge_modules() -> tuple[Any, Any, Any]:
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


def at_batch_one(model: Path, target: Path) -> tuple[Path, dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """The model at batch one (see `onnx_model.at_batch_one`) without the Flatten nodes Aidge has no kernel for,
    saved at target, and its input's and outputs' shapes."""
    import onnx

    proto, inputs, outputs = batch_one(model)
    _drop_identity_flattens(proto)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(target))
    return target, inputs, outputs
