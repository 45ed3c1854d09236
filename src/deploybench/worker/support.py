"""Ask every backend that can introspect its framework, inside a worker, which nodes of a model it takes."""

from __future__ import annotations

from pathlib import Path

from deploybench.backends.base import ChecksOperators
from deploybench.backends.registry import load_backend, registered
from deploybench.core.errors import DeploybenchError
from deploybench.core.formats import model_format
from deploybench.core.records import OperatorSupport


def support_all(model: Path, only: frozenset[str] | None = None) -> list[OperatorSupport]:
    """The operator support of every available backend (or of those named) that takes the model's format and
    can say, by name."""
    found = []
    for name in sorted(registered()):
        if only is not None and name not in only:
            continue
        try:
            backend = load_backend(name)
            takes = model_format(model) in backend.capabilities().input_formats
            probe = backend.probe()
        except DeploybenchError:
            continue
        if not (isinstance(backend, ChecksOperators) and probe.available and takes):
            continue
        try:
            nodes, issues, source = backend.operator_support(model)
        except DeploybenchError as exc:
            found.append(OperatorSupport(framework=name, version=probe.version, source="", error=str(exc)))
            continue
        except Exception as exc:  # the framework's own exception: reported, never lost
            first = next((line for line in str(exc).splitlines() if line.strip()), "")
            error = f"{type(exc).__name__}: {first}"
            found.append(OperatorSupport(framework=name, version=probe.version, source="", error=error))
            continue
        found.append(
            OperatorSupport(
                framework=name, version=probe.version, source=source, nodes=tuple(nodes), model_issues=tuple(issues)
            )
        )
    return found
