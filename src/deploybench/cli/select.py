"""`deploybench select MODEL`: which target, framework and precision, ranked, with every figure's interval
and the reason for every combination left out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploybench.catalog.query import parse_condition
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError
from deploybench.report.selection import plot_front
from deploybench.select.constraints import Constraints, Objective
from deploybench.select.published import load_published
from deploybench.select.recommend import Candidate, Selection, nothing_selected
from deploybench.select.session import Selector, analysed
from deploybench.store import ResultStore
from deploybench.zoo.anatomies import zoo_anatomies
from deploybench.zoo.build import build_model

ZOO_PREFIX = "zoo:"


def resolve_model(given: str) -> Path:
    """The model file: the path given, or the zoo model's ONNX file (built when the cache lacks it)."""
    if given.startswith(ZOO_PREFIX):
        return Path(build_model(given.removeprefix(ZOO_PREFIX), "onnx", echo=note).path)
    return Path(given)


def select(
    model: Annotated[str, typer.Argument(help="Analysed model file, or zoo:NAME.")],
    max_latency_ms: Annotated[float | None, typer.Option(help="Latency budget of one inference, ms.")] = None,
    max_power_w: Annotated[float | None, typer.Option(help="Power budget of the board, W.")] = None,
    max_memory_mb: Annotated[float | None, typer.Option(help="Memory budget of the deployment, MB.")] = None,
    max_price: Annotated[float | None, typer.Option(help="Price budget of the board, USD.")] = None,
    where: Annotated[
        list[str] | None, typer.Option(help="Catalog condition on the target or framework, e.g. country=France.")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="Keep one precision: fp32, fp16 or int8.")] = None,
    determinism: Annotated[
        bool, typer.Option(help="Keep only combinations measured with deterministic timing.")
    ] = False,
    minimize: Annotated[Objective, typer.Option(help="What the ranking minimizes.")] = Objective.LATENCY,
    models: Annotated[
        str | None, typer.Option(help="Performance models to use, comma-separated (default: all).")
    ] = None,
    show_excluded: Annotated[bool, typer.Option(help="List every excluded combination and why.")] = True,
    plot: Annotated[Path | None, typer.Option(help="Draw the Pareto front to this PNG or SVG file.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    db: Database = None,
) -> None:
    """Rank every (target, framework, precision) for the model: predicted latency, throughput, memory and
    energy with their 80 % intervals, the compliance verdict, and why each other combination is excluded."""
    if precision is not None and precision not in ("fp32", "fp16", "int8"):
        raise ConfigurationError(f"--precision {precision}: unknown precision", hint="use fp32, fp16 or int8")
    if fmt is Format.CSV:
        raise ConfigurationError("select prints a table or JSON", hint="use --format table or --format json")
    constraints = Constraints(
        max_latency_ms=max_latency_ms,
        max_power_w=max_power_w,
        max_memory_mb=max_memory_mb,
        max_price=max_price,
        where=tuple(parse_condition(text) for text in where or []),
        precision=precision,
        determinism=determinism,
    )
    path = resolve_model(model)
    with ResultStore.open(db) as store:
        analysis = analysed(path, store)
        anatomies = zoo_anatomies((f.model for f in load_published()), store)
        selector = Selector.open(store, anatomies, [n.strip() for n in (models or "").split(",") if n.strip()])
    selection = selector.select(analysis, constraints, minimize)
    if fmt is Format.JSON:
        print_text(selection.model_dump_json(indent=2))
    else:
        show(selection, show_excluded)
    if plot is not None and selection.ranked:
        plot_front(selection, plot)
        note(f"wrote {plot}")
    if not selection.ranked:
        raise nothing_selected(selection)


def show(selection: Selection, show_excluded: bool) -> None:
    """The ranked table, the excluded combinations with their reasons, and what the figures rest on."""
    front = set(selection.front)
    rows = [_row(rank, item, rank - 1 in front) for rank, item in enumerate(selection.ranked, start=1)]
    columns = [
        "#",
        "target",
        "framework",
        "precision",
        "latency (80 %)",
        "by",
        "throughput",
        "memory",
        "fits",
        "energy",
        "price USD",
        "compliance",
    ]
    constraints = "; ".join(selection.constraints) or "none"
    print_table(f"{selection.model}: minimize {selection.objective.value}; constraints: {constraints}", columns, rows)
    if show_excluded and selection.excluded:
        print_table(
            f"Excluded ({len(selection.excluded)})",
            ["target", "framework", "precision", "why"],
            [
                {"target": i.target, "framework": i.framework, "precision": i.precision, "why": "; ".join(i.excluded)}
                for i in selection.excluded
            ],
        )
    unknown = sorted(
        {f"{i.target} {i.framework} {i.precision}: {i.latency.reason}" for i in selection.ranked if not i.latency.known}
    )
    for line in unknown:
        note(f"latency unknown for {line}")
    note(
        "* on the Pareto front (latency, energy, memory, price). >= : a roofline bound (no efficiency known). "
        "Energy is an estimate: predicted time x the board's power range."
    )


def _row(rank: int, item: Candidate, on_front: bool) -> dict[str, str]:
    """One ranked combination as table cells."""
    return {
        "#": f"{rank}{'*' if on_front else ''}",
        "target": item.target,
        "framework": item.framework + (f" x{item.threads}" if item.threads else ""),
        "precision": item.precision,
        "latency (80 %)": item.latency.text(),
        "by": item.latency.model,
        "throughput": item.throughput.text(),
        "memory": item.memory.text(),
        "fits": item.memory_fit,
        "energy": item.energy.text(),
        "price USD": str(item.price_usd) if item.price_usd else "unknown",
        "compliance": item.compliance.value,
    }
