"""How the work of each operator is counted, per model format: the tables `data/*_operators.yaml`, validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from deploybench.analyze.records import OperatorClass
from deploybench.core.errors import ConfigurationError

DATA = Path(__file__).parent / "data"


class OperatorCost(BaseModel):
    """The class of an operator and how its MACs and other FLOPs are counted."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    op_class: OperatorClass
    macs: (
        Literal[
            "conv",
            "conv_transpose",
            "matmul",
            "gemm",
            "conv_nhwc",
            "depthwise_nhwc",
            "fully_connected",
            "transpose_conv_nhwc",
            "addmm",
            "einsum",
        ]
        | None
    ) = None
    flops_per_element: int | Literal["kernel"] = 0


@cache
def operator_costs(model_format: str) -> dict[str, OperatorCost]:
    """The table of a model format (`data/{format}_operators.yaml`), by operator type."""
    table = DATA / f"{model_format}_operators.yaml"
    try:
        raw = yaml.safe_load(table.read_text(encoding="utf-8"))
        return {op: OperatorCost.model_validate({"op_class": entry.pop("class"), **entry}) for op, entry in raw.items()}
    except (yaml.YAMLError, ValidationError, KeyError, AttributeError) as exc:
        raise ConfigurationError(f"{table}: invalid operator table: {exc}") from exc
