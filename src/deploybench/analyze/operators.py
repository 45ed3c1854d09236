"""How the work of each ONNX operator is counted: the table `data/onnx_operators.yaml`, validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from deploybench.analyze.records import OperatorClass
from deploybench.core.errors import ConfigurationError

TABLE = Path(__file__).parent / "data" / "onnx_operators.yaml"


class OperatorCost(BaseModel):
    """The class of an operator and how its MACs and other FLOPs are counted."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    op_class: OperatorClass
    macs: Literal["conv", "conv_transpose", "matmul", "gemm"] | None = None
    flops_per_element: int | Literal["kernel"] = 0


@cache
def operator_costs() -> dict[str, OperatorCost]:
    """The table, by ONNX operator type."""
    try:
        raw = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
        return {op: OperatorCost.model_validate({"op_class": entry.pop("class"), **entry}) for op, entry in raw.items()}
    except (yaml.YAMLError, ValidationError, KeyError, AttributeError) as exc:
        raise ConfigurationError(f"{TABLE}: invalid operator table: {exc}") from exc
