"""emlearn as a code generator for microcontrollers: a model that is a chain of dense layers (Gemm, or MatMul
and Add, each followed by at most one activation) read from ONNX into emlearn's network description, and
emlearn's C code for it (its `eml_net` inference over static weight tables), ready to be cross-compiled into a
firmware. emlearn writes each weight with six decimals: what that costs is measured like any deployment's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploybench.backends.base import Probe, installed_package
from deploybench.backends.cortexm.firmware import ModelCode
from deploybench.backends.onnx_model import read_onnx_model
from deploybench.core.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np

ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "logistic", "Softmax": "softmax"}
"""ONNX activations and emlearn's names for them."""
RESHAPES = ("Flatten", "Reshape", "Identity")
"""Nodes that leave a sample's values in the same order: a no-op on emlearn's flat vectors."""
PREFIX = "db_net"
HEADER = """#ifndef DEPLOYBENCH_MODEL_H
#define DEPLOYBENCH_MODEL_H
#ifdef __cplusplus
extern "C" {
#endif
void deploybench_forward(const float *input, float **output);
#ifdef __cplusplus
}
#endif
#endif
"""
GLUE = """
#include <stdlib.h>
#include "deploybench_model.h"

static float db_output[{outputs}];

void deploybench_forward(const float *input, float **output) {{
    EmlError status = eml_net_regress(&{prefix}, input, {inputs}, db_output, {outputs});
    if (status != EmlOk) {{
        exit(20 + (int)status);
    }}
    *output = db_output;
}}
"""
"""The call the harness makes, around emlearn's `eml_net_regress` (which fills a buffer with the last layer's
values); an emlearn error ends the firmware with status 20 + its code."""


@dataclass
class Dense:
    """One of emlearn's layers: weights laid out inputs x outputs, biases, and the activation after them."""

    weights: np.ndarray
    biases: np.ndarray
    activation: str = "identity"
    nodes: list[str] = field(default_factory=list)


def probe() -> Probe:
    """Whether emlearn is installed."""
    return installed_package("emlearn", "emlearn", "mcu")


