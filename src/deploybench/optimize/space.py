"""The search space of `optimize --search`: per framework, the settings crossed with every point and the
methods to try with their option sets; read from YAML (the built-in one, or the user's) and validated."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from deploybench.core.data_files import read_data_file
from deploybench.core.records import Frozen, SettingValue

BUILTIN = "search-space.yaml"


class FrameworkSpace(Frozen):
    """What to try on one framework."""

    settings: dict[str, list[SettingValue]] = Field(default_factory=dict, description="Setting -> values crossed.")
    methods: dict[str, list[dict[str, SettingValue]]] = Field(
        default_factory=dict, description="Method -> the option sets to try (`{}`: its defaults)."
    )


class SearchSpace(Frozen):
    """Every framework's part of the search."""

    frameworks: dict[str, FrameworkSpace] = Field(description="Framework -> what to try on it.")


def load_space(path: Path | None = None) -> SearchSpace:
    """The search space in path, else the built-in one; a malformed file is a one-line error naming the field."""
    return read_data_file(SearchSpace, path, __package__, BUILTIN)
