"""Load the operator tables shipped in `operator_tables/*.yaml` (and a user's, from a folder), validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import ValidationError

from deploybench.catalog.schemas.operator_table import OperatorTable
from deploybench.catalog.yaml_io import read_yaml
from deploybench.core.errors import CatalogError

BUILTIN = Path(__file__).parent / "operator_tables"


def read_table(path: Path) -> OperatorTable:
    """One table file; a schema error names the file, the line and the field."""
    document = read_yaml(path)
    try:
        return OperatorTable.model_validate(document.data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        raise CatalogError(error["msg"], file=str(path), line=document.line_of(loc), field=field) from exc


@cache
def operator_tables(folder: Path = BUILTIN) -> tuple[OperatorTable, ...]:
    """Every table of a folder, in file-name order."""
    return tuple(read_table(path) for path in sorted(folder.glob("*.yaml")))
