"""ONNX Runtime on the CPU execution provider, timed on inputs bound with IO binding."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends import onnxruntime_optimize
from deploybench.backends.base import Calibration, Capabilities, Method, OptimizedModel, Prepared, Probe, TensorSpec
from deploybench.backends.onnx_model import ONNX_DTYPES, check_onnx_model
from deploybench.backends.onnx_nodes import TypedNode, typed_nodes
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import LayerDivergence, NodeSupport, SettingValue

if TYPE_CHECKING:
    import numpy as np

FLOAT16, FLOAT32 = "tensor(float16)", "tensor(float)"
OPEN_ENDED = 2**31 - 1
"""The end of the version range of a kernel registered for the newest version of its operator."""
OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
SETTINGS = {
    "threads": "intra-op threads (default: physical cores)",
    "inter_op_threads": "inter-op threads (default 1)",
    "graph_optimization": "disable, basic, extended or all (default all)",
    "execution_mode": "sequential or parallel (default sequential)",
    "spinning": "let idle intra-op threads spin (default true, ONNX Runtime's own default)",
}


class OnnxRuntimeBackend:
    """ONNX Runtime, CPUExecutionProvider."""

    name: ClassVar[str] = "onnxruntime"

    def probe(self) -> Probe:
        """Installed? Which version?"""
        try:
            import onnxruntime
        except ImportError:
            return Probe(False, reason="onnxruntime is not installed: pip install 'deploybench[onnxruntime]'")
        return Probe(True, version=onnxruntime.__version__)

    def capabilities(self) -> Capabilities:
        """ONNX in; one session serves concurrent `infer` calls."""
        return Capabilities(input_formats=("onnx",), concurrent_sessions=True, settings=SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Check the model and resolve every setting; ONNX Runtime compiles at load, so nothing to convert."""
        import psutil

        check_onnx_model(model)
        defaults: dict[str, SettingValue] = {
            "threads": psutil.cpu_count(logical=False) or 1,
            "inter_op_threads": 1,
            "graph_optimization": "all",
            "execution_mode": "sequential",
            "spinning": True,
        }
        resolved = resolve_settings(self.name, settings, defaults)
        if resolved["graph_optimization"] not in OPTIMIZATION_LEVELS:
            raise BackendError(
                f"onnxruntime: `graph_optimization` = {resolved['graph_optimization']!r}",
                hint=f"use one of {', '.join(OPTIMIZATION_LEVELS)}",
            )
        if resolved["execution_mode"] not in ("sequential", "parallel"):
            raise BackendError("onnxruntime: `execution_mode` must be sequential or parallel")
        return Prepared(artifact=model, prepare_s=None, settings=resolved)

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        """Create the InferenceSession with the resolved options."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        settings = prepared.settings
        options.intra_op_num_threads = int(settings["threads"])
        options.inter_op_num_threads = int(settings["inter_op_threads"])
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[str(settings["graph_optimization"])]
        options.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL
            if settings["execution_mode"] == "parallel"
            else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings["spinning"] else "0")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(prepared.artifact), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendError(f"onnxruntime cannot load {prepared.artifact}: {exc}") from exc
        return OnnxRuntimeSession(session)

    def optimization_methods(self) -> dict[str, Method]:
        """Dynamic and static INT8 (onnxruntime.quantization) and float16."""
        return onnxruntime_optimize.METHODS

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The model quantized or converted by ONNX Runtime's own tool."""
        check_onnx_model(model)
        return onnxruntime_optimize.optimize(model, method, options, calibration, workdir)

    def layer_divergence(
        self, reference: Path, optimized: Path, rows: Calibration, workdir: Path
    ) -> list[LayerDivergence]:
        """Every FP32 activation against the quantized model's, through onnxruntime.quantization.qdq_loss_debug."""
        return onnxruntime_optimize.layer_divergence(reference, optimized, rows, workdir)

    def operator_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """Each node against ONNX Runtime's CPU kernel registry: operator, domain, the opset version the model
        selects, and the element types of its inputs against the kernel's type constraints."""
        import onnxruntime
        from onnxruntime.capi import _pybind_state

        kernels: dict[tuple[str, str], list[Any]] = {}
        for kernel in _pybind_state.get_all_opkernel_def():
            if kernel.provider == "CPUExecutionProvider":
                kernels.setdefault((kernel.domain, kernel.op_name), []).append(kernel)
        nodes = [_kernel_support(node, kernels) for node in typed_nodes(model)]
        source = f"onnxruntime {onnxruntime.__version__} CPUExecutionProvider kernel registry"
        return nodes, [], source


