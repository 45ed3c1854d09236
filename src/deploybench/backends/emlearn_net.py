"""emlearn as a code generator for microcontrollers: a model whose every output is computed from its input by
a chain of dense layers (Gemm, or MatMul and Add, each followed by at most one activation), read from ONNX into
emlearn's network descriptions, and emlearn's C code for them (its `eml_net` inference over static weight
tables), ready to be cross-compiled into a firmware. emlearn writes each weight with six decimals: what that
costs is measured like any deployment's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploybench.backends.base import Probe, installed_package
from deploybench.backends.cortexm.firmware import ModelCode
from deploybench.backends.onnx_model import SHAPE_ONLY, constant_tensors, read_onnx_model
from deploybench.core.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np

ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "logistic", "Softmax": "softmax"}
"""ONNX activations and emlearn's names for them."""
PREFIX = "db_net"
HEADER = """#ifndef DEPLOYBENCH_MODEL_H
#define DEPLOYBENCH_MODEL_H
#ifdef __cplusplus
extern "C" {
#endif
void deploybench_forward(@PARAMETERS@);
#ifdef __cplusplus
}
#endif
#endif
"""


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


@dataclass(frozen=True)
class Network:
    """A model as emlearn sees it: one input, and for each output the chain of dense layers that computes it."""

    input_name: str
    input_shape: tuple[int, ...]
    heads: tuple[tuple[str, tuple[int, ...], list[Dense]], ...]
    """Per output: its name, its shape at batch one, its layers."""


def dense_network(model: Path) -> Network:
    """The model as chains of emlearn layers, one per output, each from the one input (layers two outputs share
    are repeated in each chain: emlearn's networks have no branches); a node that is not part of a dense layer
    is a one-line error naming it."""
    import numpy as np
    from onnx import numpy_helper

    proto = read_onnx_model(model)
    if any(t.HasField("data_location") and t.data_location == 1 for t in proto.graph.initializer):
        import onnx

        proto = onnx.load(str(model))
    graph = proto.graph
    constants = {name: numpy_helper.to_array(tensor) for name, tensor in constant_tensors(graph).items()}
    inputs = [v for v in graph.input if v.name not in constants]
    if len(inputs) != 1:
        raise ConfigurationError(f"{model.name}: emlearn's networks take one input; this model has {len(inputs)}")
    producers = {name: node for node in graph.node for name in node.output}
    in_shape = _batch_one(inputs[0])
    heads = []
    for output in graph.output:
        layers: list[Dense] = []
        current = inputs[0].name
        for node in _chain(model, output.name, inputs[0].name, producers, constants):
            current = _add(model, node, current, constants, layers, np)
        if not layers:
            raise ConfigurationError(f"{model.name}: output {output.name} is computed by no dense layer")
        if len(layers) == 1:
            layers.append(_identity(layers[0].weights.shape[1], np))
        if math.prod(in_shape) != layers[0].weights.shape[0]:
            raise ConfigurationError(
                f"{model.name}: input {inputs[0].name} has {math.prod(in_shape)} values a sample, the first dense "
                f"layer to {output.name} takes {layers[0].weights.shape[0]}"
            )
        heads.append((output.name, _batch_one(output), layers))
    return Network(inputs[0].name, in_shape, tuple(heads))


def _identity(size: int, np: Any) -> Dense:
    """A layer that passes its input through: emlearn's networks have two layers at least, so a single dense
    layer (a logistic regression, say) is followed by one."""
    return Dense(np.eye(size, dtype=np.float32), np.zeros(size, dtype=np.float32), nodes=["(identity)"])


def _chain(model: Path, output: str, source: str, producers: dict[str, Any], constants: dict[str, Any]) -> list[Any]:
    """The nodes from the input to output, in order, each taking the previous one's result; a node that takes
    two computed tensors (a branch or a merge) is a one-line error naming it."""
    chain: list[Any] = []
    current = output
    while current != source:
        node = producers.get(current)
        if node is None:
            raise ConfigurationError(f"{model.name}: output {output} is not computed from the model's input")
        computed = [name for name in node.input if name and name not in constants]
        if len(computed) != 1:
            raise _unsupported(model, node, f"it takes {len(computed)} computed tensors, a dense layer one")
        chain.append(node)
        current = computed[0]
    return chain[::-1]


