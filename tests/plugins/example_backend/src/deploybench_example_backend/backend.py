"""`example-numpy`: ONNX models made of MatMul, Add, Relu and Softmax, evaluated node by node with NumPy.

A backend implements `deploybench.backends.base.Backend`: probe (never raises ImportError), capabilities,
prepare (check the model, resolve every setting, refuse unknown ones and unsupported operators by name) and
open_session, whose session binds inputs once and runs on them, so that only inference is timed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, Prepared, Probe, TensorSpec
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

if TYPE_CHECKING:
    import numpy as np

VERSION = "0.1.0"
OPERATORS = ("Add", "MatMul", "Relu", "Softmax")
"""The ONNX operators this backend runs (default domain, opset 13 or later)."""
MIN_OPSET = 13
"""Softmax normalizes along one axis from opset 13 on; earlier it flattened the trailing axes."""
SETTINGS = {"compute_dtype": "float32 or float64: the NumPy type the graph is computed in (default float32)"}


class NumpyBackend:
    """ONNX graphs of MatMul, Add, Relu and Softmax, run with NumPy."""

    name: ClassVar[str] = "example-numpy"

    def probe(self) -> Probe:
        """Available when NumPy and onnx import; the version names this backend's and NumPy's."""
        try:
            import numpy
            import onnx  # noqa: F401
        except ImportError as exc:
            return Probe(False, reason=f"{exc.name} is not installed: pip install deploybench-example-backend")
        return Probe(True, version=f"{VERSION} (NumPy {numpy.__version__})")

    def capabilities(self) -> Capabilities:
        """ONNX in; a session holds no state that infer() changes, so concurrent infer() calls are safe."""
        return Capabilities(input_formats=("onnx",), concurrent_sessions=True, settings=SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Check the file, resolve the settings and refuse an operator or opset this backend does not run."""
        import onnx

        check_onnx_model(model)
        resolved = resolve_settings(self.name, settings, {"compute_dtype": "float32"})
        if resolved["compute_dtype"] not in ("float32", "float64"):
            raise BackendError(
                f"{self.name}: `compute_dtype` = {resolved['compute_dtype']!r}", hint="use float32 or float64"
            )
        graph_model = onnx.load(str(model), load_external_data=False)
        opset = next((o.version for o in graph_model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            raise BackendError(
                f"{self.name} cannot run {model}: opset {opset}", hint=f"export with opset {MIN_OPSET} or later"
            )
        for node in graph_model.graph.node:
            if node.domain not in ("", "ai.onnx") or node.op_type not in OPERATORS:
                operator = f"{node.domain}:{node.op_type}" if node.domain else node.op_type
                where = node.name or node.output[0]
                raise BackendError(
                    f"{self.name} cannot run {model}: unsupported operator `{operator}` (node `{where}`)",
                    hint=f"{self.name} runs only {', '.join(OPERATORS)}",
                )
        return Prepared(artifact=model, prepare_s=None, settings=resolved)

    def open_session(self, prepared: Prepared) -> NumpySession:
        """Load the weights as NumPy arrays of the compute type."""
        import numpy as np
        import onnx
        from onnx import helper, numpy_helper

        try:
            model = onnx.load(str(prepared.artifact))
        except Exception as exc:
            raise BackendError(f"{self.name} cannot load {prepared.artifact}: {exc}") from exc
        compute = np.dtype(str(prepared.settings["compute_dtype"]))
        weights = {i.name: numpy_helper.to_array(i).astype(compute) for i in model.graph.initializer}

        def spec(value: Any) -> TensorSpec:
            kind = value.type.tensor_type
            shape = tuple(d.dim_value or d.dim_param or None for d in kind.shape.dim)
            return TensorSpec(value.name, shape, helper.tensor_dtype_to_np_dtype(kind.elem_type).name)

        inputs = [spec(v) for v in model.graph.input if v.name not in weights]
        outputs = [spec(v) for v in model.graph.output]
        nodes = [(n.op_type, list(n.input), n.output[0], _attributes(n)) for n in model.graph.node]
        return NumpySession(inputs, outputs, nodes, weights, compute)


class NumpySession:
    """The graph as a list of NumPy calls over a dictionary of named arrays."""

    def __init__(
        self,
        inputs: list[TensorSpec],
        outputs: list[TensorSpec],
        nodes: list[tuple[str, list[str], str, dict[str, Any]]],
        weights: dict[str, np.ndarray],
        compute: np.dtype[Any],
    ) -> None:
        self._inputs = inputs
        self._outputs = outputs
        self._nodes = nodes
        self._weights = weights
        self._compute = compute
        self._kernels = _kernels()
        self._bound: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """Name, shape and dtype of each input."""
        return list(self._inputs)

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy the feeds, converted to the compute type, so that run() times only the graph."""
        self._bound = {name: array.astype(self._compute, copy=True) for name, array in feeds.items()}

    def run(self) -> None:
        """Evaluate the graph on the bound inputs."""
        self._last = self._evaluate(self._bound)

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last run, in the model's output types (new arrays)."""
        return {s.name: self._last[s.name].astype(s.dtype) for s in self._outputs}

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Convert, evaluate and convert back in one call; touches no session state, so it is thread-safe."""
        values = self._evaluate({name: array.astype(self._compute) for name, array in feeds.items()})
        return {s.name: values[s.name].astype(s.dtype) for s in self._outputs}

    def close(self) -> None:
        """Drop the weights and the last outputs."""
        self._weights = {}
        self._bound = {}
        self._last = {}

    def _evaluate(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {**self._weights, **feeds}
        for op_type, names, output, attributes in self._nodes:
            values[output] = self._kernels[op_type](*(values[n] for n in names), **attributes)
        return values


def _kernels() -> dict[str, Callable[..., np.ndarray]]:
    """Each operator of OPERATORS as a NumPy function of the node's inputs and attributes."""
    import numpy as np

    def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
        exp = np.exp(x - x.max(axis=axis, keepdims=True))
        normalized: np.ndarray = exp / exp.sum(axis=axis, keepdims=True)
        return normalized

    return {"Add": np.add, "MatMul": np.matmul, "Relu": lambda x: np.maximum(x, 0), "Softmax": softmax}


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
