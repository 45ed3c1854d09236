"""The `ModelCard` schema: one reference model, with every attribute of Table 5."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from deploybench.catalog.schemas.base import CatalogEntry, Record


class ModelFamily(str, Enum):
    """Model families of Table 5."""

    CNN = "CNN"
    RL = "RL"
    RNN = "RNN"
    GAN = "GAN"
    SNN = "SNN"
    GNN = "GNN"
    AE = "AE"
    SOM = "SOM"
    CAP = "CAP"
    HA = "HA"


class Performance(Record):
    """Typical score of the trained model on its test set."""

    value: float = Field(description="The score, in `unit`.")
    unit: str = Field(min_length=1, description="Unit of the score, e.g. `%`.")
    metric: str = Field(min_length=1, description="What is scored, e.g. Top-1 accuracy, AP, mIoU.")


class ModelCard(CatalogEntry):
    """A reference model that gives reference results and validates the bench (Table 5)."""

    kind: ClassVar[str] = "model"
    figure_exempt: ClassVar[frozenset[str]] = frozenset({"priority"})

    priority: int = Field(ge=1, description="Rank of deployment, 1 first (the order of Table 6).")
    family: ModelFamily = Field(description="CNN, RL, RNN, GAN, SNN, GNN, AE, SOM, CAP or HA.")
    model: str = Field(min_length=1, description="The actual model, e.g. ResNet, YOLO.")
    application: str | None = Field(default=None, description="Typical use, e.g. image segmentation.")
    parameters: int | None = Field(default=None, ge=0, description="Number of parameters (weights and biases).")
    link: str | None = Field(default=None, description="Address of the model's documentation or paper.")
    performance: Performance | None = Field(default=None, description="Typical score on the test set.")
    training_frameworks: tuple[str, ...] = Field(default=(), description="Coding and training libraries.")
    available_formats: tuple[str, ...] = Field(default=(), description="Formats it is published in (.pt, ...).")
    datasets: tuple[str, ...] = Field(default=(), description="Data sets the weights and scores come from.")
    source_code: str | None = Field(default=None, description="Address of the source code.")
    input_shape: tuple[int, ...] | None = Field(
        default=None, description="Shape of one input in the reference setting, e.g. [1, 3, 224, 224]."
    )
