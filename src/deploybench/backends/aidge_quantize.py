"""Eclipse Aidge's post-training quantization (aidge-quantization) for microcontrollers: the model's input
scaled into [-1, 1] by the largest calibration value (folded into the first layer), its weights and activations
quantized to int8 and its biases to int32 by Aidge from the calibration rows (MAX clipping, each rescaling a
single shift), its outputs dequantized to float, and Aidge's int8 C++ export of it, kept as one archive (`.aidge`)
that the `aidge-cortexm` backend builds into a firmware. The firmware takes round(x * input_scale) as int8."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploybench.backends import aidge_export
from deploybench.backends.base import Probe, installed_package
from deploybench.backends.cortexm.firmware import ModelCode
from deploybench.backends.onnx_model import SHAPE_ONLY, constant_tensors
from deploybench.core.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np

MANIFEST = "manifest.json"
LINEAR = ("Gemm", "MatMul", "Conv")
"""Operators whose weights can absorb the input's scaling (input x weights)."""
SCALING = ("Div", "Mul")
"""Operators by a constant that can absorb the input's scaling."""
REPORT_LINE = re.compile(r"^- \[(ok|!|\?)\] (\S+) x\d+", re.MULTILINE)
"""A line of Aidge's quantizability report: its verdict and an operator type."""
REPORT_MARKS = {"!": "stays in floating point: not integer-compatible", "?": "unknown to the quantizer"}
LEVELS = 127
"""Aidge's int8 range, symmetric: [-127, 127]."""


class Manifest(BaseModel):
    """What an `.aidge` archive holds besides Aidge's export: how to call it and how it was made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="File name of the FP32 model it was quantized from.")
    input_name: str = Field(description="The model's input.")
    input_shape: tuple[int, ...] = Field(description="Its shape, at batch one.")
    input_scale: float = Field(gt=0, description="The firmware takes round(x * input_scale), saturated to int8.")
    outputs: dict[str, tuple[int, ...]] = Field(description="Each output's name and shape at batch one (float).")
    weights: int = Field(ge=0, description="Number of weight and bias values: the least bytes they take.")
    generator: str = Field(description="Aidge's quantizer and exporter, with versions.")
    calibration_rows: int = Field(ge=1, description="Rows the activation ranges were calibrated on.")


def probe() -> Probe:
    """Whether Aidge's quantization is installed."""
    return installed_package("aidge_quantization", "aidge-quantization", "mcu")


def quantize(model: Path, rows: np.ndarray, folder: Path) -> tuple[Path, Manifest]:
    """The model quantized to int8 by Aidge on the calibration rows and exported, as an archive in folder, and
    the archive's manifest."""
    import numpy as np

    fixed, inputs, shapes = aidge_export.at_batch_one(model, folder / "model-batch1.onnx")
    ((input_name, shape),) = inputs.items()
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, *shape[1:])
    largest = float(np.abs(rows).max()) if rows.size else 0.0
    if not np.isfinite(largest) or largest == 0.0:
        raise ConfigurationError(
            f"{model.name}: the calibration rows are all zero or not finite", hint="give real rows"
        )
    normalized, weights = _scaled_input(fixed, input_name, largest, folder / "model-normalized.onnx", model.name)
    unit = rows / largest
    graph = aidge_export.import_graph(normalized, model.name)
    aidge_core = aidge_export.aidge_modules()[0]
    quantization = _quantization()
    _check_quantizable(quantization, graph, model.name)
    graph.compile("cpu", aidge_core.dtype.float32, dims=[list(shape)])
    aidge_core.expand_metaops(graph, name_format="{0}_{1}_{2}")
    quantization.auto_assign_node_precision(
        graphview=graph,
        act_precision=aidge_core.dtype.int8,
        weight_precision=aidge_core.dtype.int8,
        bias_precision=aidge_core.dtype.int32,
    )
    calibration = []
    for row in unit:
        tensor = aidge_export.example(row[None])
        tensor.set_backend("cpu")
        calibration.append(tensor)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantization.quantize_network(
                network=graph,
                calibration_set=calibration,
                clipping_mode=quantization.Clipping.MAX,
                single_shift=True,
                dequantize=True,
            )
    except RuntimeError as exc:
        raise ConfigurationError(f"{model.name}: Aidge cannot quantize it: {' '.join(str(exc).split())}") from exc
    sample = aidge_export.example(np.round(unit[:1] * LEVELS).astype(np.int8))
    export = aidge_export.export_graph(graph, folder, model.name, "int8", sample, prequantized=True)
    manifest = Manifest(
        model=model.name,
        input_name=input_name,
        input_shape=tuple(shape),
        input_scale=LEVELS / largest,
        outputs=shapes,
        weights=weights,
        generator=f"aidge-quantization {probe().version}, aidge-export-cpp {aidge_export.probe().version}",
        calibration_rows=len(rows),
    )
    archive = folder / "archive" / f"{model.stem}.aidge"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(MANIFEST, manifest.model_dump_json(indent=2))
        for path in sorted(export.rglob("*")):
            if path.is_file():
                bundle.write(path, f"aidge/{path.relative_to(export)}")
    return archive, manifest


