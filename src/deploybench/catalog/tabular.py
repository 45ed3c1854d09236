"""Catalog entries as rows of text cells, CSV and JSON: the machine-readable outputs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from enum import Enum
from typing import Any

from deploybench.catalog.catalog import Catalog
from deploybench.catalog.query import field_value
from deploybench.catalog.schemas import CatalogEntry, Range


def cell_text(value: Any) -> str:
    """One value as a table or CSV cell: ranges as `a-b`, lists joined with `; `, null as empty."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Range):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "; ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def rows(catalog: Catalog, kind: str, entries: Sequence[CatalogEntry], columns: Sequence[str]) -> list[dict[str, str]]:
    """One mapping of column name to cell text per entry."""
    return [{c: cell_text(field_value(e, c, kind, catalog)) for c in columns} for e in entries]


def to_csv(table: Sequence[dict[str, str]], columns: Sequence[str]) -> str:
    """A CSV document with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def to_json(entries: Sequence[CatalogEntry]) -> str:
    """The full records as a JSON array."""
    return json.dumps([e.model_dump(mode="json") for e in entries], indent=2, ensure_ascii=False)
