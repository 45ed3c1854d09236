"""Optimized models in a content-addressed folder: one entry per recipe (FP32 model, framework and its version,
method, options, calibration rows), holding the artifact and its record, written last. An entry whose record is
missing or whose artifact no longer matches its hash is made again."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from deploybench.core.hashing import file_sha256, sha256_of
from deploybench.core.records import Frozen, ModelRef, Optimization, SettingValue

STORE_ENV = "DEPLOYBENCH_OPTIMIZED"
RECORD = "optimization.json"


class Entry(Frozen):
    """An optimized model and how it was made."""

    artifact: ModelRef
    optimization: Optimization


@dataclass(frozen=True)
class Recipe:
    """What decides an optimized model: the same recipe makes the same model."""

    source_sha256: str
    framework: str
    framework_version: str | None
    method: str
    options: dict[str, SettingValue]
    calibration_sha256: str | None

    def key(self) -> str:
        """SHA-256 of the recipe."""
        return sha256_of(self.__dict__)


def store_root() -> Path:
    """`DEPLOYBENCH_OPTIMIZED`, else `~/.cache/deploybench/optimized`."""
    configured = os.environ.get(STORE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "deploybench" / "optimized"


def folder_of(recipe: Recipe) -> Path:
    """The entry's folder (not necessarily there yet)."""
    key = recipe.key()
    return store_root() / key[:2] / key


def lookup(recipe: Recipe) -> tuple[Entry | None, str | None]:
    """The stored entry of the recipe, whole and intact; else None and why it is not usable (None: never made)."""
    record = folder_of(recipe) / RECORD
    if not record.is_file():
        return None, None
    try:
        entry = Entry.model_validate_json(record.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return None, "its record is unreadable"
    path = Path(entry.artifact.path)
    if not path.is_file() or file_sha256(path) != entry.artifact.sha256:
        return None, f"{path.name} no longer matches its SHA-256"
    return entry, None


def fresh_folder(recipe: Recipe) -> Path:
    """The entry's folder, emptied, for a worker to write the artifact into."""
    folder = folder_of(recipe)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def save(recipe: Recipe, artifact: Path, optimization: Optimization) -> Entry:
    """Record the made artifact in its entry; the record is written last, through a temporary file."""
    entry = Entry(
        artifact=ModelRef(path=str(artifact.resolve()), sha256=file_sha256(artifact), size_bytes=_size(artifact)),
        optimization=optimization,
    )
    record = folder_of(recipe) / RECORD
    temporary = record.with_suffix(".partial")
    temporary.write_text(entry.model_dump_json(indent=2), encoding="utf-8")
    temporary.replace(record)
    return entry


def _size(artifact: Path) -> int:
    """The artifact's bytes, with OpenVINO IR's weights file (`.bin` beside the `.xml`) counted in."""
    weights = artifact.with_suffix(".bin")
    extra = weights.stat().st_size if artifact.suffix == ".xml" and weights.is_file() else 0
    return artifact.stat().st_size + extra
