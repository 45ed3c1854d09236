"""Which source backs each value of an entry: the audit view of `deploybench catalog show`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deploybench.catalog.schemas import CatalogEntry

UNSOURCED_PARTS = ("sources", "definition_rows", "notes")


@dataclass(frozen=True)
class FieldValue:
    """One leaf value of an entry, its dotted path and the ids of the sources that cover it."""

    path: str
    value: Any
    sources: tuple[str, ...]


def field_values(entry: CatalogEntry) -> list[FieldValue]:
    """Every known leaf of the entry (ranges kept whole), with the sources covering it."""
    data = entry.model_dump(mode="json", exclude=set(UNSOURCED_PARTS))
    found = []
    for path, value in _leaves(data):
        if value is None:
            continue
        ids = tuple(s.id for s in entry.sources if any(path == c or path.startswith(c + ".") for c in s.covers))
        found.append(FieldValue(path=path, value=value, sources=ids))
    return found


def _leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict) and set(data) != {"min", "max"}:
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, list) and any(isinstance(item, dict) for item in data):
        for index, item in enumerate(data):
            yield from _leaves(item, f"{prefix}.{index}")
    elif data != [] and data != {}:
        yield prefix, data
