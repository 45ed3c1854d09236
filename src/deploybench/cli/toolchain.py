"""`deploybench toolchain list|install|remove`: the virtual environments of toolchains that cannot share the
main environment."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from deploybench.catalog.tabular import to_csv
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.worker.toolchains import definitions, install, installed, remove, toolchain_home

toolchain_app = typer.Typer(
    help="Toolchain environments: backends whose pinned dependencies need a virtual environment of their own.",
    no_args_is_help=True,
)
COLUMNS = ("name", "installed", "backends", "requirements", "path", "why")
Name = Annotated[str, typer.Argument(help="Toolchain name (see `deploybench toolchain list`).")]


@toolchain_app.command("list")
def list_toolchains(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = Format.TABLE,
) -> None:
    """Every toolchain deploybench knows, whether it is installed here, and what it pins."""
    rows = []
    for spec in definitions().values():
        present = installed(spec.name)
        state = "no" if present is None else "stale: install again" if present.stale else "yes"
        rows.append(
            {
                "name": spec.name,
                "installed": state,
                "backends": ", ".join(spec.backends),
                "requirements": " ".join(spec.requirements),
                "path": str(present.path if present else toolchain_home() / spec.name),
                "why": spec.why,
            }
        )
    if fmt is Format.JSON:
        print_text(json.dumps(rows, indent=2))
    elif fmt is Format.CSV:
        print_text(to_csv(rows, COLUMNS))
    else:
        print_table(f"{len(rows)} toolchain(s) in {toolchain_home()}", COLUMNS, rows)


@toolchain_app.command("install")
def install_toolchain(
    name: Name,
    force: Annotated[bool, typer.Option(help="Reinstall even if it is installed and current.")] = False,
    quiet: Annotated[bool, typer.Option(help="Do not echo pip's output.")] = False,
) -> None:
    """Create the toolchain's virtual environment with its pinned requirements and this deploybench."""
    present = installed(name)
    if present is not None and not present.stale and not force:
        note(f"toolchain `{name}` is already installed in {present.path} (--force reinstalls it)")
        return
    done = install(name, (lambda _: None) if quiet else note, force=True)
    note(f"toolchain `{name}` installed in {done.path}: {len(done.packages)} packages")


@toolchain_app.command("remove")
def remove_toolchain(name: Name) -> None:
    """Delete the toolchain's virtual environment."""
    note(f"removed toolchain `{name}` from {remove(name)}")
