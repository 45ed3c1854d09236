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
