"""The anatomy of a model: its interface, operators, parameters, work, memory and arithmetic intensity."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    """Immutable records that refuse unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OperatorClass(str, Enum):
    """The classes work is totalled by (a depthwise convolution is told apart from the others)."""

    CONVOLUTION = "convolution"
    DEPTHWISE_CONVOLUTION = "depthwise_convolution"
    GEMM = "gemm"
    ATTENTION = "attention"
    POOLING = "pooling"
    NORMALIZATION = "normalization"
    ELEMENTWISE = "elementwise"
    DATA_MOVEMENT = "data_movement"
    OTHER = "other"


class TensorInfo(Frozen):
    """One input or output of the model."""

    name: str
    shape: tuple[int | str | None, ...] | None = Field(description="None when the rank is unknown.")
    dtype: str


class ParameterGroup(Frozen):
    """The model's weights of one element type."""

    dtype: str
    count: int
    bytes: int


class NodeWork(Frozen):
    """What one node computes and moves; None where it cannot be counted, with the reason."""

    name: str
    op_type: str
    op_class: OperatorClass
    macs: int | None
    flops: int | None
    bytes_moved: int | None = Field(description="Bytes of every input (weights included) and output.")
    unknown: str | None = Field(default=None, description="Why a figure is missing.")


class ClassTotals(Frozen):
    """Work and traffic of one operator class."""

    op_class: OperatorClass
    nodes: int
    macs: int
    flops: int
    bytes_moved: int
    intensity: float | None = Field(description="FLOPs per byte moved.")
    uncounted_nodes: int = Field(description="Nodes of the class whose work could not be counted.")


class Memory(Frozen):
    """Bytes the model needs, for a run of one inference in the model's node order."""

    weights_bytes: int
    peak_activation_bytes: int | None = Field(
        description="Largest sum of live activations (inputs and outputs included) along the node order."
    )
    peak_at_node: str | None
    min_working_set_bytes: int | None = Field(
        description="Weights plus the largest activations one node reads and writes: no order runs in less."
    )


class Anatomy(Frozen):
    """Everything `deploybench analyze` reports about one model."""

    path: str
    format: str
    producer: str | None
    opsets: dict[str, int] = Field(description="Opset version by domain ('' is the default ONNX domain).")
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    dims: dict[str, int] = Field(description="Dynamic dimensions given values by the user.")
    symbolic_dims: tuple[str, ...] = Field(description="Dynamic dimensions left unresolved.")
    operators: dict[str, int] = Field(description="Node count by operator (domain-qualified outside ONNX's own).")
    parameters: tuple[ParameterGroup, ...]
    nodes: tuple[NodeWork, ...]
    classes: tuple[ClassTotals, ...]
    macs: int
    flops: int
    bytes_moved: int
    intensity: float | None
    uncounted_nodes: int
    memory: Memory
