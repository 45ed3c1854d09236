"""Small TFLite models written for the tests (never committed as binaries)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def tiny_tflite(
    path: Path, features: int = 8, classes: int = 4, then: str | None = None, custom: str | None = None
) -> tuple[Path, np.ndarray, np.ndarray]:
    """The tiny classifier as a TFLite flatbuffer (FULLY_CONNECTED + SOFTMAX, dynamic batch), written with
    LiteRT's own schema bindings; its weights and bias, for the expected outputs. `then` appends one more
    builtin operator taking no options (e.g. `SIN`), `custom` one custom operator of that name."""
    flatbuffers = _needed("flatbuffers")
    schema = _needed("ai_edge_litert.schema_py_generated")
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((features, classes)).astype(np.float32)
    bias = rng.standard_normal(classes).astype(np.float32)

    def tensor(name: str, shape: list[int], buffer: int) -> object:
        made = schema.TensorT()
        made.name, made.type, made.buffer = name, schema.TensorType.FLOAT32, buffer
        made.shape = [1, *shape[1:]] if shape[0] == -1 else shape
        made.shapeSignature = shape if shape[0] == -1 else None
        return made

    def operator(code: int, inputs: list[int], output: int, options_type: int, options: object) -> object:
        made = schema.OperatorT()
        made.opcodeIndex, made.inputs, made.outputs = code, inputs, [output]
        made.builtinOptionsType, made.builtinOptions = options_type, options
        return made

    def buffer(array: np.ndarray | None) -> object:
        made = schema.BufferT()
        made.data = None if array is None else list(array.tobytes())
        return made

    softmax = schema.SoftmaxOptionsT()
    softmax.beta = 1.0
    graph = schema.SubGraphT()
    graph.tensors = [
        tensor("input", [-1, features], 0),
        tensor("weights", [classes, features], 1),
        tensor("bias", [classes], 2),
        tensor("logits", [-1, classes], 0),
        tensor("probabilities", [-1, classes], 0),
    ]
    graph.inputs, graph.outputs = [0], [4]
    graph.operators = [
        operator(0, [0, 1, 2], 3, schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT()),
        operator(1, [3], 4, schema.BuiltinOptions.SoftmaxOptions, softmax),
    ]
    codes = []
    for builtin in (schema.BuiltinOperator.FULLY_CONNECTED, schema.BuiltinOperator.SOFTMAX):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        codes.append(code)
    if then is not None or custom is not None:
        code = schema.OperatorCodeT()
        if custom is not None:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
            code.customCode = custom
        else:
            code.builtinCode = getattr(schema.BuiltinOperator, str(then))
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        codes.append(code)
        graph.tensors.append(tensor("after", [-1, classes], 0))
        graph.operators.append(operator(2, [4], 5, schema.BuiltinOptions.NONE, None))
        graph.outputs = [5]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, codes, [graph]
    model.buffers = [buffer(None), buffer(weights.T.copy()), buffer(bias)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path, weights, bias


def _needed(module: str) -> Any:
    """module, imported; a skip without it, unless DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{module} is not installed: the TFLite test model is written with it (pip install ai-edge-litert)"
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(reason)
