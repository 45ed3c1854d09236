"""`deploybench catalog ...`: browse, query, show and validate the catalogs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from deploybench.catalog import load_catalog, parse_condition, select, support_matrix, validate_directory
from deploybench.catalog.catalog import CATALOG_ENV, Catalog
from deploybench.catalog.facets import DEFAULT_COLUMNS, FACETS
from deploybench.catalog.local import detect_local_machine
from deploybench.catalog.provenance import field_values
from deploybench.catalog.tabular import cell_text, rows, to_csv, to_json
from deploybench.cli.output import Format, RecordFormat, console, note, print_table, print_text
from deploybench.core.errors import CatalogErrors, QueryError

catalog_app = typer.Typer(
    help="Browse and query the targets, frameworks and models the bench knows.", no_args_is_help=True
)

CatalogDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        envvar=CATALOG_ENV,
        help=f"User catalog directory laid over the built-in one (repeatable; env {CATALOG_ENV}, PATH-style).",
    ),
]
Where = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        help="Filter FIELD OP VALUE, OP one of = != < <= > >= ~ (contains); repeat to AND. Unknown values never match.",
    ),
]
Sort = Annotated[
    list[str] | None, typer.Option("--sort", "-s", help="Sort key; `-key` (write --sort=-key) for descending.")
]
Columns = Annotated[str | None, typer.Option("--columns", "-c", help="Comma-separated fields to show (table, csv).")]
Output = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")]
RecordOutput = Annotated[RecordFormat, typer.Option("--format", "-f", help="text, json or yaml.")]


def _load(dirs: list[Path] | None, local: bool = False) -> Catalog:
    catalog = load_catalog(dirs or [])
    if local:
        catalog = catalog.with_target(detect_local_machine().to_target(), origin="detected")
    return catalog


def _listing(
    kind: str, catalog: Catalog, where: list[str] | None, sort: list[str] | None, columns: str | None, fmt: Format
) -> None:
    result = select(catalog, kind, [parse_condition(w) for w in where or []], sort or ["name"])
    chosen = tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else None
    if fmt is Format.JSON:
        print_text(to_json(result.entries))
    elif fmt is Format.CSV:
        names = chosen or tuple(f.name for f in FACETS[kind])
        print_text(to_csv(rows(catalog, kind, result.entries, names), names))
    else:
        names = chosen or DEFAULT_COLUMNS[kind]
        print_table(f"{len(result.entries)} {kind}", names, rows(catalog, kind, result.entries, names))
    for field, count in sorted(result.unknown.items()):
        note(f"{count} {kind} left out: `{field}` unknown (select them with --where '{field}=null').")


@catalog_app.command()
def targets(
    where: Where = None,
    sort: Sort = None,
    columns: Columns = None,
    fmt: Output = Format.TABLE,
    catalog_dirs: CatalogDirs = None,
    local: Annotated[bool, typer.Option(help="Include this machine, detected now, as target `local`.")] = True,
) -> None:
    """List hardware targets (Tables 1-2 of the definition)."""
    _listing("targets", _load(catalog_dirs, local), where, sort, columns, fmt)


@catalog_app.command()
def frameworks(
    where: Where = None,
    sort: Sort = None,
    columns: Columns = None,
    fmt: Output = Format.TABLE,
    catalog_dirs: CatalogDirs = None,
) -> None:
    """List deployment frameworks (Tables 3-4 of the definition)."""
    _listing("frameworks", _load(catalog_dirs), where, sort, columns, fmt)


@catalog_app.command()
def models(
    where: Where = None,
    sort: Sort = None,
    columns: Columns = None,
    fmt: Output = Format.TABLE,
    catalog_dirs: CatalogDirs = None,
) -> None:
    """List reference models (Tables 5-6 of the definition), by priority."""
    _listing("models", _load(catalog_dirs), where, sort or ["priority"], columns, fmt)


@catalog_app.command()
def fields(kind: Annotated[str, typer.Argument(help="targets, frameworks or models.")]) -> None:
    """List the fields that --where, --sort and --columns accept for a kind of entry."""
    if kind not in FACETS:
        raise QueryError(f"unknown kind `{kind}`", hint="use targets, frameworks or models")
    print_table(
        f"{kind} fields (any dotted path works too)",
        ("field", "meaning"),
        [{"field": f.name, "meaning": f.description} for f in FACETS[kind]],
    )


@catalog_app.command()
def show(
    name: Annotated[str, typer.Argument(help="Name, display name or alias of a target, framework or model.")],
    fmt: RecordOutput = RecordFormat.TEXT,
    catalog_dirs: CatalogDirs = None,
) -> None:
    """Show every field of one entry, with the source behind each figure."""
    catalog = _load(catalog_dirs, local=name.casefold() == "local")
    kind, entry = catalog.find(name)
    if fmt is not RecordFormat.TEXT:
        _print_record(entry.model_dump(mode="json"), fmt)
        return
    table = Table(
        title=f"{kind[:-1]} {entry.name}: {entry.display_name}  ({catalog.origin(kind, entry.name)})",
        title_justify="left",
    )
    for column in ("field", "value", "source"):
        table.add_column(column, overflow="fold")
    for item in field_values(entry):
        table.add_row(item.path, cell_text(item.value), ", ".join(item.sources))
    console.print(table)
    for source in entry.sources:
        console.print(
            f"[bold]{source.id}[/]: {source.title}" + (f" <{source.url}>" if source.url else ""), highlight=False
        )
    for row in entry.definition_rows:
        console.print("definition row: " + " | ".join(f"{k}: {v}" for k, v in row.items() if v), markup=False)
    for text in entry.notes:
        console.print(f"note: {text}", markup=False)


@catalog_app.command()
def matrix(fmt: Output = Format.TABLE, catalog_dirs: CatalogDirs = None) -> None:
    """The framework x target support matrix: which framework deploys to which target."""
    support = support_matrix(_load(catalog_dirs))
    table = support.as_rows()
    columns = ("target", *support.frameworks)
    if fmt is Format.JSON:
        print_text(
            json.dumps(
                {f: [t for t in support.targets if support.supports(f, t)] for f in support.frameworks}, indent=2
            )
        )
    elif fmt is Format.CSV:
        print_text(to_csv(table, columns))
    else:
        print_table(
            "framework x target support (yes: the framework deploys to the target)",
            columns,
            [{k: ("✓" if v == "yes" else v) for k, v in r.items()} for r in table],
        )


@catalog_app.command()
def local(fmt: RecordOutput = RecordFormat.TEXT) -> None:
    """Detect this machine: CPU, frequencies and governor, memory, ISA extensions, OS, fingerprint."""
    machine = detect_local_machine()
    if fmt is not RecordFormat.TEXT:
        _print_record(machine.model_dump(mode="json"), fmt)
        return
    table = Table(title="this machine", title_justify="left")
    table.add_column("fact")
    table.add_column("value", overflow="fold")
    for key, value in machine.model_dump(exclude={"flags", "caches"}).items():
        table.add_row(key, cell_text(value))
    table.add_row("caches", cell_text([f"{c.kind} {c.size_kib:g} KiB" for c in machine.caches]))
    console.print(table)


def _print_record(data: dict[str, object], fmt: RecordFormat) -> None:
    if fmt is RecordFormat.JSON:
        print_text(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@catalog_app.command()
def validate(directory: Annotated[Path, typer.Argument(help="User catalog directory to check.")]) -> None:
    """Check a user catalog directory; print every error with its file, line and field."""
    problems = validate_directory(directory)
    for problem in problems:
        note(f"error: {problem}")
    if problems:
        raise CatalogErrors(problems)
    console.print(f"{directory}: valid", markup=False)
