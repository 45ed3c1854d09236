"""The operators of a TFLite flatbuffer as operator-support checks need them, read with LiteRT's schema
bindings: custom operators as `custom.NAME`, builtins by their `BuiltinOperator` name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploybench.core.errors import BackendError


def operator_names(model: Any, schema: Any) -> list[str]:
    """The name of each operator code of a parsed model: `custom.NAME`, else the `BuiltinOperator` name."""
    builtin = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    names = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        names.append(f"custom.{custom.decode()}" if custom else builtin.get(number, f"builtin {number}"))
    return names


def tflite_operators(model: Path) -> list[tuple[str, str]]:
    """(first output's name, operator) of each operator of the first subgraph, read with LiteRT's schema."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        root = schema.Model.GetRootAs(model.read_bytes(), 0)
        graph = root.Subgraphs(0)
        codes = operator_names(root, schema)
        found = []
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            outputs = [int(t) for t in op.OutputsAsNumpy()] if op.OutputsLength() else []
            name = graph.Tensors(outputs[0]).Name().decode() if outputs else f"operator{index}"
            found.append((name, codes[op.OpcodeIndex()]))
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        raise BackendError(f"{model}: a corrupt TFLite flatbuffer ({exc})", hint="give a whole .tflite file") from exc
    return found
