"""Render catalog results on the terminal: rich tables, CSV, JSON."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(str, Enum):
    """Output formats of the listing commands."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class RecordFormat(str, Enum):
    """Output formats of the commands that show one record."""

    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


def print_table(title: str, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    """A rich table with one row per mapping (a column a row lacks stays empty)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(row.get(c, "") for c in columns))
    console.print(table)


def print_text(text: str) -> None:
    """Machine-readable text (JSON, CSV) exactly as given, with no markup or wrapping."""
    typer.echo(text, nl=not text.endswith("\n"))


def note(text: str) -> None:
    """A remark for the user, on standard error so that it never mixes with data."""
    errors.print(text, markup=False)
