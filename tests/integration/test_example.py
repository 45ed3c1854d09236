"""The bundled digits example: trained, converted to ONNX, run with onnxruntime, and reused."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from deploybench.campaign.example import DigitsExample, ensure_digits_example
from deploybench.core.errors import DeploybenchError
from deploybench.measure.fidelity import compare

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DigitsExample:
    """The example, built once for this module."""
    return ensure_digits_example(tmp_path_factory.mktemp("example") / "digits")


def _onnx_probabilities(model: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape, i.type) for i in session.get_inputs()] == [("input", [None, 64], "tensor(float)")]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("probabilities", [None, 10])]
    (probabilities,) = session.run(None, {"input": x})
    return np.asarray(probabilities)


def test_builds_files_and_learns_the_digits(built: DigitsExample) -> None:
    assert built.model.name == "digits-mlp.onnx" and built.model.is_file()
    assert built.data.name == "digits-test.npz" and built.data.is_file()
    assert built.test_accuracy > 0.9
    assert built.train_accuracy >= built.test_accuracy
    with np.load(built.data) as data:
        x, y = data["x"], data["y"]
    assert x.dtype == np.float32 and x.shape == (len(y), 64)
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert x.min() >= 0.0 and x.max() <= 1.0
    manifest = json.loads((built.model.parent / "digits-example.json").read_text())
    assert set(manifest["recipe"]["packages"]) == {"numpy", "scikit-learn", "skl2onnx", "onnx"}


def test_onnx_model_reproduces_the_reported_accuracy(built: DigitsExample) -> None:
    with np.load(built.data) as data:
        x, y = data["x"], data["y"]
    probabilities = _onnx_probabilities(built.model, x)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y))
    # The float32 ONNX graph may round differently from scikit-learn: allow one test sample to flip.
    assert abs(accuracy - built.test_accuracy) <= 1 / len(y)
    outputs = [{"probabilities": probabilities}]
    assert compare(outputs, outputs, "onnxruntime", labels=y).accuracy == pytest.approx(accuracy)


def test_second_call_reuses_the_files(built: DigitsExample) -> None:
    files = [built.model, built.data, built.model.parent / "digits-example.json"]
    before = [f.stat().st_mtime_ns for f in files]
    again = ensure_digits_example(built.model.parent)
    assert again == built
    assert [f.stat().st_mtime_ns for f in files] == before


def test_other_recipe_or_damaged_file_is_rebuilt(built: DigitsExample, tmp_path: Path) -> None:
    directory = shutil.copytree(built.model.parent, tmp_path / "copy")
    manifest_path = directory / "digits-example.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["recipe_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    (directory / "digits-mlp.onnx").write_bytes(b"not a model")
    rebuilt = ensure_digits_example(directory)
    assert json.loads(manifest_path.read_text())["recipe_sha256"] != "0" * 64
    assert rebuilt.test_accuracy > 0.9
    with np.load(rebuilt.data) as data:
        assert _onnx_probabilities(rebuilt.model, data["x"]).shape == (len(data["y"]), 10)


def test_damaged_data_file_is_rebuilt(built: DigitsExample, tmp_path: Path) -> None:
    directory = shutil.copytree(built.model.parent, tmp_path / "copy")
    (directory / "digits-test.npz").write_bytes(b"truncated")
    rebuilt = ensure_digits_example(directory)
    assert rebuilt.data.read_bytes() != b"truncated"
    with np.load(rebuilt.data) as data:
        assert data["x"].shape[1] == 64


def test_missing_converter_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(DeploybenchError, match=r"`skl2onnx` cannot be imported.*install deploybench\[quickstart\]"):
        ensure_digits_example(tmp_path)
    assert not (tmp_path / "digits-mlp.onnx").exists()
