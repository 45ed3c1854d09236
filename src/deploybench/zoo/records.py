"""What the zoo knows about a model it built: how, from what, and what came out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Format = Literal["onnx", "pt2", "tflite", "nir", "qonnx"]
FORMAT_SUFFIX: dict[str, str] = {
    "onnx": ".onnx",
    "pt2": ".pt2",
    "tflite": ".tflite",
    "nir": ".nir",
    "qonnx": ".qonnx.onnx",
}
"""A QONNX file is ONNX with QONNX's quantization operators: `.qonnx.onnx`, read as ONNX."""


class Frozen(BaseModel):
    """A frozen, strict record."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Built(Frozen):
    """One exported model, as the builder reports it (inside the toolchain environment)."""

    file: str = Field(description="File name of the artifact, in the build folder.")
    parameters: int = Field(description="Parameters of the built module, counted on it.")
    inputs: dict[str, tuple[int, ...]] = Field(description="Input names and the shapes exported.")
    outputs: tuple[str, ...] = Field(description="Output names.")
    exporter: str = Field(description="The exporter, its version and its settings.")
    weights: str = Field(description="Where the weights come from: seeded random, trained here, shipped.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Task metrics measured after training.")
    packages: dict[str, str] = Field(description="Versions of the packages the model was built with.")
    build_s: float = Field(description="Seconds to build (and train) the module.")
    export_s: float = Field(description="Seconds to export it.")
    notes: tuple[str, ...] = ()
    data: str | None = Field(
        default=None, description="File name of the held-out rows (`x`, labels `y`) saved beside it (`.npz`)."
    )


class ZooArtifact(Frozen):
    """A model in the cache: the build record plus what identifies it."""

    name: str
    variant: Literal["full", "reduced"]
    format: Format
    path: str = Field(description="Absolute path of the artifact in the cache.")
    sha256: str = Field(description="SHA-256 of the artifact file, checked whenever it is used.")
    size_bytes: int
    key: str = Field(description="Cache key: SHA-256 of the recipe, the variant, the format and the package pins.")
    recipe_sha256: str
    card_parameters: int | None = Field(description="The model card's parameter count.")
    parameter_difference: float | None = Field(description="(built - card) / card.")
    built: Built
    converted_by: str | None = Field(default=None, description="The converter that made it from the ONNX export.")
