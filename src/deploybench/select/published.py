"""Published latency figures for catalog boards (`data/published.yaml`): calibration data for the transfer
model and a check of it, one record per figure with its exact source."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deploybench.analyze.records import Anatomy
from deploybench.core.data_files import read_data_file
from deploybench.select.observations import Observation

BUILTIN = "published.yaml"


class Citation(BaseModel):
    """Where a published figure is read from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    url: str = Field(min_length=1)
    quote: str = Field(min_length=1, description="The sentence or table row the figure is read from.")


class PublishedFigure(BaseModel):
    """One published latency of a zoo model's architecture on a catalog target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    model: str = Field(description="Zoo model of the same architecture and input size.")
    target: str = Field(description="Catalog target.")
    framework: str = Field(description="Backend name, or the catalog framework's.")
    precision: Literal["fp32", "fp16", "int8"]
    threads: int | None = Field(default=None, ge=1)
    batch: int = Field(default=1, ge=1)
    latency_ms: float = Field(gt=0)
    statistic: Literal["mean", "median", "unspecified"]
    source: Citation


class PublishedFile(BaseModel):
    """The shipped file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    figures: tuple[PublishedFigure, ...] = ()


def load_published(path: Path | None = None) -> tuple[PublishedFigure, ...]:
    """The published figures in path, else the shipped ones; a malformed file is a one-line error."""
    return read_data_file(PublishedFile, path, __package__, BUILTIN).figures


def as_observations(
    figures: tuple[PublishedFigure, ...], anatomies: Mapping[str, Anatomy]
) -> tuple[list[Observation], list[str]]:
    """The batch-1 figures whose zoo model has an anatomy here, as observations; why the others are left out."""
    found: list[Observation] = []
    skipped: list[str] = []
    for figure in figures:
        anatomy = anatomies.get(figure.model)
        if figure.batch != 1:
            skipped.append(f"{figure.id}: batch {figure.batch} (only batch 1 is modelled)")
        elif anatomy is None:
            skipped.append(f"{figure.id}: zoo model `{figure.model}` is not built and analysed here")
        else:
            found.append(
                Observation(
                    result_id=None,
                    source=f"published: {figure.source.title} ({figure.source.url})",
                    model=figure.model,
                    model_sha256=f"published:{figure.model}",
                    anatomy=anatomy,
                    framework=figure.framework,
                    target=figure.target,
                    precision=figure.precision,
                    threads=figure.threads,
                    latency_ms=figure.latency_ms,
                    peak_rss_bytes=None,
                    deterministic=False,
                )
            )
    return found, skipped