def _add(model: Path, node: Any, current: str, constants: dict[str, Any], layers: list[Dense], np: Any) -> str:
    """Fold node into layers; the name of the tensor it produces."""
    kind = node.op_type
    if kind in SHAPE_ONLY:
        return str(node.output[0])
    if kind == "Gemm":
        attributes = {a.name: a for a in node.attribute}
        if (attributes.get("transA") and attributes["transA"].i) or any(
            name in attributes and attributes[name].f != 1.0 for name in ("alpha", "beta")
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
    return sum(
        4 * (layer.weights.size + layer.biases.size) for _, _, layers in dense_network(model).heads for layer in layers
    )


def model_code(model: Path, folder: Path) -> ModelCode:
    """emlearn's C code for the model (one network per output), written into folder, and how the harness calls
    it."""
    emlearn, c_generate_net_loadable = _emlearn()
    network = dense_network(model)
    inputs = network.heads[0][2][0].weights.shape[0]
    sources, outputs = [], []
    for index, (_, _, layers) in enumerate(network.heads):
        prefix = f"{PREFIX}{index}"
        sources.append(
            c_generate_net_loadable(
                [layer.activation for layer in layers],
                [layer.weights for layer in layers],
                [layer.biases for layer in layers],
                prefix=prefix,
            )
        )
        outputs.append((f"output{index}", "float", layers[-1].weights.shape[1]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deploybench_model.h").write_text(_header(len(outputs)), encoding="utf-8")
    (folder / "model.c").write_text("\n".join(sources) + _glue(inputs, outputs), encoding="utf-8")
    return ModelCode(
        sources=(folder / "model.c",),
        include_dirs=(folder, Path(emlearn.includedir)),
        header="deploybench_model.h",
        call=f"deploybench_forward(input, {', '.join('&' + name for name, _, _ in outputs)})",
        input_type="float",
        input_size=inputs,
        outputs=tuple(outputs),
        generator=f"emlearn {probe().version}",
        input_name=network.input_name,
        input_shape=network.input_shape,
        output_names=tuple(name for name, _, _ in network.heads),
        output_shapes=tuple(shape for _, shape, _ in network.heads),
    )


def _emlearn() -> tuple[Any, Any]:
    """emlearn and its network code generator, imported without the side effect of its `bayes` module, which
    sets NumPy to raise on every floating-point warning, process-wide, when it is imported."""
    import importlib

    import numpy as np

    saved = np.geterr()
    try:
        emlearn = importlib.import_module("emlearn")
        generate = importlib.import_module("emlearn.net").c_generate_net_loadable
    finally:
        np.seterr(**saved)
    return emlearn, generate


def _parameters(count: int) -> str:
    """The forward function's parameters: the input, then a pointer to each output."""
    return ", ".join(["const float *input", *(f"float **output{i}" for i in range(count))])


def _header(count: int) -> str:
    """The header the harness includes: the forward function, callable from C++."""
    return HEADER.replace("@PARAMETERS@", _parameters(count))


def _glue(inputs: int, outputs: list[tuple[str, str, int]]) -> str:
    """The forward function over emlearn's networks: each output's network filled by `eml_net_regress`, whose
    error ends the firmware with status 20 + its code."""
    lines = ["", "#include <stdlib.h>", '#include "deploybench_model.h"', ""]
    lines += [f"static float db_{name}[{size}];" for name, _, size in outputs]
    lines += ["", f"void deploybench_forward({_parameters(len(outputs))}) {{", "    EmlError status;"]
    for index, (name, _, size) in enumerate(outputs):
        lines += [
            f"    status = eml_net_regress(&{PREFIX}{index}, input, {inputs}, db_{name}, {size});",
            "    if (status != EmlOk) {",
            "        exit(20 + (int)status);",
            "    }",
            f"    *{name} = db_{name};",
        ]
    return "\n".join([*lines, "}", ""])
