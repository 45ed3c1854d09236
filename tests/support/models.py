"""Small ONNX models generated for the tests (never committed as binaries)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_classifier(path: Path, features: int = 8, classes: int = 4, seed: int = 0) -> Path:
    """A seeded MatMul + Add + Softmax classifier with a dynamic batch axis, written to path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.standard_normal((features, classes)).astype(np.float32), "weights")
    bias = numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32), "bias")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "weights"], ["logits0"]),
            helper.make_node("Add", ["logits0", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        [weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def with_external_data(path: Path, location: str) -> Path:
    """Rewrite the model at path so that its weights live in an external file at `location`."""
    import onnx

    model = onnx.load(str(path))
    onnx.save_model(
        model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=location, size_threshold=0
    )
    return path


def dense_policy(path: Path, seed: int = 0, matmul: bool = True) -> Path:
    """A seeded three-layer dense network in the three ONNX spellings of a dense layer (Gemm, Gemm with its
    weights transposed, MatMul + Add; or a third Gemm) with Relu and Tanh between them, behind a Flatten, like an
    exported policy."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    arrays = {
        "w1": rng.standard_normal((8, 16)),
        "b1": rng.standard_normal(16),
        "w2": rng.standard_normal((3, 16)),
        "b2": rng.standard_normal(3),
        "w3": rng.standard_normal((3, 2)),
        "b3": rng.standard_normal(2),
    }
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], name="flatten"),
            helper.make_node("Gemm", ["flat", "w1", "b1"], ["h1"], name="fc1"),
            helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
            helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], transB=1, name="fc2"),
            helper.make_node("Tanh", ["h2"], ["a2"], name="tanh2"),
            *(
                [
                    helper.make_node("MatMul", ["a2", "w3"], ["h3"], name="fc3"),
                    helper.make_node("Add", ["h3", "b3"], ["action"], name="bias3"),
                ]
                if matmul
                else [helper.make_node("Gemm", ["a2", "w3", "b3"], ["action"], name="fc3")]
            ),
        ],
        "policy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 4])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(value.astype(np.float32), name) for name, value in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def relu_policy(path: Path, first: str = "Gemm") -> Path:
    """A seeded Gemm/Relu network on a 6-value input, weights laid out as PyTorch exports them (like a DQN
    policy); `first` = Relu puts a Relu before it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    shapes = {"w1": (32, 6), "b1": (32,), "w2": (32, 32), "b2": (32,), "w3": (3, 32), "b3": (3,)}
    head = [helper.make_node("Relu", ["x"], ["r0"], name="relu0")] if first == "Relu" else []
    source = "r0" if head else "x"
    nodes = [
        *head,
        helper.make_node("Gemm", [source, "w1", "b1"], ["h1"], name="fc1", transB=1),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], name="fc2", transB=1),
        helper.make_node("Relu", ["h2"], ["a2"], name="relu2"),
        helper.make_node("Gemm", ["a2", "w3", "b3"], ["q"], name="fc3", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "relu-mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array((rng.standard_normal(s) * 0.5).astype(np.float32), n) for n, s in shapes.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
