"""What a builder returns: the module to export, in eval mode, with what the zoo must say about its weights."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Model:
    """A built network, ready to export.

    `inputs` are example inputs by name (the builder's own when the network needs particular values, else
    seeded normal noise of the recipe's shape); `weights` says plainly where the weights come from; `data` holds
    real rows for the single input that the network was not trained on (`x`, and labels `y` where known), for
    calibration and evaluation.
    """

    module: Any
    weights: str
    inputs: dict[str, Any] | None = None
    outputs: tuple[str, ...] = ("output",)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    data: dict[str, Any] | None = None
    nir: Callable[[], Any] | None = None
    """For a spiking network NIR can describe, its NIR graph (with deploybench's run protocol in the metadata);
    None otherwise (the recipe's `nir` says why)."""
    fine_tune: Callable[[Any, int, float], None] | None = None
    """For a network trained here: trains a module of the same interface on the same training data for a number
    of steps at a learning rate (quantization-aware training needs it); None for the others."""


RANDOM = "seeded random (seed 0): architecture only; latency and memory are meaningful, accuracy is not"


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for the duration: the networks trained here are small, and on a busy 2-core machine
    more threads mostly wait on each other (measured 6-30 times slower with two)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def stratified_split(images: Any, labels: Any, test_fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    """Disjoint, stratified, seeded train and test sets: train images, test images, train labels, test labels."""
    from sklearn.model_selection import train_test_split

    parts = train_test_split(images, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    return parts[0], parts[1], parts[2], parts[3]
