"""The anatomy of a model file of any format deploybench reads."""

from __future__ import annotations

from pathlib import Path

from deploybench.analyze.onnx_anatomy import analyze_onnx
from deploybench.analyze.pytorch_anatomy import analyze_pytorch
from deploybench.analyze.records import Anatomy
from deploybench.analyze.tflite_anatomy import analyze_tflite
from deploybench.core.formats import model_format

READERS = {"onnx": analyze_onnx, "tflite": analyze_tflite, "pytorch": analyze_pytorch}


def analyze_model(path: Path, dims: dict[str, int]) -> Anatomy:
    """The anatomy of an ONNX, LiteRT or torch.export model, its dynamic dimensions given by `dims`."""
    return READERS[model_format(path)](path, dims)
