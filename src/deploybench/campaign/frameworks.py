"""`--framework all`: every backend that runs here and takes the model, and why the others are left out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deploybench.core.records import BackendStatus, SettingValue

ALL = "all"


@dataclass(frozen=True)
class FrameworkChoice:
    """The frameworks to run, each with its settings grid, and the ones left out with the reason."""

    chosen: list[tuple[str, dict[str, list[SettingValue]]]]
    skipped: list[tuple[str, str]]


def choose_frameworks(
    names: Sequence[str],
    statuses: Sequence[BackendStatus],
    model_format: str,
    grid: Mapping[str, Sequence[SettingValue]],
) -> FrameworkChoice:
    """Expand `all` into the available deployment backends that take `model_format`.

    With `all`, a setting of the grid goes only to the backends that declare it (the others run with their
    defaults, and the choice says so); frameworks named explicitly get the whole grid.
    """
    if ALL not in names:
        return FrameworkChoice(chosen=[(n, {k: list(v) for k, v in grid.items()}) for n in names], skipped=[])
    chosen, skipped = [], []
    for status in statuses:
        if not status.deployment:
            skipped.append((status.name, "a reference evaluator: it checks the others' outputs"))
        elif not status.available:
            skipped.append((status.name, status.reason or "not available here"))
        elif model_format not in status.input_formats:
            skipped.append((status.name, f"takes {', '.join(status.input_formats)}, not {model_format}"))
        elif status.only:
            skipped.append((status.name, f"made for {status.only} only: name it to run it"))
        else:
            own = {k: list(v) for k, v in grid.items() if k in status.settings}
            ignored = sorted(set(grid) - set(own))
            if ignored:
                skipped.append((status.name, f"runs without {', '.join(ignored)} (a setting it does not take)"))
            chosen.append((status.name, own))
    return FrameworkChoice(chosen=chosen, skipped=skipped)
