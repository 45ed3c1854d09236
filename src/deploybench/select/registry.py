"""Performance models by name: the built-in ones and the entry-point group `deploybench.performance_models`
(each entry a class built from the `Knowledge` the fits gathered), in the order their answers are preferred."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from deploybench.core.errors import PluginError
from deploybench.select.performance import Knowledge, PerformanceModel

ENTRY_POINT_GROUP = "deploybench.performance_models"

BUILTIN = {
    "calibrated": "deploybench.select.calibrated:Calibrated",
    "transfer": "deploybench.select.transfer:Transfer",
    "roofline": "deploybench.select.roofline:Roofline",
}
"""Most specific first: a fit on the target itself, then a measurement elsewhere scaled, then the roofline."""


def registered() -> dict[str, str]:
    """Every performance model name and the `module:Class` that implements it."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name] != ep.value:
            raise PluginError(
                f"performance model `{ep.name}` is registered twice: {found[ep.name]} and {ep.value}",
                hint="uninstall or rename one",
            )
        found[ep.name] = ep.value
    return found


def performance_models(knowledge: Knowledge, names: list[str] | None = None) -> list[PerformanceModel]:
    """The performance models named (all registered ones by default), built on what the fits learned."""
    table = registered()
    unknown = [name for name in names or [] if name not in table]
    if unknown:
        raise PluginError(f"unknown performance model `{unknown[0]}`", hint=f"use one of: {', '.join(table)}")
    models = []
    for name in names or list(table):
        module_name, _, class_name = table[name].partition(":")
        try:
            model_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"performance model `{name}` cannot be loaded from `{table[name]}`: {exc}") from exc
        models.append(model_class(knowledge))
    return models