def dense_layers(model: Path) -> tuple[str, tuple[int, ...], str, tuple[int, ...], list[Dense]]:
    """The model as emlearn's layers, with its input's and output's names and shapes at batch one; a node that
    is not part of a dense layer is a one-line error naming it."""
    import numpy as np
    from onnx import numpy_helper

    proto = read_onnx_model(model)
    if any(t.HasField("data_location") and t.data_location == 1 for t in proto.graph.initializer):
        import onnx

        proto = onnx.load(str(model))
    graph = proto.graph
    constants: dict[str, Any] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    inputs = [v for v in graph.input if v.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ConfigurationError(
            f"{model.name}: emlearn's networks take one input and give one output; this model has "
            f"{len(inputs)} input(s) and {len(graph.output)} output(s)"
        )
    current = inputs[0].name
    layers: list[Dense] = []
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        if current not in node.input:
            raise _unsupported(model, node, "it does not follow the previous layer")
        current = _add(model, node, current, constants, layers, np)
    if current != graph.output[0].name:
        raise ConfigurationError(f"{model.name}: the graph's output {graph.output[0].name} is not its last layer's")
    if len(layers) < 2:
        raise ConfigurationError(
            f"{model.name}: emlearn's networks have at least two dense layers; this model has {len(layers)}"
        )
    in_shape = _batch_one(inputs[0])
    if math.prod(in_shape) != layers[0].weights.shape[0]:
        raise ConfigurationError(
            f"{model.name}: input {inputs[0].name} has {math.prod(in_shape)} values a sample, its first dense layer "
            f"takes {layers[0].weights.shape[0]}"
        )
    return inputs[0].name, in_shape, graph.output[0].name, _batch_one(graph.output[0]), layers


def _add(model: Path, node: Any, current: str, constants: dict[str, Any], layers: list[Dense], np: Any) -> str:
    """Fold node into layers; the name of the tensor it produces."""
    kind = node.op_type
    if kind in RESHAPES:
        return str(node.output[0])
    if kind == "Gemm":
        attributes = {a.name: a for a in node.attribute}
        if (
            (attributes.get("transA")
            and attributes["transA"].i)
            or any(name in attributes and attributes[name].f != 1.0 for name in ("alpha", "beta"))
        ):
            raise _unsupported(
                model, node, "only Gemm with alpha = beta = 1 and an untransposed input is a dense layer"
            )
        weights = _constant(model, node, 1, constants)
        if attributes.get("transB") and attributes["transB"].i:
            weights = weights.T
        biases = (
            _constant(model, node, 2, constants).reshape(-1)
            if len(node.input) > 2 and node.input[2]
            else np.zeros(weights.shape[1])
        )
        layers.append(
            Dense(np.asarray(weights, dtype=np.float32), _biases(model, node, biases, weights, np), nodes=[node.name])
        )
    elif kind == "MatMul":
        weights = _constant(model, node, 1, constants)
        layers.append(
            Dense(
                np.asarray(weights, dtype=np.float32), np.zeros(weights.shape[1], dtype=np.float32), nodes=[node.name]
            )
        )
    elif kind == "Add" and layers and len(layers[-1].nodes) == 1 and not layers[-1].biases.any():
        other = node.input[1] if node.input[0] == current else node.input[0]
        if other not in constants:
            raise _unsupported(model, node, "it adds two computed tensors")
        layers[-1].biases = _biases(model, node, constants[other].reshape(-1), layers[-1].weights, np)
        layers[-1].nodes.append(node.name)
    elif kind in ACTIVATIONS and layers and layers[-1].activation == "identity":
        if kind == "Softmax":
            axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
            if axis not in (-1, 1):
                raise _unsupported(model, node, f"emlearn's softmax is over a sample's values, not axis {axis}")
        layers[-1].activation = ACTIVATIONS[kind]
        layers[-1].nodes.append(node.name)
    else:
        raise _unsupported(
            model, node, "emlearn's networks are dense layers, each with one of Relu, Tanh, Sigmoid, Softmax"
        )
    return str(node.output[0])


def _constant(model: Path, node: Any, index: int, constants: dict[str, Any]) -> Any:
    """The node's index-th input, which must be a constant matrix or vector."""
    if len(node.input) <= index or node.input[index] not in constants:
        raise _unsupported(model, node, "its weights are computed, not constant")
    value = constants[node.input[index]]
    if index == 1 and value.ndim != 2:
        raise _unsupported(model, node, f"its weights have {value.ndim} dimensions, a dense layer's have 2")
    return value


def _biases(model: Path, node: Any, biases: Any, weights: Any, np: Any) -> Any:
    """Biases as one value per output (a scalar is broadcast)."""
    if biases.size == 1:
        biases = np.full(weights.shape[1], biases.item())
    if biases.size != weights.shape[1]:
        raise _unsupported(model, node, f"its bias has {biases.size} values for {weights.shape[1]} outputs")
    return np.asarray(biases, dtype=np.float32)


def _batch_one(value: Any) -> tuple[int, ...]:
    """A graph input's or output's shape with its batch axis at one."""
    dims = [d.dim_value if d.dim_value > 0 else 1 for d in value.type.tensor_type.shape.dim]
    return tuple([1, *dims[1:]]) if dims else (1,)


def _unsupported(model: Path, node: Any, why: str) -> ConfigurationError:
    """The error for a node emlearn cannot take, naming it."""
    return ConfigurationError(
        f"{model.name}: emlearn cannot take node {node.name or node.output[0]} ({node.op_type}): {why}",
        hint="deploy a convolutional or other non-dense model with aidge-cortexm",
    )


def weight_bytes(model: Path) -> int:
    """Bytes of emlearn's weight and bias tables (float32) for the model."""
    return sum(4 * (layer.weights.size + layer.biases.size) for layer in dense_layers(model)[4])


def model_code(model: Path, folder: Path) -> ModelCode:
    """emlearn's C code for the model, written into folder, and how the harness calls it."""
    import emlearn
    from emlearn.net import c_generate_net_loadable

    input_name, input_shape, output_name, output_shape, layers = dense_layers(model)
    source = c_generate_net_loadable(
        [layer.activation for layer in layers],
        [layer.weights for layer in layers],
        [layer.biases for layer in layers],
        prefix=PREFIX,
    )
    inputs, outputs = layers[0].weights.shape[0], layers[-1].weights.shape[1]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deploybench_model.h").write_text(HEADER, encoding="utf-8")
    (folder / "model.c").write_text(
        source + GLUE.format(prefix=PREFIX, inputs=inputs, outputs=outputs), encoding="utf-8"
    )
    return ModelCode(
        sources=(folder / "model.c",),
        include_dirs=(folder, Path(emlearn.includedir)),
        header="deploybench_model.h",
        call="deploybench_forward(input, &output)",
        input_type="float",
        input_size=inputs,
        outputs=(("output", "float", outputs),),
        generator=f"emlearn {probe().version}",
        input_name=input_name,
        input_shape=input_shape,
        output_names=(output_name,),
        output_shapes=(output_shape,),
    )
