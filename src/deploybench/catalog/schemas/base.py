"""Building blocks shared by the catalog schemas: frozen records, ranges, sources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class Record(BaseModel):
    """A frozen, strict record: unknown fields are errors, values never change after load."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=False)


class Range(Record):
    """A closed interval, for figures the definition gives as "100-200" or a single value."""

    min: float = Field(description="Lower bound, in the unit named by the field holding the range.")
    max: float = Field(description="Upper bound, in the unit named by the field holding the range.")

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return data
        if isinstance(data, (int, float)):
            return {"min": data, "max": data}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self

    def __str__(self) -> str:
        if self.min == self.max:
            return f"{self.min:g}"
        return f"{self.min:g}-{self.max:g}"


class Source(Record):
    """Where figures come from: the definition, a datasheet, a measurement."""

    id: str = Field(pattern=NAME_PATTERN, description="Short key of this source, unique in its entry.")
    title: str = Field(min_length=1, description="Title of the document, page or procedure.")
    url: str | None = Field(default=None, description="Address of the document, when it has one.")
    covers: tuple[str, ...] = Field(
        min_length=1,
        description=(
            "Dotted paths of the fields whose figures this source gives, e.g. `som.power_w` or "
            "`processing_units.0.frequency_ghz`; a path covers everything below it."
        ),
    )


class CatalogEntry(Record):
    """Fields and checks shared by every catalog entry."""

    kind: ClassVar[str] = "entry"
    figure_exempt: ClassVar[frozenset[str]] = frozenset()

    name: str = Field(
        pattern=NAME_PATTERN,
        description="Unique key of the entry: lower case letters, digits, `.`, `_` and `-`.",
    )
    display_name: str = Field(min_length=1, description="Name as people write it.")
    aliases: tuple[str, ...] = Field(default=(), description="Other names the entry is found by.")
    sources: tuple[Source, ...] = Field(
        default=(), description="Where each figure of the entry comes from (see `Source.covers`)."
    )
    definition_rows: tuple[dict[str, str], ...] = Field(
        default=(),
        description=(
            "The entry's rows of the ML-bench definition, column name to cell, verbatim; "
            "empty for entries that are not in the definition."
        ),
    )
    notes: tuple[str, ...] = Field(default=(), description="Caveats a reader must know about the entry.")

    @model_validator(mode="after")
    def _figures_cite_sources(self) -> CatalogEntry:
        ids = [source.id for source in self.sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise PydanticCustomError(
                "duplicate_source",
                "source ids are not unique: {ids}",
                {"path": "sources", "ids": ", ".join(duplicates)},
            )
        data = self.model_dump(exclude={"sources", "definition_rows", "notes"})
        known = {path for path, _ in _walk(data)}
        for source in self.sources:
            for path in source.covers:
                if path not in known:
                    raise PydanticCustomError(
                        "unknown_cover",
                        "source `{source}` covers `{cover}`, which is not a field of this entry",
                        {"path": "sources", "source": source.id, "cover": path},
                    )
        covered = [path for source in self.sources for path in source.covers]
        for path, value in _figures(data):
            if path.split(".")[0] in self.figure_exempt:
                continue
            if not any(path == c or path.startswith(c + ".") for c in covered):
                raise PydanticCustomError(
                    "uncited_figure",
                    "figure {value} cites no source; add `{path}` (or a parent) to the `covers` of a source, "
                    "or set it to null",
                    {"path": path, "value": value},
                )
        return self

    def matches(self, name: str) -> bool:
        """True when name is this entry's key, display name or an alias, ignoring case."""
        wanted = _simplify(name)
        return any(_simplify(n) == wanted for n in (self.name, self.display_name, *self.aliases))


def _simplify(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text.casefold())


def _walk(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every node of plain data (mappings, sequences) with its dotted path, parents first."""
    if prefix:
        yield prefix, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from _walk(value, f"{prefix}.{index}")


def _figures(data: Any) -> Iterator[tuple[str, float]]:
    for path, value in _walk(data):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value
