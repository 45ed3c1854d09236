"""The merged catalog: built-in entries, overridden or extended by the user's directories."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

from deploybench.catalog.loader import KINDS, LoadedEntry, load_directory
from deploybench.catalog.schemas import CatalogEntry, Framework, ModelCard, Target
from deploybench.core.errors import CatalogError, CatalogErrors, NotFoundError

EntryT = TypeVar("EntryT", bound=CatalogEntry)

CATALOG_ENV = "DEPLOYBENCH_CATALOG"
"""Environment variable naming user catalog directories, separated like PATH."""


def builtin_directory() -> Path:
    """The catalog directory shipped inside the package."""
    return Path(str(resources.files("deploybench.catalog") / "data"))


def user_directories_from_env() -> list[Path]:
    """User catalog directories named by the DEPLOYBENCH_CATALOG environment variable."""
    value = os.environ.get(CATALOG_ENV, "")
    return [Path(part) for part in value.split(os.pathsep) if part]


@dataclass(frozen=True)
class Catalog:
    """Targets, frameworks and models by name, and the file each one was read from."""

    targets: Mapping[str, Target]
    frameworks: Mapping[str, Framework]
    models: Mapping[str, ModelCard]
    origins: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def entries(self, kind: str) -> list[CatalogEntry]:
        """All entries of a kind (`targets`, `frameworks` or `models`), in name order."""
        table: Mapping[str, CatalogEntry] = getattr(self, kind)
        return [table[name] for name in sorted(table)]

    def find(self, name: str, kinds: Iterable[str] = KINDS) -> tuple[str, CatalogEntry]:
        """The one entry named name (key, display name or alias) and its kind."""
        hits = [(kind, entry) for kind in kinds for entry in self.entries(kind) if entry.matches(name)]
        exact = [(kind, entry) for kind, entry in hits if entry.name == name]
        if len(exact) == 1:
            return exact[0]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise NotFoundError(
                f"no catalog entry is named `{name}`",
                hint="list the names with `deploybench catalog targets|frameworks|models`",
            )
        names = ", ".join(f"{kind[:-1]} `{entry.name}`" for kind, entry in hits)
        raise NotFoundError(f"`{name}` is ambiguous: {names}", hint="give the exact name")

    def origin(self, kind: str, name: str) -> str:
        """The file an entry was read from, or `detected` for the local machine."""
        return self.origins.get((kind, name), "built-in")

    def with_target(self, target: Target, origin: str) -> Catalog:
        """A copy of this catalog holding one more target (for instance the local machine)."""
        targets = dict(self.targets)
        targets[target.name] = target
        origins = dict(self.origins)
        origins[("targets", target.name)] = origin
        return Catalog(targets=targets, frameworks=self.frameworks, models=self.models, origins=origins)


def load_catalog(user_dirs: Sequence[Path | str] | None = None) -> Catalog:
    """Load the built-in catalog, then each user directory over it (default: DEPLOYBENCH_CATALOG).

    A user entry with the name of an existing one replaces it, or with `extends: NAME` overrides
    only the fields it gives. Any invalid file stops the load with CatalogErrors.
    """
    tables: dict[str, dict[str, CatalogEntry]] = {kind: {} for kind in KINDS}
    latest = {(i.kind, i.entry.name): i for i in _layer(tables, builtin_directory())}
    origins: dict[tuple[str, str], str] = {}
    for directory in user_directories_from_env() if user_dirs is None else user_dirs:
        for item in _layer(tables, Path(directory)):
            latest[(item.kind, item.entry.name)] = item
            origins[(item.kind, item.entry.name)] = str(item.document.path)
    catalog = _catalog(tables, origins)
    problems = reference_errors(catalog, list(latest.values()))
    if problems:
        raise CatalogErrors(problems)
    return catalog


def validate_directory(directory: Path) -> list[CatalogError]:
    """Every error of a user catalog directory, checked against the built-in catalog."""
    builtin = load_catalog([])
    tables = {kind: dict(getattr(builtin, kind)) for kind in KINDS}
    loaded = load_directory(directory, tables)
    for item in loaded.entries:
        tables[item.kind][item.entry.name] = item.entry
    return list(loaded.errors) + reference_errors(_catalog(tables, {}), loaded.entries)


def _layer(tables: dict[str, dict[str, CatalogEntry]], directory: Path) -> tuple[LoadedEntry, ...]:
    loaded = load_directory(directory, tables)
    if loaded.errors:
        raise CatalogErrors(
            list(loaded.errors), hint=f"run `deploybench catalog validate {directory}` to see every error"
        )
    for item in loaded.entries:
        tables[item.kind][item.entry.name] = item.entry
    return loaded.entries


def _catalog(tables: Mapping[str, Mapping[str, CatalogEntry]], origins: dict[tuple[str, str], str]) -> Catalog:
    return Catalog(
        targets=_typed(tables["targets"], Target),
        frameworks=_typed(tables["frameworks"], Framework),
        models=_typed(tables["models"], ModelCard),
        origins=origins,
    )


def reference_errors(catalog: Catalog, items: Sequence[LoadedEntry]) -> list[CatalogError]:
    """Errors for the frameworks among items that name targets the catalog does not hold."""
    errors = []
    for item in items:
        if not isinstance(item.entry, Framework):
            continue
        for index, target in enumerate(item.entry.targets):
            if target not in catalog.targets:
                errors.append(
                    CatalogError(
                        f"names unknown target `{target}`",
                        file=str(item.document.path),
                        line=item.document.line_of(["targets", index]),
                        field=f"targets.{index}",
                        hint="add that target to the catalog or fix the name",
                    )
                )
    return errors


def _typed(table: Mapping[str, CatalogEntry], schema: type[EntryT]) -> dict[str, EntryT]:
    return {name: entry for name, entry in table.items() if isinstance(entry, schema)}
