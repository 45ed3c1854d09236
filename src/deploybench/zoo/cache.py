"""The zoo's content-addressed cache: one folder per (recipe, variant, format, package versions), holding the
artifact and its record; an artifact whose SHA-256 no longer matches its record is found out and rebuilt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from deploybench.core.hashing import file_sha256
from deploybench.zoo.records import ZooArtifact

CACHE_ENV = "DEPLOYBENCH_ZOO"
RECORD = "artifact.json"


def cache_home() -> Path:
    """`$DEPLOYBENCH_ZOO`, else the user's cache folder (`$XDG_CACHE_HOME/deploybench/zoo`)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deploybench" / "zoo"


def entry(key: str) -> Path:
    """The folder of a cache key."""
    return cache_home() / key[:2] / key


def cached(key: str) -> tuple[ZooArtifact | None, str | None]:
    """The artifact stored under key if it is whole; else None, and why it is not (None when absent)."""
    record = entry(key) / RECORD
    if not record.is_file():
        return None, None
    try:
        artifact = ZooArtifact.model_validate_json(record.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None, f"the record {record} is unreadable"
    path = Path(artifact.path)
    if not path.is_file():
        return None, f"{path} is missing"
    if file_sha256(path) != artifact.sha256:
        return None, f"{path} does not match its SHA-256 (corrupted)"
    return artifact, None


def store(artifact: ZooArtifact) -> None:
    """Write the record last: an interrupted build leaves no record, so nothing that looks usable."""
    (entry(artifact.key) / RECORD).write_text(artifact.model_dump_json(indent=2), encoding="utf-8")


def locked(key: str) -> FileLock:
    """An inter-process lock on key (a file beside its folder), held while the key is checked, built and stored."""
    folder = cache_home() / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / f"{key}.lock"))


def fresh(key: str) -> Path:
    """An empty folder for key (whatever was there is removed)."""
    folder = entry(key)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder
