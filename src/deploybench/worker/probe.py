"""Ask every registered backend, inside a worker, whether it can run here (the controller imports no runtime)."""

from __future__ import annotations

from deploybench.backends.base import Backend, Optimizes
from deploybench.backends.registry import load_backend, registered
from deploybench.core.errors import DeploybenchError
from deploybench.core.records import BackendStatus, OptimizationMethod


def probe_all() -> list[BackendStatus]:
    """The status of every registered backend, in name order; a backend that fails to load says why."""
    statuses = []
    for name in sorted(registered()):
        try:
            backend = load_backend(name)
            probe = backend.probe()
            capabilities = backend.capabilities()
        except DeploybenchError as exc:
            statuses.append(BackendStatus(name=name, available=False, reason=str(exc)))
            continue
        statuses.append(
            BackendStatus(
                name=name,
                available=probe.available,
                version=probe.version,
                reason=probe.reason,
                input_formats=capabilities.input_formats,
                settings=tuple(sorted(capabilities.settings)),
                deployment=capabilities.deployment,
                only=capabilities.only,
                methods=_methods(backend) if probe.available else (),
            )
        )
    return statuses


def _methods(backend: Backend) -> tuple[OptimizationMethod, ...]:
    """The optimization methods the backend offers in this environment, by name."""
    if not isinstance(backend, Optimizes):
        return ()
    return tuple(
        OptimizationMethod(
            name=name,
            description=method.description,
            options=method.options,
            calibrated=method.calibrated,
            labelled=method.labelled,
        )
        for name, method in sorted(backend.optimization_methods().items())
    )
