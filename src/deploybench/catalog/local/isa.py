"""Map raw CPU flags and machine names to the ISA vocabulary of the catalog (data in isa.yaml)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from deploybench.catalog.schemas.target import IsaFamily


@cache
def _table() -> dict[str, Any]:
    text = (resources.files("deploybench.catalog.local") / "isa.yaml").read_text(encoding="utf-8")
    table: dict[str, Any] = yaml.safe_load(text)
    return table


def isa_extensions(flags: Iterable[str]) -> tuple[str, ...]:
    """Named ISA extensions revealed by a set of CPU flags, in the table's order."""
    present = {flag.casefold() for flag in flags}
    extensions: dict[str, list[str]] = _table()["extensions"]
    return tuple(name for name, names in extensions.items() if present.intersection(names))


def isa_family(machine: str) -> IsaFamily:
    """Instruction-set family of a `platform.machine()` name; `other` when unknown."""
    families: dict[str, list[str]] = _table()["families"]
    for family, machines in families.items():
        if machine.casefold() in machines:
            return IsaFamily(family)
    return IsaFamily.OTHER