def manifest(archive: Path) -> Manifest:
    """The archive's manifest; an archive that is not one deploybench made is a one-line error naming it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            text = bundle.read(MANIFEST).decode("utf-8")
        return Manifest.model_validate(json.loads(text))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError, ValidationError, OSError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigurationError(
            f"{archive}: not an Aidge int8 export made by deploybench ({first})",
            hint="make it again: deploybench optimize MODEL.onnx -F aidge-cortexm --method ptq-int8",
        ) from exc


def model_code(archive: Path, folder: Path) -> ModelCode:
    """The archive's export unpacked into folder, and how the harness calls it."""
    described = manifest(archive)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            target = (folder / member).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise ConfigurationError(f"{archive}: member {member} would be written outside the export folder")
        bundle.extractall(folder)
    return aidge_export.read_code(
        folder / "aidge",
        described.model,
        (described.input_name, described.input_shape),
        dict(described.outputs),
        described.generator,
        input_scale=described.input_scale,
    )


def _scaled_input(model: Path, input_name: str, largest: float, target: Path, model_name: str) -> tuple[Path, int]:
    """A copy of the model that takes x / largest instead of x, the factor folded into every node that reads
    the input, through reshapes (a Gemm's, MatMul's or Conv's weights, a Div's or Mul's constant; a division or
    multiplication by one that is left is dropped), and the number of weight values; any other reader is a
    one-line error."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    graph = proto.graph
    constants = constant_tensors(graph)
    dropped = []
    for node, read in _readers(graph, input_name):
        position = list(node.input).index(read)
        if node.op_type in LINEAR and position == 0 and len(node.input) > 1 and node.input[1] in constants:
            index = 1
        elif node.op_type in SCALING and len(node.input) == 2 and node.input[1 - position] in constants:
            index = 1 - position
        else:
            raise ConfigurationError(
                f"{model_name}: node {node.name or node.output[0]} ({node.op_type}) reads the input directly and "
                "cannot absorb its scaling into [-1, 1], which Aidge's int8 export needs",
                hint="quantize a model whose input goes first into a Gemm, MatMul, Conv, Div or Mul",
            )
        name = node.input[index]
        tensor = constants[name]
        if sum(used == name for other in graph.node for used in other.input) > 1:
            raise ConfigurationError(f"{model_name}: the constant {name} of node {node.name} is shared")
        values = numpy_helper.to_array(tensor)
        factor = 1 / largest if node.op_type == "Div" else largest
        scaled = (values * factor).astype(values.dtype)
        tensor.CopyFrom(numpy_helper.from_array(scaled, tensor.name))
        if np.all(scaled == 1) and (node.op_type == "Mul" or (node.op_type == "Div" and index == 1)):
            dropped.append(node)
    for node in dropped:
        (read,) = (name for name in node.input if name not in constants)
        for other in graph.node:
            other.input[:] = [read if name == node.output[0] else name for name in other.input]
        graph.node.remove(node)
    onnx.save(proto, str(target))
    weights = sum(int(np.prod(t.dims)) for t in graph.initializer)
    return target, weights


def _check_quantizable(quantization: Any, graph: Any, model_name: str) -> None:
    """Refuse, naming them, the operators Aidge's own report says its quantizer leaves in float or does not
    know: on such graphs (a Tanh, say) its quantization fails or never returns."""
    with _standard_output() as printed:
        quantization.quantizability_report(graph)
    found = REPORT_LINE.findall(printed.read())
    refused = [f"{name} ({REPORT_MARKS[mark]})" for mark, name in found if mark in REPORT_MARKS]
    if refused:
        raise ConfigurationError(
            f"{model_name}: Aidge's quantizer cannot take {', '.join(refused)}",
            hint="deploy the FP32 model with aidge-cortexm, or quantize with another framework's tool",
        )


@contextlib.contextmanager
def _standard_output() -> Iterator[io.StringIO]:
    """What is written to the process's standard output meanwhile, C++ included, readable afterwards."""
    text = io.StringIO()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as captured:
        os.dup2(captured.fileno(), 1)
        try:
            yield text
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            captured.seek(0)
            text.write(captured.read())
            text.seek(0)


def _readers(graph: Any, name: str) -> list[tuple[Any, str]]:
    """The nodes that compute on the tensor, and the name they read it by, looking through the nodes that only
    reshape it (Flatten, Reshape, Identity): scaling commutes with them."""
    found = []
    for node in graph.node:
        if name not in node.input:
            continue
        if node.op_type in SHAPE_ONLY and node.input[0] == name:
            found += _readers(graph, node.output[0])
        else:
            found.append((node, name))
    return found


def _quantization() -> Any:
    """aidge_quantization, imported after Aidge's core (its bindings need Aidge's types registered)."""
    import importlib

    aidge_export.aidge_modules()
    return importlib.import_module("aidge_quantization")
