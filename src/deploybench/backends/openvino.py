"""OpenVINO on the CPU device: ONNX or TFLite in, compiled at prepare with an explicit precision.

The settings are asked of OpenVINO explicitly and then read back from the compiled model, because the CPU
plugin changes them silently: it runs FP32 models in bf16 on CPUs with AVX-512 BF16 unless told otherwise,
and it lowers thread and stream counts to what the machine has. The record keeps what really ran.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends import openvino_optimize
from deploybench.backends.base import Calibration, Capabilities, Method, OptimizedModel, Prepared, Probe, TensorSpec
from deploybench.backends.onnx_nodes import typed_nodes
from deploybench.backends.settings import resolve_settings
from deploybench.backends.tflite_model import tflite_operators
from deploybench.core.errors import BackendError
from deploybench.core.formats import SUFFIXES, model_format
from deploybench.core.records import NodeSupport, SettingValue

if TYPE_CHECKING:
    import numpy as np

DEVICE = "CPU"
FRONTENDS = {".onnx": "onnx", ".tflite": "tflite", ".xml": "ir"}
"""Model file suffix -> OpenVINO frontend that reads it (`ir`: OpenVINO's own format, as NNCF writes it)."""
PRECISIONS = ("f32", "bf16", "f16")
HINTS = ("latency", "throughput")
SETTINGS = {
    "threads": "inference threads, INFERENCE_NUM_THREADS (default: physical cores)",
    "precision": "f32, bf16 or f16, INFERENCE_PRECISION_HINT (default f32, set explicitly)",
    "performance_hint": "latency or throughput, PERFORMANCE_HINT (default latency)",
    "streams": "inference streams, NUM_STREAMS (default 1 for latency; 0: OpenVINO's choice, throughput's default)",
}
_NOISE_PREFIXES = ("Exception from ", "Check '", "FrontEnd API failed with ")


@dataclass(frozen=True)
class _Compiled:
    """A compiled model and its interface, kept between prepare and open_session."""

    model: Any
    inputs: list[TensorSpec]
    outputs: list[str]


class OpenVinoBackend:
    """OpenVINO Runtime, CPU plugin."""

    name: ClassVar[str] = "openvino"

    def __init__(self) -> None:
        self._core: Any = None
        self._compiled: dict[tuple[Path, tuple[tuple[str, SettingValue], ...]], _Compiled] = {}

    def probe(self) -> Probe:
        """Installed? Which version (OpenVINO's full build string)?"""
        try:
            import openvino
        except ImportError:
            return Probe(False, reason="openvino is not installed: pip install 'deploybench[openvino]'")
        return Probe(True, version=openvino.get_version())

    def capabilities(self) -> Capabilities:
        """ONNX, TFLite and OpenVINO IR in; `infer` takes an idle infer request from a pool, so it is thread-safe."""
        return Capabilities(
            input_formats=tuple(SUFFIXES[suffix] for suffix in FRONTENDS), concurrent_sessions=True, settings=SETTINGS
        )

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Read and compile the model (timed as prepare_s); record the settings the compiled model really uses.

        Raises BackendError when OpenVINO cannot read or compile the model, or compiles it in another
        precision than the one asked.
        """
        import psutil

        hint = settings.get("performance_hint", "latency")
        defaults: dict[str, SettingValue] = {
            "threads": psutil.cpu_count(logical=False) or 1,
            "precision": "f32",
            "performance_hint": "latency",
            "streams": 1 if hint == "latency" else 0,
        }
        resolved = resolve_settings(self.name, settings, defaults)
        _check_values(resolved)
        start = time.perf_counter()
        compiled = self._compile(model, resolved)
        prepare_s = time.perf_counter() - start
        actual = _compiled_settings(compiled.model)
        if actual["precision"] != resolved["precision"]:
            capabilities = self._runtime().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")
            raise BackendError(
                f"openvino: {model}: precision `{resolved['precision']}` was asked, "
                f"the compiled model runs in `{actual['precision']}`",
                hint=f"this CPU offers {', '.join(capabilities)}; ask for a precision it supports",
            )
        self._compiled[_key(model, actual)] = compiled
        return Prepared(artifact=model, prepare_s=prepare_s, settings=actual)

    def open_session(self, prepared: Prepared) -> OpenVinoSession:
        """A session on the model compiled by prepare (compiled again from the recorded settings if absent)."""
        key = _key(prepared.artifact, prepared.settings)
        if key not in self._compiled:
            self._compiled[key] = self._compile(prepared.artifact, prepared.settings)
        return OpenVinoSession(self._compiled[key])

    def optimization_methods(self) -> dict[str, Method]:
        """NNCF INT8 (with or without accuracy control) and FP16 weight compression."""
        return openvino_optimize.METHODS

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The model quantized by NNCF or compressed by OpenVINO, as IR."""
        return openvino_optimize.optimize(model, method, options, calibration, workdir)

    def operator_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """Each ONNX node through OpenVINO's ONNX frontend: a node it cannot convert stays an ONNXFrameworkNode
        (found in subgraphs too); then the whole conversion, and the CPU plugin's `query_model` on its result.
        A TFLite model goes through the TFLite frontend the same way."""
        import openvino
        from openvino.frontend import FrontEndManager

        if model_format(model) == "tflite":
            return self._tflite_support(model)
        nodes = typed_nodes(model)
        frontend = FrontEndManager().load_by_framework("onnx")
        partial = frontend.convert_partially(frontend.load(str(model)))
        unconverted = [op for op in _all_ops(partial) if "FrameworkNode" in op.get_type_name()]
        names = {op.get_friendly_name() for op in unconverted}
        names |= {name for op in unconverted for port in op.outputs() for name in port.get_names()}
        support = []
        for node in nodes:
            refused = node.name in names or any(output in names for output in node.outputs)
            reason = f"the ONNX frontend cannot convert {node.qualified}" if refused else None
            support.append(NodeSupport(node=node.name, op_type=node.qualified, supported=not refused, reason=reason))
        issues = [] if any(not s.supported for s in support) else _whole_model_issues(frontend, model, self._runtime())
        if unconverted and all(s.supported for s in support):
            issues.append(f"the ONNX frontend cannot convert {len(unconverted)} operation(s) inside subgraphs")
        return support, issues, f"openvino {openvino.__version__} ONNX frontend and CPU query_model"

    def _tflite_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """Each TFLite operator through OpenVINO's TFLite frontend (one it cannot convert stays a
        TFFrameworkNode, found by its output tensor's name); then the whole conversion and `query_model`."""
        import openvino
        from openvino.frontend import FrontEndManager

        operators = tflite_operators(model)
        frontend = FrontEndManager().load_by_framework("tflite")
        partial = frontend.convert_partially(frontend.load(str(model)))
        unconverted = [op for op in _all_ops(partial) if "FrameworkNode" in op.get_type_name()]
        names = {name for op in unconverted for port in op.outputs() for name in port.get_names()}
        support = [
            NodeSupport(
                node=name,
                op_type=op,
                supported=name not in names,
                reason=f"the TFLite frontend cannot convert {op}" if name in names else None,
            )
            for name, op in operators
        ]
        issues = [] if names else _whole_model_issues(frontend, model, self._runtime())
        return support, issues, f"openvino {openvino.__version__} TFLite frontend and CPU query_model"

    def _runtime(self) -> Any:
        if self._core is None:
            import openvino

            self._core = openvino.Core()
        return self._core

    def _compile(self, model: Path, settings: dict[str, SettingValue]) -> _Compiled:
        from openvino.frontend import FrontEndManager

        suffix = model.suffix.lower()
        if suffix not in FRONTENDS:
            raise BackendError(
                f"openvino: {model}: not a model file OpenVINO reads here",
                hint="give an .onnx, a .tflite or an OpenVINO .xml file",
            )
        if not model.is_file():
            raise BackendError(f"openvino: {model}: no such model file", hint=f"give the path of a {suffix} file")
        frontend = FrontEndManager().load_by_framework(FRONTENDS[suffix])
        try:
            read = frontend.convert(frontend.load(str(model)))
        except Exception as exc:
            raise BackendError(f"openvino cannot read {model}: {_reason(exc)}") from exc
        properties: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": settings["precision"],
            "INFERENCE_NUM_THREADS": settings["threads"],
            "PERFORMANCE_HINT": str(settings["performance_hint"]).upper(),
        }
        if int(settings["streams"]) > 0:
            properties["NUM_STREAMS"] = settings["streams"]
        try:
            compiled = self._runtime().compile_model(read, DEVICE, properties)
        except Exception as exc:
            raise BackendError(f"openvino cannot compile {model}: {_reason(exc)}") from exc
        # Names come from the model as read: the compiled model's ports gather aliases of fused tensors.
        outputs = [port.get_any_name() for port in read.outputs]
        return _Compiled(compiled, [_spec(port) for port in read.inputs], outputs)


