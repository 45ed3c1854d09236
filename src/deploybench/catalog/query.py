"""Filter and sort catalog entries by facets or dotted field paths."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deploybench.catalog.catalog import Catalog
from deploybench.catalog.facets import FACETS
from deploybench.catalog.schemas import CatalogEntry, Range
from deploybench.core.errors import QueryError

_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|!=|==|=|<|>|~)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([kKMGT]?)$")
_MULTIPLIERS = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
NULL_WORDS = ("null", "none")


@dataclass(frozen=True)
class Condition:
    """One `--where` clause: field, operator and the value as typed."""

    field: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value}"


@dataclass(frozen=True)
class QueryResult:
    """Entries that satisfy every condition, sorted, and how many were left out as unknown."""

    entries: tuple[CatalogEntry, ...]
    unknown: dict[str, int]


def parse_condition(text: str) -> Condition:
    """Parse `field<op>value`, op one of = == != < <= > >= ~ (contains)."""
    match = _CONDITION.match(text)
    if not match or not match.group(3):
        raise QueryError(
            f"cannot read the filter `{text}`",
            hint="write FIELD OP VALUE with OP one of = != < <= > >= ~, e.g. `power_w<=10`",
        )
    field, op, value = match.groups()
    return Condition(field=field, op="=" if op == "==" else op, value=value)


def field_value(entry: CatalogEntry, field: str, kind: str, catalog: Catalog) -> Any:
    """The value of a facet or dotted field path of an entry; QueryError for an unknown name."""
    for facet in FACETS[kind]:
        if facet.name == field:
            return facet.read(entry, catalog)
    current: Any = entry.model_dump(mode="json")
    for part in field.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit():
            current = current[int(part)] if int(part) < len(current) else None
        elif current is None:
            return None
        else:
            names = ", ".join(f.name for f in FACETS[kind])
            raise QueryError(
                f"unknown field `{field}` for {kind}",
                hint=f"use one of {names}, or a dotted path such as `{_example(kind)}`",
            )
    if isinstance(current, dict) and set(current) == {"min", "max"}:
        return Range(**current)
    if isinstance(current, list):
        return tuple(current)
    return current


def select(catalog: Catalog, kind: str, where: Sequence[Condition] = (), sort: Sequence[str] = ()) -> QueryResult:
    """Entries of kind meeting every condition, sorted by keys (a leading `-` sorts descending).

    An entry whose value is unknown (null) for a condition's field is left out and counted,
    except by `FIELD=null`, which selects exactly those.
    """
    entries = catalog.entries(kind)
    unknown: dict[str, int] = {}
    for condition in where:
        kept = []
        for entry in entries:
            verdict = _holds(field_value(entry, condition.field, kind, catalog), condition)
            if verdict is None:
                unknown[condition.field] = unknown.get(condition.field, 0) + 1
            elif verdict:
                kept.append(entry)
        entries = kept
    for key in reversed(sort):
        name = key.lstrip("-")
        keyed = [(field_value(entry, name, kind, catalog), entry) for entry in entries]
        known = [pair for pair in keyed if not _is_null(pair[0])]
        known.sort(key=lambda pair: _sort_key(pair[0]), reverse=key.startswith("-"))
        entries = [entry for _, entry in known] + [entry for value, entry in keyed if _is_null(value)]
    return QueryResult(entries=tuple(entries), unknown=unknown)


def _holds(value: Any, condition: Condition) -> bool | None:
    wanted = condition.value
    if wanted.casefold() in NULL_WORDS and condition.op in ("=", "!="):
        return _is_null(value) == (condition.op == "=")
    if _is_null(value):
        return None
    if isinstance(value, Range) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return _holds_number(value, condition)
    if condition.op in _ORDER:
        raise QueryError(
            f"`{condition}`: `{condition.field}` is text, not a number",
            hint="use = != or ~ (contains) on text fields",
        )
    items = value if isinstance(value, tuple) else (value,)
    texts = [str(item).casefold() for item in items]
    if condition.op == "~":
        return any(wanted.casefold() in text for text in texts)
    found = wanted.casefold() in texts
    return found if condition.op == "=" else not found


def _holds_number(value: Range | float, condition: Condition) -> bool:
    wanted = parse_number(condition.value, condition)
    low, high = (value.min, value.max) if isinstance(value, Range) else (value, value)
    if condition.op == "=":
        return low <= wanted <= high
    if condition.op == "!=":
        return not low <= wanted <= high
    if condition.op in ("<", "<="):
        return _ORDER[condition.op](high, wanted)
    if condition.op in (">", ">="):
        return _ORDER[condition.op](low, wanted)
    raise QueryError(f"`{condition}`: `~` (contains) works on text, and `{condition.field}` is a number")


def parse_number(text: str, condition: Condition) -> float:
    """A number as users type it: `10`, `2.5`, `3.4M`, `1e9` (k, M, G, T multiply)."""
    match = _NUMBER.match(text.strip())
    if not match:
        raise QueryError(
            f"`{condition}`: `{text}` is not a number",
            hint="compare numeric fields with a number such as 10, 2.5 or 3.4M",
        )
    return float(match.group(1)) * _MULTIPLIERS[match.group(2)]


def _is_null(value: Any) -> bool:
    return value is None or value == ()


def _sort_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, Range):
        return (0, value.min, value.max)
    if isinstance(value, (int, float)):
        return (0, value, value)
    if isinstance(value, tuple):
        return (1, ", ".join(str(v) for v in value).casefold())
    return (1, str(value).casefold())


def _example(kind: str) -> str:
    return {"targets": "som.weight_g", "frameworks": "traceability", "models": "performance.value"}[kind]
