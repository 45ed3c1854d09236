"""Reading a YAML data file (a user's, or one shipped inside a package) into a frozen pydantic record: a file
that cannot be read, is not YAML or does not fit the schema is a one-line error naming the file and field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from deploybench.core.errors import ConfigurationError

Schema = TypeVar("Schema", bound=BaseModel)


def read_data_file(schema: type[Schema], path: Path | None, package: str, builtin: str) -> Schema:
    """The record in path, else the one shipped as `package/data/builtin`."""
    import yaml

    where = str(path) if path else f"built-in {builtin}"
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else resources.files(package).joinpath("data").joinpath(builtin).read_text(encoding="utf-8")
        )
        return schema.model_validate(yaml.safe_load(text) or {})
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{where}: not valid YAML ({exc})".replace("\n", " ")) from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigurationError(f"{where}: `{field}`: {error['msg']}", hint=f"see the built-in {builtin}") from exc
