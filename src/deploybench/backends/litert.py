"""LiteRT (TensorFlow Lite) interpreter on the CPU, with XNNPACK, and its reference kernels as a reference
evaluator for `.tflite` models.

An ONNX model is converted by onnx2tf, in a child process (TensorFlow stays out of the measuring process and
its memory out of the peak), keeping the ONNX model's input layout so that the deployed model takes the
same inputs as the ONNX one and its outputs can be compared with the ONNX reference's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends import litert_optimize
from deploybench.backends.base import (
    Calibration,
    Capabilities,
    Method,
    OptimizedModel,
    Prepared,
    Probe,
    TensorSpec,
    installed_package,
)
from deploybench.backends.onnx2tf_log import conversion_failure
from deploybench.backends.onnx_model import PROTOBUF_LIMIT, check_onnx_model
from deploybench.backends.settings import resolve_settings
from deploybench.backends.tflite_model import tflite_operators
from deploybench.core.errors import BackendError
from deploybench.core.formats import model_format
from deploybench.core.records import NodeSupport, SettingValue

if TYPE_CHECKING:
    import numpy as np

SETTINGS = {
    "threads": "interpreter threads (default: physical cores)",
    "delegate": "xnnpack (LiteRT's default CPU delegate) or none (the built-in optimized kernels only)",
}
DELEGATES = ("xnnpack", "none")
FLATBUFFER_ID = b"TFL3"
"""The file identifier at bytes 4-8 of every TFLite flatbuffer."""
CONVERTER = "onnx2tf"
FALLBACK = "LiteRT's built-in CPU kernels"


class LiteRtBackend:
    """ai-edge-litert's Interpreter; ONNX converted by onnx2tf where it is installed."""

    name: ClassVar[str] = "litert"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata, without importing the runtime."""
        return installed_package("ai_edge_litert", "ai-edge-litert", "litert")

    def capabilities(self) -> Capabilities:
        """`.tflite` in, and ONNX too where onnx2tf is installed (its own toolchain environment)."""
        formats = ("tflite", "onnx") if find_spec(CONVERTER) is not None else ("tflite",)
        return Capabilities(input_formats=formats, concurrent_sessions=False, settings=SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Resolve the settings; convert an ONNX model to a `.tflite` file (timed as the prepare step)."""
        import psutil

        defaults: dict[str, SettingValue] = {"threads": psutil.cpu_count(logical=False) or 1, "delegate": "xnnpack"}
        resolved = resolve_settings(self.name, settings, defaults)
        if resolved["delegate"] not in DELEGATES:
            raise BackendError(
                f"litert: `delegate` = {resolved['delegate']!r}", hint=f"use one of {', '.join(DELEGATES)}"
            )
        if model_format(model) == "tflite":
            _check_flatbuffer(model)
            return Prepared(artifact=model, prepare_s=None, settings=resolved)
        check_onnx_model(model)
        started = time.perf_counter()
        artifact = convert_onnx(model, workdir)
        prepare_s = time.perf_counter() - started
        converter = f"{CONVERTER} {version(CONVERTER)}, inputs in the ONNX model's layout"
        return Prepared(artifact=artifact, prepare_s=prepare_s, settings=resolved, converter=converter)

    def optimization_methods(self) -> dict[str, Method]:
        """Full-integer INT8, dynamic-range and FP16 through TFLiteConverter, where onnx2tf and TensorFlow are
        installed (the litert toolchain environment); none elsewhere."""
        if find_spec(CONVERTER) is None or find_spec("tensorflow") is None:
            return {}
        return litert_optimize.METHODS

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The ONNX model through onnx2tf to a SavedModel, then through TFLiteConverter for the method."""
        if model_format(model) != "onnx":
            raise BackendError(
                f"litert: {model.name}: optimizing starts from the FP32 ONNX model", hint="give the .onnx model"
            )
        return litert_optimize.optimize(model, method, options, calibration, workdir)

    def operator_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """The operators LiteRT runs, as it sees them: an ONNX model is first converted by onnx2tf (a node it
        cannot convert is refused); then each operator of the `.tflite` model: a custom or TensorFlow (Flex)
        operator has no kernel in LiteRT's builtin resolver; a builtin one that XNNPACK leaves out of its
        partitions falls back to LiteRT's built-in CPU kernels."""
        import tempfile

        source = f"litert {version('ai-edge-litert')} builtin resolver and XNNPACK partitioning"
        if model_format(model) != "onnx":
            _check_flatbuffer(model)
            nodes, issues = _tflite_support(model)
            return nodes, issues, source
        with tempfile.TemporaryDirectory(prefix="deploybench-litert-") as workdir:
            try:
                artifact = convert_onnx(model, Path(workdir))
            except BackendError as exc:
                nodes, issues = _conversion_refusal(model, exc.message)
                return nodes, issues, f"{CONVERTER} {version(CONVERTER)}"
            nodes, issues = _tflite_support(artifact)
        return nodes, issues, f"{CONVERTER} {version(CONVERTER)} conversion, then {source} of its output"

    def open_session(self, prepared: Prepared) -> LiteRtSession:
        """Load the flatbuffer into an interpreter with the chosen kernels and threads."""
        from ai_edge_litert.interpreter import OpResolverType

        resolver = (
            OpResolverType.AUTO
            if prepared.settings["delegate"] == "xnnpack"
            else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        return LiteRtSession(prepared.artifact, int(prepared.settings["threads"]), resolver)


class LiteRtReferenceBackend:
    """LiteRT's reference kernels, one thread: the simple, unoptimized implementation of each TFLite
    operator, used as the reference that deployments of a `.tflite` model are compared with."""

    name: ClassVar[str] = "litert-reference"

    def probe(self) -> Probe:
        """Installed? Which version?"""
        return installed_package("ai_edge_litert", "ai-edge-litert", "litert")

    def capabilities(self) -> Capabilities:
        """`.tflite` in; a reference, not a deployment."""
        return Capabilities(input_formats=("tflite",), concurrent_sessions=False, settings={}, deployment=False)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Check the flatbuffer; the reference takes no settings."""
        _check_flatbuffer(model)
        return Prepared(artifact=model, prepare_s=None, settings=resolve_settings(self.name, settings, {}))

    def open_session(self, prepared: Prepared) -> LiteRtSession:
        """An interpreter on the reference kernels."""
        from ai_edge_litert.interpreter import OpResolverType

        return LiteRtSession(prepared.artifact, 1, OpResolverType.BUILTIN_REF)


class LiteRtSession:
    """A loaded interpreter; inputs and outputs named by the model's signature when it has one."""

    def __init__(self, artifact: Path, threads: int, resolver: Any) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(
                model_path=str(artifact), num_threads=threads, experimental_op_resolver_type=resolver
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"litert cannot load {artifact}: {_first_line(exc)}") from exc
        self._inputs, self._outputs = _named_details(self._interpreter)
        self._shapes = {name: tuple(int(d) for d in detail["shape"]) for name, detail in self._inputs.items()}

    def inputs(self) -> list[TensorSpec]:
        """Name, shape (None for a dynamic dimension) and dtype of each input."""
        return [_spec(name, detail) for name, detail in self._inputs.items()]

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy the feeds into the interpreter's input tensors, resizing them first if the shape changed."""
        resized = [name for name, array in feeds.items() if self._shapes[name] != array.shape]
        for name in resized:
            self._interpreter.resize_tensor_input(self._inputs[name]["index"], list(feeds[name].shape), strict=False)
            self._shapes[name] = feeds[name].shape
        if resized:
            self._interpreter.allocate_tensors()
        for name, array in feeds.items():
            self._interpreter.set_tensor(self._inputs[name]["index"], array)

    def run(self) -> None:
        """One inference on the bound inputs."""
        self._interpreter.invoke()

    def outputs(self) -> dict[str, np.ndarray]:
        """Copies of the outputs of the last run."""
        return {name: self._interpreter.get_tensor(detail["index"]) for name, detail in self._outputs.items()}

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, run, copy out (one interpreter: not for concurrent calls)."""
        self.bind(feeds)
        self.run()
        return self.outputs()

    def close(self) -> None:
        """Drop the interpreter."""
        del self._interpreter


def tflite_tensors(model: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The inputs and outputs of a `.tflite` model, named as its sessions name them."""
    from ai_edge_litert.interpreter import Interpreter

    _check_flatbuffer(model)
    inputs, outputs = _named_details(Interpreter(model_path=str(model)))
    return [_spec(name, detail) for name, detail in inputs.items()], [
        _spec(name, detail) for name, detail in outputs.items()
    ]


def _spec(name: str, detail: dict[str, Any]) -> TensorSpec:
    shape = tuple(None if int(d) < 0 else int(d) for d in detail["shape_signature"])
    return TensorSpec(name=name, shape=shape, dtype=str(detail["dtype"].__name__))


def convert_onnx(model: Path, workdir: Path) -> Path:
    """The ONNX model converted by onnx2tf to an FP32 `.tflite` file in workdir, with the model's own input
    layout kept; a failure names the operator onnx2tf stopped at and its reason.

    onnx2tf rewrites the file it is given (simplified in place): it gets a copy, weights included.
    """
    import onnx

    loaded = onnx.load(str(model))
    initializers = {tensor.name for tensor in loaded.graph.initializer}
    names = [
        i.name for i in loaded.graph.input if i.name not in initializers and len(i.type.tensor_type.shape.dim) >= 3
    ]
    workdir = workdir.resolve()
    copy = workdir / f"{model.stem}.onnx"
    onnx.save_model(loaded, str(copy), save_as_external_data=loaded.ByteSize() > PROTOBUF_LIMIT)
    output = workdir / CONVERTER
    command = [sys.executable, "-m", CONVERTER, "-i", str(copy), "-o", str(output), "-n"]
    if names:
        command += ["-kat", *names]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    artifact = output / f"{model.stem}_float32.tflite"
    if done.returncode != 0 or not artifact.is_file():
        raise BackendError(
            f"litert: onnx2tf cannot convert {model.name}: "
            f"{conversion_failure(done.stdout + done.stderr, done.returncode or 1)}"
        )
    return artifact


def _tflite_support(model: Path) -> tuple[list[NodeSupport], list[str]]:
    """Each operator of the model, and what stops LiteRT from loading it as a whole."""
    from ai_edge_litert.interpreter import Interpreter

    operators = tflite_operators(model)
    refused = {
        index: f"{op} has no kernel in LiteRT's builtin resolver"
        + (
            " (a TensorFlow operator: it needs the Flex delegate, which ai-edge-litert does not ship)"
            if op.startswith("custom.Flex")
            else ""
        )
        for index, (_name, op) in enumerate(operators)
        if op.startswith("custom.") or op.startswith("builtin ")
    }
    issues: list[str] = []
    delegated: set[int] | None = None
    if not refused:
        try:
            interpreter = Interpreter(model_path=str(model), num_threads=1)
            interpreter.allocate_tensors()
            delegated = _delegated(interpreter._get_ops_details(), len(operators))
        except (ValueError, RuntimeError) as exc:
            issues.append(f"LiteRT cannot load the model: {_first_line(exc)}")
    nodes = []
    for index, (name, op) in enumerate(operators):
        falls_back = delegated is not None and index not in delegated
        reason = refused.get(index) or (f"XNNPACK does not take this {op}" if falls_back else None)
        nodes.append(
            NodeSupport(
                node=name,
                op_type=op,
                supported=reason is None,
                reason=reason,
                fallback=FALLBACK if falls_back else None,
            )
        )
    return nodes, issues


def _delegated(details: list[dict[str, Any]], count: int) -> set[int]:
    """The operators inside a delegate's partitions: walking back from each delegate node's outputs to its
    inputs (a partition takes every tensor it reads from outside as an input of the delegate node)."""
    producer = {int(t): d["index"] for d in details[:count] for t in d["outputs"]}
    inside: set[int] = set()
    for node in details[count:]:
        boundary = {int(t) for t in node["inputs"]}
        pending = [int(t) for t in node["outputs"]]
        while pending:
            tensor = pending.pop()
            index = producer.get(tensor)
            if tensor in boundary or index is None or index in inside:
                continue
            inside.add(index)
            pending += [int(t) for t in details[index]["inputs"] if int(t) >= 0]
    return inside


def _conversion_refusal(model: Path, message: str) -> tuple[list[NodeSupport], list[str]]:
    """The ONNX nodes, those onnx2tf stopped at (by name, or by an operator it says it lacks) refused with its
    reason; when it names neither, the failure is the model's."""
    from deploybench.backends.onnx_nodes import typed_nodes

    nodes = typed_nodes(model)
    named = re.search(r"at node `([^`]*)`", message)
    lacking = re.search(r"(\S+) OP is not yet implemented", message)
    refused = {
        n.name for n in nodes if (named and n.name == named.group(1)) or (lacking and n.op_type == lacking.group(1))
    }
    if not refused:
        return [], [message]
    return [
        NodeSupport(
            node=n.name,
            op_type=n.qualified,
            supported=n.name not in refused,
            reason=message if n.name in refused else None,
        )
        for n in nodes
    ], []


def _check_flatbuffer(model: Path) -> None:
    try:
        with model.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise BackendError(f"litert: cannot read {model}: {exc.strerror}") from exc
    if head[4:8] != FLATBUFFER_ID:
        raise BackendError(f"litert: {model} is not a TFLite flatbuffer", hint="give a .tflite file or an .onnx model")


def _named_details(interpreter: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Input and output details by name: the signature's names where the model has exactly one signature
    (a converter's tensor names are internal), the tensor names otherwise."""
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        return dict(runner.get_input_details()), dict(runner.get_output_details())
    return (
        {d["name"]: d for d in interpreter.get_input_details()},
        {d["name"]: d for d in interpreter.get_output_details()},
    )


def _first_line(exc: Exception) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
