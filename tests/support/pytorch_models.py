"""Small PyTorch ExportedPrograms (`.pt2`) generated for the tests (never committed as binaries)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def tiny_program(path: Path, features: int = 8, classes: int = 4, seed: int = 0) -> Path:
    """The tiny classifier of `tests/support/models.py` as an ExportedProgram: the same seeded weights and bias,
    x @ weights + bias then softmax, input `input` with a dynamic batch axis, written to path."""
    torch = _torch()
    weights, bias = tiny_weights(features, classes, seed)

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = torch.nn.Parameter(torch.from_numpy(weights))
            self.bias = torch.nn.Parameter(torch.from_numpy(bias))

        def forward(self, input: Any) -> Any:
            return torch.softmax(input @ self.weights + self.bias, dim=-1)

    return _export(Classifier(), (torch.zeros(2, features),), {"input": {0: torch.export.Dim("batch")}}, path)


def tiny_weights(features: int = 8, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The weights and bias of the tiny classifier, drawn as `tiny_classifier` draws them."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((features, classes)).astype(np.float32)
    return weights, rng.standard_normal(classes).astype(np.float32)


def tiny_conv_program(path: Path, seed: int = 0) -> tuple[Path, Any]:
    """A seeded NCHW convolution net (conv, batch norm, ReLU, max pool, linear, softmax) on 3x8x8 images with a
    dynamic batch axis, written to path; also the eval-mode torch module it was exported from."""
    torch = _torch()
    torch.manual_seed(seed)

    class ConvNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(8)
            self.head = torch.nn.Linear(8 * 4 * 4, 5)

        def forward(self, image: Any) -> Any:
            x = torch.nn.functional.max_pool2d(torch.relu(self.norm(self.conv(image))), 2)
            return torch.softmax(self.head(x.flatten(1)), dim=-1)

    module = ConvNet()
    with torch.no_grad():  # running statistics away from 0 and 1, so that folding them into the conv shows
        module.norm.running_mean.uniform_(-0.5, 0.5)
        module.norm.running_var.uniform_(0.5, 2.0)
    module.eval()
    example = torch.randn(2, 3, 8, 8)
    return _export(module, (example,), {"image": {0: torch.export.Dim("batch")}}, path), module


def _export(module: Any, args: tuple[Any, ...], dynamic: dict[str, Any], path: Path) -> Path:
    torch = _torch()
    torch.export.save(torch.export.export(module, args, dynamic_shapes=dynamic), str(path))
    return path


def _torch() -> Any:
    """torch, imported; a skip without it, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        reason = (
            "torch is not installed: the PyTorch test models are exported with it (pip install 'deploybench[torch]')"
        )
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(reason)
