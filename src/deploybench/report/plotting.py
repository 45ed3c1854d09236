"""matplotlib for the reports: imported only when a plot is drawn, on the file-only backend."""

from __future__ import annotations

from typing import Any

from deploybench.core.errors import ConfigurationError


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend; a one-line error saying what to install when it is missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigurationError(
            "plotting needs matplotlib, which is not installed", hint="pip install 'deploybench[plot]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
