"""The bundled example: a small real classifier of handwritten digits, with labelled test data.

Tests and the quickstart use it to measure a real model end to end without downloading anything:
scikit-learn ships the digits data set. The model is trained once per directory and reused while its
recipe, package versions included, stays the same.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.core.errors import DeploybenchError
from deploybench.core.hashing import file_sha256, sha256_of

MODEL_FILE = "digits-mlp.onnx"
DATA_FILE = "digits-test.npz"
MANIFEST_FILE = "digits-example.json"
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
TARGET_OPSET = 17

RECIPE: dict[str, Any] = {
    "recipe_version": 1,
    "data": "sklearn.datasets.load_digits, features / 16 as float32, labels as int64",
    "split": {"test_size": 0.25, "seed": 0, "stratified": True},
    "classifier": {"kind": "sklearn MLPClassifier", "hidden_layer_sizes": [32], "max_iter": 1000, "seed": 0},
    "onnx": {"target_opset": TARGET_OPSET, "input": f"{INPUT_NAME} float [None, 64]", "output": OUTPUT_NAME},
}
"""How the example is made; with the package versions, its hash decides whether files are reused."""

_PACKAGES = ("numpy", "scikit-learn", "skl2onnx", "onnx")


@dataclass(frozen=True)
class DigitsExample:
    """The example's files and the classifier's accuracies (scikit-learn's, before conversion)."""

    model: Path
    data: Path
    train_accuracy: float
    test_accuracy: float


def ensure_digits_example(directory: Path) -> DigitsExample:
    """Build the digits example in directory, or reuse the files already there if made by the same recipe.

    Writes `digits-mlp.onnx` (float input `input` [None, 64], output `probabilities` [None, 10]),
    `digits-test.npz` (`x` float32 [n, 64] and `y` int64 [n] of the held-out split) and a manifest with
    the recipe, package versions, accuracies and file hashes. Files whose manifest, recipe hash or
    content hash does not match are rebuilt. Needs scikit-learn and skl2onnx (`deploybench[quickstart]`).
    """
    _require_quickstart()
    recipe = {**RECIPE, "packages": {name: metadata.version(name) for name in _PACKAGES}}
    recipe_sha256 = sha256_of(recipe)
    directory.mkdir(parents=True, exist_ok=True)
    model_path, data_path, manifest_path = directory / MODEL_FILE, directory / DATA_FILE, directory / MANIFEST_FILE
    reused = _reusable(manifest_path, recipe_sha256)
    if reused is not None:
        return DigitsExample(model_path, data_path, reused["train_accuracy"], reused["test_accuracy"])
    classifier, x_train, y_train, x_test, y_test = _train()
    model = _to_onnx(classifier)
    _write_atomic(model_path, model.SerializeToString())
    _write_npz_atomic(data_path, x=x_test, y=y_test)
    train_accuracy = float(classifier.score(x_train, y_train))
    test_accuracy = float(classifier.score(x_test, y_test))
    manifest = {
        "recipe": recipe,
        "recipe_sha256": recipe_sha256,
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        "files": {MODEL_FILE: file_sha256(model_path), DATA_FILE: file_sha256(data_path)},
    }
    _write_atomic(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return DigitsExample(model_path, data_path, train_accuracy, test_accuracy)


def _require_quickstart() -> None:
    for module in ("sklearn", "skl2onnx", "onnx"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise DeploybenchError(
                f"the digits example needs scikit-learn, skl2onnx and onnx, and `{module}` cannot be imported ({exc})",
                hint="install deploybench[quickstart]",
            ) from exc


def _reusable(manifest_path: Path, recipe_sha256: str) -> dict[str, float] | None:
    """The accuracies in the manifest, when it matches the recipe and both files are intact; else None."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest["recipe_sha256"] != recipe_sha256 or set(files) != {MODEL_FILE, DATA_FILE}:
            return None
        if any(file_sha256(manifest_path.parent / name) != sha256 for name, sha256 in files.items()):
            return None
        return {key: float(manifest[key]) for key in ("train_accuracy", "test_accuracy")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _train() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    split, spec = RECIPE["split"], RECIPE["classifier"]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=split["test_size"], random_state=split["seed"], stratify=y
    )
    classifier = MLPClassifier(
        hidden_layer_sizes=tuple(spec["hidden_layer_sizes"]), max_iter=spec["max_iter"], random_state=spec["seed"]
    )
    classifier.fit(x_train, y_train)
    return classifier, x_train, y_train, x_test, y_test


def _to_onnx(classifier: Any) -> Any:
    """Convert to ONNX with the class probabilities as a plain tensor, the only output."""
    import onnx
    import skl2onnx
    from onnx.utils import Extractor
    from skl2onnx.common.data_types import FloatTensorType

    converted = skl2onnx.to_onnx(
        classifier,
        initial_types=[(INPUT_NAME, FloatTensorType([None, 64]))],
        options={id(classifier): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model = Extractor(converted).extract_model([INPUT_NAME], [OUTPUT_NAME])
    used = {node.domain for node in model.graph.node}
    kept = [opset for opset in model.opset_import if opset.domain in used or opset.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    model.producer_name, model.producer_version = "skl2onnx", skl2onnx.__version__
    model.doc_string = "deploybench digits example: MLPClassifier on sklearn load_digits, probabilities output"
    onnx.checker.check_model(model, full_check=True)
    return model


def _write_atomic(path: Path, content: bytes) -> None:
    """Write through a uniquely named temporary file, so readers never see a partial file."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_npz_atomic(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=x, y=y)
    _write_atomic(path, buffer.getvalue())
