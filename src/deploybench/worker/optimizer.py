"""Inside a worker: make an optimized model with a backend's own tool, and measure where it drifts per tensor.

Every failure becomes a reply with a one-line reason, never a traceback on the controller's side.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deploybench.backends.base import Calibration, ComparesLayers, Optimizes
from deploybench.backends.onnx_model import onnx_inputs
from deploybench.backends.registry import load_backend
from deploybench.core.errors import BackendError, ConfigurationError, DeploybenchError
from deploybench.core.formats import model_format
from deploybench.core.hashing import file_sha256
from deploybench.core.records import OptimizeReply, OptimizeRequest

DIVERGENCE_ROWS = 8
"""Evaluation rows the per-tensor comparison runs on: every activation of both models is kept in memory."""


def optimize_request(request: OptimizeRequest) -> OptimizeReply:
    """Make the optimized model the request asks for; a failure is a reply naming what went wrong."""
    try:
        return _optimize(request)
    except DeploybenchError as exc:
        return OptimizeReply(error=str(exc))
    except Exception as exc:  # a framework's own exception: named, first line only
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        return OptimizeReply(error=f"{request.framework} {request.method}: {type(exc).__name__}: {first}")


def _optimize(request: OptimizeRequest) -> OptimizeReply:
    model = Path(request.model.path)
    if not model.is_file() or file_sha256(model) != request.model.sha256:
        raise ConfigurationError(f"{model}: missing, or changed since it was chosen", hint="run the command again")
    backend = load_backend(request.framework)
    probe = backend.probe()
    if not probe.available:
        raise BackendError(f"framework `{request.framework}` is not available here: {probe.reason}")
    if not isinstance(backend, Optimizes):
        raise ConfigurationError(f"{request.framework} offers no optimization method", hint="choose another framework")
    methods = backend.optimization_methods()
    if request.method not in methods:
        offered = ", ".join(sorted(methods)) or "none"
        raise ConfigurationError(
            f"{request.framework} has no optimization method `{request.method}`", hint=f"its methods: {offered}"
        )
    method = methods[request.method]
    calibration = _rows(request.calibration, model) if request.calibration else None
    if method.calibrated and calibration is None:
        raise ConfigurationError(f"{request.framework} {request.method} needs calibration rows", hint="give --data")
    if method.labelled and (calibration is None or calibration.labels is None):
        raise ConfigurationError(
            f"{request.framework} {request.method} needs labelled calibration rows", hint="give data with labels `y`"
        )
    output = Path(request.output)
    with tempfile.TemporaryDirectory(prefix="deploybench-optimize-") as workdir:
        made = backend.optimize(model, request.method, dict(request.options), calibration, Path(workdir))
        artifact = _keep(made.artifact, output)
        layers = []
        if request.divergence and isinstance(backend, ComparesLayers) and model_format(artifact) == "onnx":
            rows = _rows(request.divergence, model)
            rows = Calibration(rows.rows[:DIVERGENCE_ROWS])
            layers = backend.layer_divergence(model, artifact, rows, Path(workdir))
    return OptimizeReply(
        artifact=str(artifact),
        options=made.options,
        tool=made.tool,
        sparsity=made.sparsity,
        layers=tuple(layers),
        notes=made.notes,
    )


def _keep(artifact: Path, output: Path) -> Path:
    """Move the artifact and the files that go with it (an OpenVINO IR's `.bin`, an ExecuTorch program's
    signature: the same name before the suffix) out of the scratch folder into the store's."""
    output.mkdir(parents=True, exist_ok=True)
    for companion in artifact.parent.glob(f"{artifact.stem}.*"):
        companion.replace(output / companion.name)
    return output / artifact.name


def _rows(path: str, model: Path) -> Calibration:
    """The rows of an `.npz` written by the controller, checked against the ONNX model's single input."""
    with np.load(path, allow_pickle=False) as archive:
        x = archive["x"]
        y = archive.get("y", None)
    if model_format(model) != "onnx":
        return Calibration(x, y)
    inputs = onnx_inputs(model)
    if len(inputs) != 1:
        raise ConfigurationError(
            f"{model.name} has {len(inputs)} inputs; calibration rows feed a model with one input",
            hint="give a model with a single input",
        )
    spec = inputs[0]
    if x.dtype != np.dtype(spec.dtype):
        raise ConfigurationError(
            f"{path}: rows are {x.dtype}, input `{spec.name}` of {model.name} takes {spec.dtype}",
            hint=f"save the rows as {spec.dtype}",
        )
    expected = spec.shape[1:]
    if x.ndim != len(spec.shape) or any(
        isinstance(d, int) and d != n for d, n in zip(expected, x.shape[1:], strict=False)
    ):
        raise ConfigurationError(
            f"rows have shape {tuple(x.shape[1:])}, input `{spec.name}` of {model.name} takes {tuple(expected)}",
            hint="give rows shaped like one input without its batch axis",
        )
    return Calibration(x, y)
