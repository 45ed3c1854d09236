"""More small ONNX models generated for the tests: a convolution net on NCHW images, and a model whose only node
is one operator (to test what a converter cannot convert)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_conv_classifier(path: Path, classes: int = 5, seed: int = 0) -> Path:
    """A seeded Conv + Relu + MaxPool + Flatten + Gemm + Softmax net on `image` of 3x8x8 NCHW images with a
    dynamic batch axis, output `probabilities`, written to path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def initializer(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)

    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("MaxPool", ["relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "tiny_conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        [
            initializer("conv_w", 4, 3, 3, 3),
            initializer("conv_b", 4),
            initializer("fc_w", classes, 4 * 4 * 4),
            initializer("fc_b", classes),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def single_operator(path: Path, operator: str, domain: str = "", features: int = 8) -> Path:
    """A model of one `operator` node (of `domain`, "" for the standard one) from `input` to `output`, both of
    shape (1, features) float32, written to path; a custom domain is imported at version 1."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node(operator, ["input"], ["output"], domain=domain, name="only")],
        "single",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, features])],
    )
    imports = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def shape_flatten(path: Path) -> Path:
    """`x` (batch, 2, 3) through Relu, reshaped to `flat` (batch, 6) with the batch size read from the tensor's
    Shape (Shape, Gather, Unsqueeze, Concat, Reshape: as exporters write `x.view(x.size(0), -1)`), written to path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["relu"]),
            helper.make_node("Shape", ["relu"], ["shape"]),
            helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
            helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
            helper.make_node("Concat", ["batch1", "rest"], ["target"], axis=0),
            helper.make_node("Reshape", ["relu", "target"], ["flat"]),
        ],
        "shape_flatten",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3])],
        [helper.make_tensor_value_info("flat", TensorProto.FLOAT, ["batch", 6])],
        [
            numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "rest"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def pooled_batch_norm(path: Path, channels: int = 3, seed: int = 0) -> Path:
    """Images [batch, channels, 8, 8] averaged to [batch, channels, 1, 1], then an inference BatchNormalization
    with seeded statistics (one value per channel: a module left in training mode cannot normalize it), output
    `normalized` [batch, channels]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    statistics = {
        "scale": rng.uniform(0.5, 2.0, channels),
        "bias": rng.uniform(-1.0, 1.0, channels),
        "mean": rng.uniform(-0.5, 0.5, channels),
        "var": rng.uniform(0.5, 2.0, channels),
    }
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("BatchNormalization", ["pooled", "scale", "bias", "mean", "var"], ["norm"]),
            helper.make_node("Flatten", ["norm"], ["normalized"], axis=1),
        ],
        "pooled_batch_norm",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", channels, 8, 8])],
        [helper.make_tensor_value_info("normalized", TensorProto.FLOAT, ["batch", channels])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in statistics.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
