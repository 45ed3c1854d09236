"""Where the results store lives: an explicit URL, else `DEPLOYBENCH_DB`, else a SQLite file here."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DATABASE_ENV = "DEPLOYBENCH_DB"
"""Environment variable naming the store's URL; it overrides `DEFAULT_URL`."""

DEFAULT_FOLDER = Path(".deploybench")
"""Folder of the default SQLite file, relative to the current directory."""

DEFAULT_URL = "sqlite:///.deploybench/results.db"
"""The default store: `.deploybench/results.db` under the current directory (the folder is created)."""

_PASSWORD = re.compile(r"(://[^/:@]*:)[^@/]*@")


def resolve_url(url: str | None) -> str:
    """The store's URL: `url` when given, else `$DEPLOYBENCH_DB` when set, else `DEFAULT_URL`.

    One function applies that order so the CLI, campaigns and tests all agree on where results go.
    """
    if url:
        return url
    return os.environ.get(DATABASE_ENV) or DEFAULT_URL


def prepare_default_folder(url: str) -> None:
    """Create the default store's folder when `url` is the default, so a first run just works.

    An explicit SQLite path is left alone: a missing folder there is more likely a typo.
    """
    if url == DEFAULT_URL:
        DEFAULT_FOLDER.mkdir(parents=True, exist_ok=True)


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***`, safe to show in messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _PASSWORD.sub(r"\1***@", url)
