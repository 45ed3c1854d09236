"""Parse the compact values users type on the command line (`NAME=V1,V2`, `1,2`, `true`), and the options
several commands share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

import typer

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import SettingValue


def parse_value(text: str) -> SettingValue:
    """`true`/`false` -> bool, an integer -> int, a decimal -> float, anything else stays text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text.strip()


OUTER_COMMA = re.compile(r",(?![^<\[(]*[>\])])")
"""A comma between values, not one inside a value's brackets (`fixed<16,6>`)."""


def parse_grid(items: Sequence[str]) -> dict[str, list[SettingValue]]:
    """`NAME=V1,V2` items -> {NAME: [V1, V2]}; a value in brackets keeps its commas (`P=fixed<16,6>,fixed<8,3>`)."""
    grid: dict[str, list[SettingValue]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ConfigurationError(f"cannot read the setting `{item}`", hint="write NAME=VALUE or NAME=V1,V2")
        grid[name.strip()] = [parse_value(v) for v in OUTER_COMMA.split(values) if v.strip()]
    return grid


def parse_dims(items: Sequence[str]) -> dict[str, int]:
    """`NAME=INT` items -> {NAME: INT}."""
    dims: dict[str, int] = {}
    for name, values in parse_grid(items).items():
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 1:
            raise ConfigurationError(f"dimension `{name}` needs one positive integer", hint="write --dim NAME=224")
        dims[name] = values[0]
    return dims


Database = Annotated[
    str | None, typer.Option("--db", help="Results database URL (default: env DEPLOYBENCH_DB, else SQLite).")
]
"""The `--db` option of every command that reads or writes the results database."""


def split_names(text: str | None) -> list[str]:
    """`a, b,c` -> [a, b, c]; nothing -> []."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]
