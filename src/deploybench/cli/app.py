"""Root of the `deploybench` command; turns every user mistake into a one-line message."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from deploybench import __version__
from deploybench.cli.analyze import analyze
from deploybench.cli.backends import backends
from deploybench.cli.catalog import catalog_app
from deploybench.cli.compliance import compliance
from deploybench.cli.measure import campaign_run, run
from deploybench.cli.optimize import optimize
from deploybench.cli.predict import predict_app
from deploybench.cli.quickstart import quickstart
from deploybench.cli.report import report
from deploybench.cli.results import results_app
from deploybench.cli.select import select
from deploybench.cli.service import agent, serve, token_app
from deploybench.cli.toolchain import toolchain_app
from deploybench.cli.zoo import zoo_app
from deploybench.core.errors import DeploybenchError

app = typer.Typer(
    name="deploybench",
    help="Benchmark where and how an ML model deploys: targets, frameworks, models, measurements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(results_app, name="results")
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(zoo_app, name="zoo")
app.add_typer(predict_app, name="predict")
app.add_typer(token_app, name="token")
campaign_app = typer.Typer(help="Run campaign files: models x frameworks x settings x scenarios.", no_args_is_help=True)
campaign_app.command("run")(campaign_run)
app.add_typer(campaign_app, name="campaign")
app.command()(run)
app.command()(quickstart)
app.command()(backends)
app.command()(analyze)
app.command()(compliance)
app.command()(report)
app.command()(optimize)
app.command()(select)
app.command()(serve)
app.command()(agent)


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
    """Entry point of the console script: a user mistake ends in one line on stderr and status 2."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(exc.exit_code)
        context = getattr(exc, "ctx", None)
        where = f"; see `{context.command_path} --help`" if context is not None else ""
        message = exc.format_message().replace(": Value error, ", ": ").rstrip(".")
        _fail(f"{message}{where}", exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except DeploybenchError as exc:
        if "--debug" in sys.argv:
            raise
        _fail(str(exc), exc.exit_code)
    sys.exit(status if isinstance(status, int) else 0)


def _fail(message: str, status: int) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(status)