class OpenVinoSession:
    """A compiled model with one infer request for timed runs and a pool of requests for `infer`.

    Bound inputs are the session's own copies, shared with the timed request: OpenVINO 2026.4's CPU plugin,
    on a model with dynamic dimensions, writes the inputs of another infer request of the same shape into the
    arrays set on the timed request. So the caller's arrays are never handed to OpenVINO, and the copies are
    refreshed before the next run when `infer` ran in between.
    """

    def __init__(self, compiled: _Compiled) -> None:
        import openvino
        from openvino._pyopenvino import InferRequest

        self._compiled = compiled
        self._request = compiled.model.create_infer_request()
        # The binding's own infer, without the Python wrapper's input dispatch and output copies.
        self._infer = InferRequest.infer
        self._tensor = openvino.Tensor
        self._fed: dict[str, np.ndarray] = {}
        self._bound: dict[str, np.ndarray] = {}
        self._stale = False
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def inputs(self) -> list[TensorSpec]:
        """Name, shape (None for a dynamic dimension) and dtype of each input."""
        return list(self._compiled.inputs)

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy the feeds into the session's arrays, set as input tensors sharing their memory (no copy when run)."""
        self._fed = dict(feeds)
        self._copy_in()

    def run(self) -> None:
        """One synchronous inference on the bound inputs."""
        if self._stale:
            self._copy_in()
        self._infer(self._request, {}, True, True)

    def outputs(self) -> dict[str, np.ndarray]:
        """Copies of the outputs of the last run."""
        return {
            name: self._request.get_output_tensor(index).data.copy()
            for index, name in enumerate(self._compiled.outputs)
        }

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, run, copy out on an idle request of the pool (a new one when all are busy); thread-safe."""
        self._stale = True
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self._compiled.model.create_infer_request()
        try:
            result = request.infer(feeds)
            return dict(zip(self._compiled.outputs, result.to_tuple(), strict=True))
        finally:
            self._idle.put(request)

    def close(self) -> None:
        """Drop the requests and the bound arrays."""
        self._request = None
        self._fed = {}
        self._bound = {}
        self._idle = queue.SimpleQueue()

    def _copy_in(self) -> None:
        import numpy as np

        self._stale = False
        for name, array in self._fed.items():
            self._bound[name] = np.array(array, order="C", copy=True)
            self._request.set_tensor(name, self._tensor(self._bound[name], shared_memory=True))


BODY_OPS = ("If", "Loop", "TensorIterator")
"""OpenVINO operations that hold subgraphs (asking a framework node for its subgraphs fails)."""


def _all_ops(model: Any) -> list[Any]:
    """The operations of a converted model, those of its subgraphs (If, Loop bodies) included."""
    found = []
    for op in model.get_ordered_ops():
        found.append(op)
        if op.get_type_name() in BODY_OPS:
            for index in range(op.get_internal_subgraphs_size()):
                found += _all_ops(op.get_function(index))
    return found


def _whole_model_issues(frontend: Any, model: Path, core: Any) -> list[str]:
    """What the full conversion, then the CPU plugin, refuse about the model as a whole."""
    try:
        converted = frontend.convert(frontend.load(str(model)))
    except Exception as exc:
        return [f"the frontend fails: {_reason(exc)}"]
    supported = set(core.query_model(converted, "CPU"))
    return [
        f"the CPU plugin does not support {op.get_type_name()} (`{op.get_friendly_name()}`)"
        for op in converted.get_ordered_ops()
        if op.get_friendly_name() not in supported and op.get_type_name() not in ("Parameter", "Result")
    ]


def _check_values(settings: dict[str, SettingValue]) -> None:
    if settings["precision"] not in PRECISIONS:
        raise BackendError(
            f"openvino: `precision` = {settings['precision']!r}", hint=f"use one of {', '.join(PRECISIONS)}"
        )
    if settings["performance_hint"] not in HINTS:
        raise BackendError(
            f"openvino: `performance_hint` = {settings['performance_hint']!r}", hint=f"use one of {', '.join(HINTS)}"
        )
    if int(settings["threads"]) < 1:
        raise BackendError(f"openvino: `threads` = {settings['threads']} must be at least 1")
    if int(settings["streams"]) < 0:
        raise BackendError(f"openvino: `streams` = {settings['streams']} must be 0 (OpenVINO's choice) or more")


def _compiled_settings(compiled: Any) -> dict[str, SettingValue]:
    """The settings as the compiled model reports them."""
    hint = compiled.get_property("PERFORMANCE_HINT")
    return {
        "threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
        "precision": compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
        "performance_hint": str(getattr(hint, "name", hint)).lower(),
        "streams": int(compiled.get_property("NUM_STREAMS")),
    }


def _key(model: Path, settings: dict[str, SettingValue]) -> tuple[Path, tuple[tuple[str, SettingValue], ...]]:
    return model, tuple(sorted(settings.items()))


def _spec(port: Any) -> TensorSpec:
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic:
        raise BackendError(f"openvino: input `{port.get_any_name()}` has an unknown rank", hint="export a fixed rank")
    return TensorSpec(
        name=port.get_any_name(),
        shape=tuple(d.get_length() if d.is_static else None for d in shape),
        dtype=port.get_element_type().to_dtype().name,
    )


def _reason(exc: Exception) -> str:
    """OpenVINO's message in one line, without its source locations (`Exception from src/...:84:`)."""
    lines = [line.strip().removeprefix("-- ").rstrip(".") for line in str(exc).splitlines()]
    meaningful = [line for line in lines if line and line != "Summary:" and not line.startswith(_NOISE_PREFIXES)]
    return "; ".join(meaningful) or type(exc).__name__
