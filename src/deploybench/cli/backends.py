"""`deploybench backends`: which frameworks run here, their versions, formats and settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from deploybench.catalog.tabular import to_csv
from deploybench.cli.output import Format, print_table, print_text
from deploybench.worker.placement import Placer

COLUMNS = ("name", "environment", "available", "version", "formats", "settings", "role", "reason")


def backends(fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = Format.TABLE) -> None:
    """List every registered backend as a worker process of each environment finds it: the main one and
    every toolchain environment; available or not, and why."""
    statuses = Placer().every_status()
    if fmt is Format.JSON:
        print_text(json.dumps([{"environment": e, **s.model_dump(mode="json")} for e, s in statuses], indent=2))
        return
    rows = [
        {
            "name": s.name,
            "environment": environment,
            "available": "yes" if s.available else "no",
            "version": s.version or "",
            "formats": ", ".join(s.input_formats),
            "settings": ", ".join(s.settings),
            "role": "deployment" if s.deployment else "reference",
            "reason": s.reason or "",
        }
        for environment, s in statuses
    ]
    if fmt is Format.CSV:
        print_text(to_csv(rows, COLUMNS))
    else:
        print_table(f"{len(rows)} backend(s)", COLUMNS, rows)
