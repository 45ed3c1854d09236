"""Facets: the flat, query-friendly attributes of each kind of entry, with units in their names.

Filters, sorting, table columns and CSV all read entries through facets; any other field is
reachable by its dotted path (for example `som.weight_g`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploybench.catalog.catalog import Catalog
from deploybench.catalog.schemas import Target


@dataclass(frozen=True)
class Facet:
    """One named attribute of an entry, read from the entry and, if need be, the whole catalog."""

    name: str
    description: str
    read: Callable[[Any, Catalog], Any]


def _peak(precision: str) -> Callable[[Target, Catalog], float | None]:
    def read(target: Target, _: Catalog) -> float | None:
        figures = [getattr(unit.peak, precision) for unit in target.processing_units]
        known = [f for f in figures if f is not None]
        return max(known) if known else None

    return read


def _unique(values: Any) -> tuple[str, ...]:
    return tuple(sorted({str(getattr(v, "value", v)) for v in values if v is not None}))


TARGET_FACETS = (
    Facet("name", "catalog key", lambda t, _: t.name),
    Facet("display_name", "name as people write it", lambda t, _: t.display_name),
    Facet("board", "development board (SOM) name", lambda t, _: t.som.name),
    Facet("soc", "system-on-chip name", lambda t, _: t.soc.name),
    Facet("manufacturer", "SoC manufacturer", lambda t, _: t.soc.manufacturer),
    Facet("country", "country of the SoC manufacturer's headquarters", lambda t, _: t.soc.manufacturer_country),
    Facet(
        "family", "instruction-set families of its units", lambda t, _: _unique(u.family for u in t.processing_units)
    ),
    Facet("units", "kinds of processing unit", lambda t, _: _unique(u.kind for u in t.processing_units)),
    Facet("price_usd", "board price, USD", lambda t, _: t.som.price_usd),
    Facet("power_w", "board power consumption, W", lambda t, _: t.som.power_w),
    Facet("memory_gb", "board main memory, GB", lambda t, _: t.som.memory_gb),
    Facet("bandwidth_gbps", "main memory bandwidth, GB/s", lambda t, _: t.memory.bandwidth_gbps),
    Facet("fp32_gflops", "best unit's peak FP32, GFLOP/s", _peak("fp32_gflops")),
    Facet("fp16_gflops", "best unit's peak FP16, GFLOP/s", _peak("fp16_gflops")),
    Facet("int8_gops", "best unit's peak INT8, GOP/s", _peak("int8_gops")),
    Facet("os", "operating systems", lambda t, _: t.additional.os),
    Facet("grade", "grade (commercial, automotive, space, ...)", lambda t, _: t.additional.grade),
    Facet("location", "site holding the board", lambda t, _: t.general.location),
    Facet(
        "frameworks",
        "catalog frameworks that deploy to it",
        lambda t, c: tuple(n for n, f in sorted(c.frameworks.items()) if t.name in f.targets),
    ),
)

FRAMEWORK_FACETS = (
    Facet("name", "catalog key", lambda f, _: f.name),
    Facet("display_name", "name as people write it", lambda f, _: f.display_name),
    Facet("provider", "provider", lambda f, _: f.provider),
    Facet("open_source", "yes, no or partially", lambda f, _: getattr(f.open_source, "value", None)),
    Facet("community", "community size", lambda f, _: getattr(f.community, "value", None)),
    Facet(
        "environments", "execution environments, as the definition words them", lambda f, _: f.execution_environments
    ),
    Facet("units", "kinds of processing unit it runs on", lambda f, _: _unique(f.execution_units)),
    Facet("optimizations", "optimizations it offers", lambda f, _: _unique(f.optimizations)),
    Facet("outputs", "what it produces", lambda f, _: f.outputs),
    Facet("inputs", "model formats it takes", lambda f, _: f.input_formats),
    Facet("package", "Python package on PyPI", lambda f, _: f.python_package),
    Facet("targets", "catalog targets it deploys to", lambda f, _: f.targets),
)

MODEL_FACETS = (
    Facet("priority", "rank of deployment, 1 first", lambda m, _: m.priority),
    Facet("name", "catalog key", lambda m, _: m.name),
    Facet("display_name", "name as people write it", lambda m, _: m.display_name),
    Facet("family", "CNN, RL, SNN, ...", lambda m, _: m.family.value),
    Facet("application", "typical use", lambda m, _: m.application),
    Facet("params", "number of parameters", lambda m, _: m.parameters),
    Facet("score", "typical score on the test set", lambda m, _: m.performance.value if m.performance else None),
    Facet("metric", "what the score measures", lambda m, _: m.performance.metric if m.performance else None),
    Facet("frameworks", "training frameworks", lambda m, _: m.training_frameworks),
    Facet("datasets", "data sets", lambda m, _: m.datasets),
)

FACETS: dict[str, tuple[Facet, ...]] = {
    "targets": TARGET_FACETS,
    "frameworks": FRAMEWORK_FACETS,
    "models": MODEL_FACETS,
}

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "targets": ("name", "board", "soc", "units", "family", "price_usd", "power_w", "memory_gb", "int8_gops", "country"),
    "frameworks": ("name", "display_name", "provider", "open_source", "units", "optimizations", "targets"),
    "models": ("priority", "name", "family", "application", "params", "score", "metric", "datasets"),
}
