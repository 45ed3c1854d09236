"""The search space of `optimize --search`: per framework, the settings crossed with every point and the
methods to try with their option sets; read from YAML (the built-in one, or the user's) and validated."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, ValidationError

from deploybench.core.errors import ConfigurationError
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
    import yaml

    where = str(path) if path else f"built-in {BUILTIN}"
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else resources.files(__package__).joinpath("data").joinpath(BUILTIN).read_text(encoding="utf-8")
        )
        return SearchSpace.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{where}: not valid YAML ({exc})".replace("\n", " ")) from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigurationError(
            f"{where}: `{field}`: {error['msg']}", hint="see the built-in search-space.yaml"
        ) from exc
