"""The `Framework` schema: one deployment framework, with every attribute of Table 3."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from deploybench.catalog.schemas.base import NAME_PATTERN, CatalogEntry, Record
from deploybench.catalog.schemas.target import UnitKind


class OpenSource(str, Enum):
    """Whether the framework's source is open, as the definition grades it."""

    YES = "yes"
    NO = "no"
    PARTIALLY = "partially"


class Community(str, Enum):
    """Size of the framework's community, on the definition's four-step scale."""

    VERY_LARGE = "very large"
    LARGE = "large"
    SMALL = "small"
    VERY_SMALL = "very small"


class Optimization(str, Enum):
    """Model optimizations a framework offers, normalized from the definition's wording."""

    INT8_QUANTIZATION = "int8-quantization"
    FP16_QUANTIZATION = "fp16-quantization"
    QUANTIZATION = "quantization"
    QUANTIZATION_AWARE_TRAINING = "quantization-aware-training"
    PRUNING = "pruning"
    BINARIZATION = "binarization"
    SPARSITY = "sparsity"


class Reach(str, Enum):
    """How deploybench reaches a framework on this kind of machine."""

    RUNS = "runs"
    """Runs here for real, its figures measured."""
    EMULATED = "emulated"
    """Its output runs here on an emulated target: instruction counts and memory, not times."""
    PREDICTED = "predicted"
    """Not run here: only the selection's performance models speak of it."""


class FrameworkReach(Record):
    """How deploybench reaches a framework, through which backends, and why not further."""

    how: Reach = Field(description="runs, emulated or predicted.")
    why: str = Field(min_length=1, description="Why: the backend that runs it, or what is missing.")


class Framework(CatalogEntry):
    """A deployment framework: turns a trained model into something a target executes (Table 3)."""

    kind: ClassVar[str] = "framework"

    provider: str | None = Field(default=None, description="Provider of the framework, e.g. Xilinx.")
    open_source: OpenSource | None = Field(default=None, description="yes, no or partially.")
    community: Community | None = Field(default=None, description="very large, large, small or very small.")
    outputs: tuple[str, ...] = Field(
        default=(), description="What the chain produces: C code, an FPGA bitstream, a .tflite file, ..."
    )
    execution_environments: tuple[str, ...] = Field(
        default=(), description="Where the output executes, as the definition words it (GPU, bare metal, ...)."
    )
    execution_units: tuple[UnitKind, ...] = Field(
        default=(), description="Kinds of processing unit the output executes on."
    )
    supported_optimizations: tuple[str, ...] = Field(
        default=(), description="Optimizations as the definition words them."
    )
    optimizations: tuple[Optimization, ...] = Field(
        default=(), description="The same optimizations, normalized for queries."
    )
    traceability: str | None = Field(
        default=None, description="Capability to trace the generated implementation to the input model."
    )
    timing_determinism: str | None = Field(default=None, description="What is known of its timing determinism.")
    semantic_preservation: str | None = Field(
        default=None,
        description="Capability to give the same results as the input model, absent other optimizations.",
    )
    operator_compatibility_url: str | None = Field(
        default=None, description="Address of the framework's list of supported (ONNX) operators."
    )
    targets: tuple[str, ...] = Field(default=(), description="Names of the catalog targets the framework deploys to.")
    input_formats: tuple[str, ...] = Field(
        default=(), description="Model formats it takes: onnx, tflite, pytorch, keras, tensorflow, ..."
    )
    python_package: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Name of its Python package on PyPI, if any."
    )
    backends: tuple[str, ...] = Field(
        default=(), description="deploybench backends that run this framework's runtime here, by registered name."
    )
    reach: FrameworkReach | None = Field(
        default=None, description="How deploybench reaches it: runs here, emulated, or predicted only, and why."
    )
