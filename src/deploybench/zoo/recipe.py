"""Recipes: how each model of the zoo is built, as data (`recipes/*.yaml`), validated."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploybench.catalog.yaml_io import read_yaml
from deploybench.core.errors import CatalogError, ConfigurationError, NotFoundError
from deploybench.core.hashing import sha256_of
from deploybench.zoo.qat import Qat

RECIPES = Path(__file__).parent / "recipes"
RECIPES_ENV = "DEPLOYBENCH_ZOO_RECIPES"
"""Folders of a user's own recipes (separated like PATH); a recipe of the same name replaces the built-in one."""


class Variant(BaseModel):
    """The arguments of a reduced build (fewer channels, a smaller input) for quick tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict, description="Overrides of the builder's arguments.")
    input_shape: tuple[int, ...] | None = Field(default=None, description="Overrides the input shape.")


class Recipe(BaseModel):
    """How to build one model of the catalog: a builder function, its arguments, the input and the exporter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="The model card's name.")
    builder: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:function: a module of deploybench's builders/, else an importable module of your own.",
    )
    arguments: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the builder.")
    input_shape: tuple[int, ...] = Field(min_length=1, description="Shape of the exported input.")
    opset: int = Field(default=17, ge=7, description="ONNX opset asked of the exporter.")
    dynamo: bool = Field(default=False, description="Export ONNX with torch's dynamo exporter (else TorchScript).")
    tolerance: float = Field(
        default=0.05, ge=0, description="Largest relative difference of parameters with the card's, as built."
    )
    packages: tuple[str, ...] = Field(default=(), description="Distributions whose versions the build records.")
    reduced: Variant = Field(default_factory=Variant, description="A small variant for tests.")
    nir: str | None = Field(
        default=None,
        min_length=1,
        description="For a spiking network: `graph` when its builder writes it as a NIR graph, else why NIR cannot "
        "describe it. Unset: not a spiking network, which NIR does not describe.",
    )
    qat: Qat | None = Field(
        default=None,
        description="For a network trained here: its Brevitas quantization-aware training, exported as `qonnx`.",
    )
    notes: tuple[str, ...] = Field(default=(), description="What a reader must know about the build.")

    def sha256(self) -> str:
        """Hash of the recipe's content, part of the cache key."""
        return sha256_of(self.model_dump(mode="json"))


def recipes() -> dict[str, Recipe]:
    """Every recipe, by name: the built-in ones, then those of the folders in `$DEPLOYBENCH_ZOO_RECIPES`."""
    folders = [Path(p) for p in os.environ.get(RECIPES_ENV, "").split(os.pathsep) if p]
    for folder in folders:
        if not folder.is_dir():
            raise ConfigurationError(
                f"{RECIPES_ENV} names {folder}, which is not a folder", hint="give folders of recipe YAML files"
            )
    return _recipes((RECIPES, *folders))


@cache
def _recipes(folders: tuple[Path, ...]) -> dict[str, Recipe]:
    found: dict[str, Recipe] = {}
    for path in [p for folder in folders for p in sorted(folder.glob("*.yaml"))]:
        document = read_yaml(path)
        try:
            recipe = Recipe.model_validate(document.data)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "(top level)"
            line = document.line_of(tuple(error["loc"]))
            raise CatalogError(error["msg"], file=str(path), line=line, field=field) from exc
        found[recipe.name] = recipe
    return found


def recipe(name: str) -> Recipe:
    """The recipe of a model; an unknown name suggests the closest ones."""
    import difflib

    known = recipes()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else "list them with `deploybench zoo list`"
    raise NotFoundError(f"the zoo has no model named `{name}`", hint=hint)


Kind = Literal["full", "reduced"]


def resolved(found: Recipe, variant: Kind) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The builder's arguments and the input shape of a variant."""
    if variant == "full":
        return dict(found.arguments), found.input_shape
    return {**found.arguments, **found.reduced.arguments}, found.reduced.input_shape or found.input_shape
