"""Shared fixtures: the built-in catalog, and a factory of user catalog directories."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from deploybench.catalog import Catalog, load_catalog
from deploybench.cli.app import main


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


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run the console entry point in-process; return exit status, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["deploybench", *args])
    monkeypatch.setenv("COLUMNS", "250")
    status = 0
    try:
        main()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


Run = Callable[..., tuple[int, str, str]]
"""Runs `deploybench ARGS...` in-process: (exit status, stdout, stderr)."""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    return lambda *args: run(capsys, monkeypatch, *args)


@pytest.fixture(autouse=True)
def _results_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands that keep what they find (`analyze`, `compliance`, runs) write to a database of the test's own."""
    monkeypatch.setenv("DEPLOYBENCH_DB", f"sqlite:///{tmp_path / 'default-results.db'}")


@pytest.fixture(autouse=True)
def _optimized_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Optimized models and their data rows go to a store of the test's own."""
    monkeypatch.setenv("DEPLOYBENCH_OPTIMIZED", str(tmp_path / "optimized"))
