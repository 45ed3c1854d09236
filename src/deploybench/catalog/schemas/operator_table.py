"""The `OperatorTable` schema: which operators a framework that cannot be installed here takes, as its own
documentation lists them, with the framework version and the document they come from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from deploybench.catalog.schemas.base import NAME_PATTERN, Record

Dtype = Literal[
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "int4",
    "uint64",
    "uint32",
    "uint16",
    "uint8",
    "uint4",
    "bool",
    "string",
    "float8",
]
"""Element-type names tables use (NumPy's, plus the few ONNX types NumPy lacks)."""


class TableSource(Record):
    """The document a table was read from."""

    title: str = Field(min_length=1, description="Title of the document, as it names itself.")
    url: str | None = Field(default=None, description="Address of the document.")
    revision: str | None = Field(
        default=None, description="Which revision was read: a commit, a release tag, a document version or date."
    )


class TableOperator(Record):
    """One operator the framework takes, with the conditions its documentation sets."""

    op: str = Field(
        min_length=1,
        description=(
            "Operator as the model format names it: an ONNX op_type (domain-qualified outside ai.onnx, "
            "e.g. `com.microsoft.Gelu`), a TFLite builtin (`CONV_2D`) or a Keras layer class (`Conv2D`)."
        ),
    )
    since: int | None = Field(default=None, ge=1, description="Oldest ONNX operator version (opset) it takes.")
    until: int | None = Field(default=None, ge=1, description="Newest ONNX operator version (opset) it takes.")
    dtypes: tuple[Dtype, ...] = Field(
        default=(), description="Element types of the operator's data input it takes; empty when not stated."
    )
    attributes: dict[str, tuple[int | float | str, ...]] = Field(
        default_factory=dict, description="Attribute -> the only values it takes, where the source lists them."
    )
    restrictions: tuple[str, ...] = Field(
        default=(), description="Other conditions, in the source's words; shown to the user, not checked."
    )

    @model_validator(mode="after")
    def _versions_ordered(self) -> TableOperator:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"`since` ({self.since}) is after `until` ({self.until})")
        return self


class OperatorTable(Record):
    """The operators one version of a framework (or one unit of it) takes, for one model format."""

    framework: str = Field(pattern=NAME_PATTERN, description="Catalog name of the framework.")
    unit: str | None = Field(
        default=None, description="The part the table covers where the framework has several: DPU, GPU, ..."
    )
    version: str = Field(min_length=1, description="The framework version the table describes.")
    format: Literal["onnx", "tflite", "keras"] = Field(description="Model format whose operators are listed.")
    opsets: tuple[int, int] | None = Field(
        default=None, description="Oldest and newest ONNX opset its importer takes, where the source states them."
    )
    source: TableSource
    fallback: str | None = Field(
        default=None,
        description=(
            "Where an operator outside the table runs instead (e.g. the host CPU), in the source's terms; "
            "null when the framework refuses the model."
        ),
    )
    operators: tuple[TableOperator, ...] = Field(min_length=1)
    notes: tuple[str, ...] = Field(default=(), description="Caveats a reader must know about the table.")

    @model_validator(mode="after")
    def _unique_operators(self) -> OperatorTable:
        names = [o.op for o in self.operators]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"operators listed twice: {', '.join(duplicates)}; merge their entries")
        if self.opsets is not None and self.opsets[0] > self.opsets[1]:
            raise ValueError(f"`opsets` {list(self.opsets)} is not oldest then newest")
        return self