def _kernel_support(node: TypedNode, registry: dict[tuple[str, str], list[Any]]) -> NodeSupport:
    """Whether a kernel registered for the node's operator takes its version and input types; where none does
    and ONNX defines the operator by a function, ONNX Runtime inlines the body: taken when every node of it is."""
    refusal = _kernel_refusal(node, registry.get((node.domain, node.op_type), []))
    if refusal is not None and node.expands:
        inner = [_kernel_support(part, registry) for part in node.body or ()]
        missing = next((part for part in inner if not part.supported), None)
        refusal = None if missing is None else f"{refusal}, and its function body needs: {missing.reason}"
    return NodeSupport(node=node.name, op_type=node.qualified, supported=refusal is None, reason=refusal)


def _kernel_refusal(node: TypedNode, kernels: list[Any]) -> str | None:
    """Why no kernel takes the node, or None when one does."""
    if not kernels:
        return f"no CPU kernel for {node.qualified}"
    if node.since_version is not None:
        kernels = [k for k in kernels if _matches(k.version_range, node.since_version)]
        if not kernels:
            return f"no CPU kernel for {node.qualified} version {node.since_version}"
    for kernel in kernels:
        constraints = kernel.type_constraints
        if all(
            given is None or formal not in constraints or _takes(given, constraints[formal])
            for given, formal in zip(node.input_types, node.formal_types, strict=True)
        ):
            return None
    return f"no CPU kernel for {node.qualified} on inputs ({', '.join(t or '?' for t in node.input_types)})"


def _matches(version_range: tuple[int, int], since: int) -> bool:
    """ONNX Runtime's rule: an open-ended kernel (the newest) takes only the schema version it starts at; a
    closed range takes every version inside it."""
    start, end = version_range
    return start == since or (start < since <= end and end != OPEN_ENDED)


def _takes(given: str, allowed: list[str]) -> bool:
    """Whether a kernel constraint takes the type; a float16 node without a float16 kernel runs in float32
    (ONNX Runtime inserts casts around it on the CPU)."""
    return given in allowed or (given == FLOAT16 and FLOAT32 in allowed)


class OnnxRuntimeSession:
    """A loaded InferenceSession with one IO binding for timed runs."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._binding = session.io_binding()
        self._names = [o.name for o in session.get_outputs()]
        self._fed: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """Name, shape and dtype of each input."""
        return [
            TensorSpec(name=i.name, shape=tuple(i.shape), dtype=ONNX_DTYPES.get(i.type, i.type))
            for i in self._session.get_inputs()
        ]

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Bind the arrays as the inputs (ONNX Runtime reads them in place on the CPU)."""
        self._binding.clear_binding_inputs()
        self._binding.clear_binding_outputs()
        self._fed = dict(feeds)
        for name, array in self._fed.items():
            self._binding.bind_cpu_input(name, array)
        for name in self._names:
            self._binding.bind_output(name, "cpu")

    def run(self) -> None:
        """One inference on the bound inputs."""
        self._session.run_with_iobinding(self._binding)

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last bound run."""
        return dict(zip(self._names, self._binding.copy_outputs_to_cpu(), strict=True))

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, run, copy out; thread-safe."""
        return dict(zip(self._names, self._session.run(None, feeds), strict=True))

    def close(self) -> None:
        """Drop the session."""
        self._binding = None
        self._session = None
