"""The ONNX reference evaluator (`onnx.reference`): an independent, unoptimized implementation of the
operators' specification, used as the FP32 reference that deployments are compared with; QONNX's quantization
operators are evaluated by QONNX's own implementation of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, InferringSession, Prepared, Probe, TensorSpec
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.qonnx_ops import qonnx_operators
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

if TYPE_CHECKING:
    import numpy as np


class OnnxReferenceBackend:
    """onnx.reference.ReferenceEvaluator: slow, simple, close to the specification."""

    name: ClassVar[str] = "onnx-reference"

    def probe(self) -> Probe:
        """Installed? Which version?"""
        try:
            import onnx
        except ImportError:
            return Probe(False, reason="onnx is not installed: pip install 'deploybench[onnxruntime]'")
        return Probe(True, version=onnx.__version__)

    def capabilities(self) -> Capabilities:
        """ONNX in; no concurrency; a reference, not a deployment."""
        return Capabilities(input_formats=("onnx",), concurrent_sessions=False, settings={}, deployment=False)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Check the model; the evaluator takes no settings."""
        check_onnx_model(model)
        return Prepared(artifact=model, prepare_s=None, settings=resolve_settings(self.name, settings, {}))

    def open_session(self, prepared: Prepared) -> ReferenceSession:
        """Build the evaluator."""
        import onnx
        from onnx.reference import ReferenceEvaluator

        model = onnx.load(str(prepared.artifact))
        operators = qonnx_operators(model)
        try:
            evaluator = ReferenceEvaluator(model, new_ops=operators or None)
        except Exception as exc:
            raise BackendError(f"onnx.reference cannot evaluate {prepared.artifact}: {exc}") from exc
        return ReferenceSession(model, evaluator)


class ReferenceSession(InferringSession):
    """A ReferenceEvaluator behind the session protocol."""

    def __init__(self, model: Any, evaluator: Any) -> None:
        from onnx import helper

        initializers = {i.name for i in model.graph.initializer}
        self._inputs = [
            TensorSpec(
                name=i.name,
                shape=tuple(d.dim_value or d.dim_param or None for d in i.type.tensor_type.shape.dim),
                dtype=helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name,
            )
            for i in model.graph.input
            if i.name not in initializers
        ]
        self._names = [o.name for o in model.graph.output]
        self._evaluator = evaluator
        self._feeds: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """Name, shape and dtype of each input."""
        return list(self._inputs)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate the graph on feeds."""
        import numpy as np

        return {n: np.asarray(v) for n, v in zip(self._names, self._evaluator.run(None, feeds), strict=True)}

    def close(self) -> None:
        """Nothing to release."""
