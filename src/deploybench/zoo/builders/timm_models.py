"""Image classifiers from timm (PyTorch Image Models), built without pretrained weights."""

from __future__ import annotations

from typing import Any

from deploybench.zoo.builders.base import RANDOM, Model


def classifier(shape: tuple[int, ...], architecture: str, **options: Any) -> Model:
    """timm's `architecture` with seeded random weights (timm downloads nothing when `pretrained` is False)."""
    import timm

    module = timm.create_model(architecture, pretrained=False, **options)
    return Model(module=module, weights=RANDOM, outputs=("logits",))
