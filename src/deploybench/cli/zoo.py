"""`deploybench zoo list|build|export`: the reference models of Table 6, built offline into the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from deploybench.catalog import load_catalog
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.core.errors import ConfigurationError
from deploybench.zoo.build import build_model, export_model
from deploybench.zoo.recipe import recipe, recipes
from deploybench.zoo.records import FORMAT_SUFFIX
from deploybench.zoo.records import Format as ModelFormat

zoo_app = typer.Typer(help="The reference models of Table 6, built offline (never downloaded) and cached.")

Reduced = Annotated[bool, typer.Option(help="Build the small variant of the recipe (for quick checks).")]
FormatOption = Annotated[str, typer.Option("--format", "-F", help="onnx, pt2, tflite or nir (spiking networks).")]
FORMATS = tuple(FORMAT_SUFFIX)


@zoo_app.command("list")
def list_models(fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE) -> None:
    """Every model the zoo builds: its card's family and parameters, its builder, and what to know about it."""
    cards = load_catalog().models
    rows = [
        {
            "model": name,
            "family": cards[name].family.value if name in cards else "",
            "card parameters": f"{cards[name].parameters:,}" if name in cards and cards[name].parameters else "",
            "input": "x".join(str(d) for d in found.input_shape),
            "builder": found.builder,
            "notes": " ".join(found.notes),
        }
        for name, found in sorted(recipes().items())
    ]
    if fmt is Format.JSON:
        print_text(json.dumps(rows, indent=2))
        return
    print_table("zoo", list(rows[0]), rows)


@zoo_app.command("build")
def build(
    names: Annotated[list[str] | None, typer.Argument(help="Models to build (see `deploybench zoo list`).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Build every model of the zoo.")] = False,
    model_format: FormatOption = "onnx",
    reduced: Reduced = False,
    rebuild: Annotated[bool, typer.Option(help="Build again even when the cache holds the model.")] = False,
) -> None:
    """Build models into the cache (or find them there), and say where each is, what it holds, and how it
    compares with its card."""
    chosen = sorted(recipes()) if every else list(names or [])
    if not chosen:
        raise ConfigurationError("name the models to build", hint="give names, or --all")
    for name in chosen:
        recipe(name)
    rows = []
    for name in chosen:
        artifact = build_model(name, _format(model_format), "reduced" if reduced else "full", rebuild, echo=note)
        difference = artifact.parameter_difference
        rows.append(
            {
                "model": name,
                "parameters": f"{artifact.built.parameters:,}",
                "vs card": "" if difference is None else f"{difference:+.1%}",
                "size": f"{artifact.size_bytes / 1e6:.1f} MB",
                "build s": f"{artifact.built.build_s:.1f}",
                "export s": f"{artifact.built.export_s:.1f}",
                "weights": artifact.built.weights,
                "path": artifact.path,
            }
        )
    print_table("built", list(rows[0]), rows)


@zoo_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Model to export.")],
    model_format: FormatOption = "onnx",
    out: Annotated[
        str, typer.Option("--out", "-o", help="File, or folder to put it in (made when it ends with /).")
    ] = ".",
    reduced: Reduced = False,
) -> None:
    """Copy a model (built if the cache lacks it) to a file of the format asked, its held-out rows beside it."""
    if out.endswith(("/", os.sep)):
        Path(out).mkdir(parents=True, exist_ok=True)
    target = export_model(name, _format(model_format), Path(out), "reduced" if reduced else "full", echo=note)
    print_text(str(target))


def _format(text: str) -> ModelFormat:
    if text not in FORMATS:
        raise ConfigurationError(f"--format `{text}` is not a format the zoo exports", hint=f"use {', '.join(FORMATS)}")
    found: ModelFormat = text  # type: ignore[assignment]
    return found
