"""Root of the `deploybench` command; turns deploybench errors into one-line messages."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from deploybench import __version__
from deploybench.cli.catalog import catalog_app
from deploybench.core.errors import DeploybenchError

app = typer.Typer(
    name="deploybench",
    help="Benchmark where and how an ML model deploys: targets, frameworks, models, measurements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_app, name="catalog")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deploybench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    """Benchmark where and how an ML model deploys."""


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except DeploybenchError as exc:
        if "--debug" in sys.argv:
            raise
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(str(exc))}", markup=True
        )
        sys.exit(exc.exit_code)
