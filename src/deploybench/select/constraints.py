"""The user's constraints on a selection: budgets, catalog conditions, precision and determinism; checked
for contradictions before anything is predicted."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import Enum

from deploybench.catalog import Catalog
from deploybench.catalog.facets import FACETS
from deploybench.catalog.query import Condition, field_value, parse_number, select
from deploybench.core.errors import ConfigurationError, QueryError

BOOLEAN_WORDS = {"true": "yes", "false": "no"}
"""`--where open_source=true` reads the catalog's yes/no grading."""


class Objective(str, Enum):
    """What the ranking minimizes."""

    LATENCY = "latency"
    ENERGY = "energy"
    PRICE = "price"


@dataclass(frozen=True)
class Constraints:
    """Everything a combination must meet to be kept."""

    max_latency_ms: float | None = None
    max_power_w: float | None = None
    max_memory_mb: float | None = None
    max_price: float | None = None
    where: tuple[Condition, ...] = ()
    precision: str | None = None
    determinism: bool = False

    def describe(self) -> list[str]:
        """The constraints in words."""
        words = [
            f"latency <= {self.max_latency_ms:g} ms" if self.max_latency_ms is not None else "",
            f"power <= {self.max_power_w:g} W" if self.max_power_w is not None else "",
            f"memory <= {self.max_memory_mb:g} MB" if self.max_memory_mb is not None else "",
            f"price <= {self.max_price:g} USD" if self.max_price is not None else "",
            f"precision {self.precision}" if self.precision else "",
            "measured deterministic timing" if self.determinism else "",
        ]
        return [w for w in words if w] + [f"where {c}" for c in self.where]


def check(constraints: Constraints) -> None:
    """Refuse budgets that are not positive and conditions that contradict one another."""
    budgets = {
        "--max-latency-ms": constraints.max_latency_ms,
        "--max-power-w": constraints.max_power_w,
        "--max-memory-mb": constraints.max_memory_mb,
        "--max-price": constraints.max_price,
    }
    for option, value in budgets.items():
        if value is not None and value <= 0:
            raise ConfigurationError(f"{option} {value:g}: a budget must be positive", hint="give a number above 0")
    equal: dict[str, set[str]] = defaultdict(set)
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    for condition in constraints.where:
        if condition.op == "=":
            equal[condition.field].add(condition.value.casefold())
        elif condition.op in (">", ">="):
            lower[condition.field] = max(
                lower.get(condition.field, -float("inf")), parse_number(condition.value, condition)
            )
        elif condition.op in ("<", "<="):
            upper[condition.field] = min(
                upper.get(condition.field, float("inf")), parse_number(condition.value, condition)
            )
    for field, values in equal.items():
        if len(values) > 1:
            raise ConfigurationError(
                f"--where {field}: asked to equal {' and '.join(sorted(values))} at once", hint="keep one of them"
            )
    for field in set(lower) & set(upper):
        if lower[field] > upper[field]:
            raise ConfigurationError(
                f"--where {field}: above {lower[field]:g} and below {upper[field]:g} at once: nothing can meet both",
                hint="widen one of the bounds",
            )


def kind_of(field: str, catalog: Catalog) -> str:
    """Whether a condition's field is a target's or a framework's (a target's when both have it)."""
    for kind in ("targets", "frameworks"):
        if any(facet.name == field for facet in FACETS[kind]):
            return kind
    for kind in ("targets", "frameworks"):
        entries = catalog.entries(kind)
        try:
            field_value(entries[0], field, kind, catalog)
            return kind
        except QueryError:
            continue
    names = ", ".join(sorted({f.name for kind in ("targets", "frameworks") for f in FACETS[kind]}))
    raise QueryError(f"--where: unknown field `{field}` for targets and frameworks", hint=f"use one of {names}")


def allowed(conditions: tuple[Condition, ...], catalog: Catalog) -> list[tuple[Condition, str, set[str]]]:
    """For each condition: the kind it applies to and the names of the entries that meet it."""
    found = []
    for condition in conditions:
        kind = kind_of(condition.field, catalog)
        value = BOOLEAN_WORDS.get(condition.value.casefold(), condition.value)
        met = select(catalog, kind, [Condition(condition.field, condition.op, value)])
        found.append((condition, kind, {entry.name for entry in met.entries}))
    return found
