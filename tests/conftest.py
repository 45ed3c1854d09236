"""Shared fixtures: the built-in catalog, and a factory of user catalog directories."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from deploybench.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def builtin() -> Catalog:
    """The built-in catalog alone (no user directories, no environment)."""
    return load_catalog([])


@pytest.fixture
def user_catalog(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write a user catalog directory from {relative path: YAML text} and return it."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "catalog"
        root.mkdir(exist_ok=True)
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return root

    return make


@pytest.fixture(autouse=True)
def _no_user_catalog_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYBENCH_CATALOG", raising=False)
