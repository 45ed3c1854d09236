"""Model file formats, named as backends declare them in their capabilities."""

from __future__ import annotations

from pathlib import Path

from deploybench.core.errors import ConfigurationError

SUFFIXES = {
    ".onnx": "onnx",
    ".tflite": "tflite",
    ".pt2": "pytorch",
    ".xml": "openvino",
    ".pte": "executorch",
    ".aidge": "aidge",
    ".nir": "nir",
}
"""Suffix -> format; `.xml` is OpenVINO's IR, whose weights lie beside it in the `.bin` of the same name; `.pte`
an ExecuTorch program; `.aidge` an archive of Aidge's int8 C++ export with how to call it; `.nir` a spiking
network's NIR graph (HDF5)."""


def model_format(path: Path) -> str:
    """The format of a model file, from its suffix."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ConfigurationError(
            f"{path}: unknown model format `{path.suffix or '(no suffix)'}`",
            hint=f"give a model file ending in {', '.join(SUFFIXES)}",
        ) from None
