"""Load catalog directories (one YAML file per entry) into validated entries, with located errors."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from deploybench.catalog.schemas import CatalogEntry, Framework, ModelCard, Target
from deploybench.catalog.yaml_io import YamlDocument, read_yaml
from deploybench.core.errors import CatalogError, CatalogErrors

KINDS: dict[str, type[CatalogEntry]] = {"targets": Target, "frameworks": Framework, "models": ModelCard}
"""Catalog folder name -> schema of the entries it holds."""

EXTENDS_KEY = "extends"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedEntry:
    """A validated entry and the file it came from."""

    kind: str
    entry: CatalogEntry
    document: YamlDocument


@dataclass(frozen=True)
class DirectoryLoad:
    """What loading one catalog directory gave: the good entries and every error found."""

    entries: tuple[LoadedEntry, ...]
    errors: tuple[CatalogError, ...]


def catalog_files(directory: Path) -> list[tuple[str, Path]]:
    """The (kind, file) pairs of a catalog directory; a misplaced file or folder is an error."""
    if not directory.is_dir():
        raise CatalogError(
            "is not a directory", file=str(directory), hint="give a folder holding targets/, frameworks/ or models/"
        )
    found: list[tuple[str, Path]] = []
    for item in sorted(directory.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_dir() and item.name in KINDS:
            found.extend((item.name, f) for f in sorted(item.iterdir()) if f.suffix in YAML_SUFFIXES)
        elif item.is_dir() or item.suffix in YAML_SUFFIXES:
            raise CatalogError(
                "is not in a catalog folder",
                file=str(item),
                hint=f"put entry files under {', '.join(k + '/' for k in KINDS)} of {directory}",
            )
    return found


def load_directory(directory: Path, base: Mapping[str, Mapping[str, CatalogEntry]]) -> DirectoryLoad:
    """Validate every file of a catalog directory; `extends` resolves against base and earlier files."""
    entries: list[LoadedEntry] = []
    errors: list[CatalogError] = []
    seen: dict[tuple[str, str], Path] = {}
    known = {kind: dict(base.get(kind, {})) for kind in KINDS}
    for kind, path in catalog_files(directory):
        try:
            document = read_yaml(path)
            entry = parse_entry(kind, document, known[kind])
        except CatalogError as exc:
            errors.append(exc)
            continue
        except CatalogErrors as exc:
            errors.extend(exc.errors)
            continue
        first = seen.get((kind, entry.name))
        if first is not None:
            errors.append(
                CatalogError(
                    f"`{entry.name}` is already defined in {first}", file=str(path), field="name", hint="rename one"
                )
            )
            continue
        seen[(kind, entry.name)] = path
        known[kind][entry.name] = entry
        entries.append(LoadedEntry(kind=kind, entry=entry, document=document))
    return DirectoryLoad(entries=tuple(entries), errors=tuple(errors))


def parse_entry(kind: str, document: YamlDocument, base: Mapping[str, CatalogEntry]) -> CatalogEntry:
    """Validate one parsed file as an entry of kind, applying `extends` against base."""
    schema = KINDS[kind]
    data = document.data
    if not isinstance(data, dict):
        raise CatalogError(
            f"must be a mapping of {schema.__name__} fields, not {type(data).__name__}", file=str(document.path)
        )
    if EXTENDS_KEY in data:
        data = _extend(kind, document, data, base)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise CatalogErrors([_located(error, schema, document) for error in exc.errors()]) from exc


def _extend(
    kind: str, document: YamlDocument, data: dict[str, Any], base: Mapping[str, CatalogEntry]
) -> dict[str, Any]:
    parent_name = data[EXTENDS_KEY]
    parent = base.get(parent_name) if isinstance(parent_name, str) else None
    if parent is None:
        raise CatalogError(
            f"extends unknown {kind[:-1]} `{parent_name}`",
            file=str(document.path),
            line=document.line_of([EXTENDS_KEY]),
            field=EXTENDS_KEY,
            hint=f"name one of: {', '.join(sorted(base)) or 'none defined'}",
        )
    own = {key: value for key, value in data.items() if key != EXTENDS_KEY}
    return _deep_merge(parent.model_dump(mode="json"), own)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _located(error: Mapping[str, Any], schema: type[BaseModel], document: YamlDocument) -> CatalogError:
    loc = [part for part in error["loc"] if isinstance(part, (str, int))]
    ctx_path = (error.get("ctx") or {}).get("path")
    if not loc and isinstance(ctx_path, str):
        loc = [int(p) if p.isdigit() else p for p in ctx_path.split(".")]
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(schema, loc[:-1])
        message = "is not a field here" + (f"; fields allowed: {', '.join(allowed)}" if allowed else "")
    elif error["type"] == "missing":
        message = "is required but missing"
    return CatalogError(
        message,
        file=str(document.path),
        line=document.line_of(loc),
        field=".".join(str(p) for p in loc) or None,
    )


def _fields_at(schema: type[BaseModel], loc: list[str | int]) -> list[str]:
    current: Any = schema
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(current.model_fields) if _is_model(current) else []


def _model_in(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)
