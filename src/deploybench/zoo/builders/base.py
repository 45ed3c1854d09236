"""What a builder returns: the module to export, in eval mode, with what the zoo must say about its weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Model:
    """A built network, ready to export.

    `inputs` are example inputs by name (the builder's own when the network needs particular values, else
    seeded normal noise of the recipe's shape); `weights` says plainly where the weights come from.
    """

    module: Any
    weights: str
    inputs: dict[str, Any] | None = None
    outputs: tuple[str, ...] = ("output",)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


RANDOM = "seeded random (seed 0): architecture only; latency and memory are meaningful, accuracy is not"
