"""Quantization-aware training with Brevitas, exported to QONNX, on to hls4ml: the zoo trains its digits CNN
again with power-of-two quantizers in the loop and writes it as QONNX, with both accuracies on the held-out digits;
the ONNX reference evaluates the QONNX file as QONNX defines it, and hls4ml's C simulation of the design matches it
bit for bit; a runtime without QONNX's operators names the one it lacks; a model without quantization-aware
training, or a recipe asking for an impossible one, is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import require, require_toolchain

from deploybench.backends.hls4ml_csim import Hls4mlBackend
from deploybench.zoo.cache import CACHE_ENV
from deploybench.zoo.recipe import RECIPES_ENV


def _results(cli: Run, db: str) -> dict[str, dict[str, Any]]:
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    return {record["job"]["framework"]: record for record in json.loads(listed)}


def test_the_digits_cnn_trained_with_quantizers_runs_bit_exact_on_hls4ml(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    require_toolchain("pytorch")
    require(Hls4mlBackend())
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "zoo"))
    status, _, err = cli("zoo", "build", "digits-cnn", "--reduced", "-F", "qonnx")
    assert status == 0, err
    built = next((tmp_path / "zoo").rglob("artifact.json"))
    artifact = json.loads(built.read_text())
    assert artifact["format"] == "qonnx" and "Brevitas" in artifact["built"]["exporter"]
    assert "W8A8" in artifact["built"]["exporter"]
    metrics = artifact["built"]["metrics"]
    assert 0 <= metrics["qat_held_out_accuracy"] <= 1 and 0 <= metrics["fp32_held_out_accuracy"] <= 1
    assert metrics["qonnx_agreement_top1"] == 1.0 and metrics["qonnx_max_abs_difference"] == 0.0
    model, data = built.parent / "digits-cnn.qonnx.onnx", built.parent / "digits-cnn-data.npz"
    assert not list(built.parent.glob("*.data")), "the weights must live inside the model file"
    proto = onnx.load(str(model))
    assert "Quant" in {node.op_type for node in proto.graph.node}
    biases = sum(int(np.prod(t.dims)) for t in proto.graph.initializer if t.name.endswith(".bias"))
    assert biases > 0 and metrics["qonnx_weight_bits"] == 8 * (artifact["built"]["parameters"] - biases)
    assert metrics["qonnx_macs"] > 0 and metrics["qonnx_bops"] == 8 * 8 * metrics["qonnx_macs"]
    status, _, err = cli("zoo", "export", "digits-cnn", "--reduced", "-F", "qonnx", "-o", f"{tmp_path / 'out'}/")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["digits-cnn-data.npz", "digits-cnn.qonnx.onnx"]

    db = f"sqlite:///{tmp_path / 'r.db'}"
    status, _, err = cli("run", str(model), "-F", "hls4ml", "--data", str(data), "--count", "24", "--db", db)
    assert status == 0, err
    fidelity = _results(cli, db)["hls4ml"]["fidelity"]
    assert fidelity["reference"].startswith("onnx-reference") and fidelity["inputs"] == 24
    assert fidelity["outputs"][0]["max_abs_error"] == 0.0 and fidelity["top1_agreement"] == 1.0
    assert fidelity["accuracy"] == fidelity["reference_accuracy"]

    status, _, err = cli("run", str(model), "-F", "onnxruntime", "--count", "2", "--db", db)
    assert status != 0 and "Traceback" not in err
    assert "Quant" in err and "onnxruntime cannot load" in err


def test_a_model_without_quantization_aware_training_is_refused(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "zoo"))
    status, _, err = cli("zoo", "export", "unet", "-F", "qonnx", "-o", str(tmp_path))
    assert status != 0 and "Traceback" not in err
    assert "unet has no quantization-aware training: its recipe has no `qat`" in err
    assert not list(tmp_path.glob("*.onnx"))


def test_a_builder_that_cannot_train_again_is_named(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_toolchain("pytorch")
    (tmp_path / "mylab_fixed.py").write_text(
        "import torch\n"
        "from deploybench.zoo.builders.base import RANDOM, Model\n\n\n"
        "def fixed(shape):\n"
        "    return Model(module=torch.nn.Linear(shape[-1], 2), weights=RANDOM)\n",
        encoding="utf-8",
    )
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "fixed.yaml").write_text("name: fixed\nbuilder: mylab_fixed:fixed\ninput_shape: [1, 4]\nqat: {}\n")
    monkeypatch.setenv(RECIPES_ENV, str(folder))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "zoo"))
    status, _, err = cli("zoo", "build", "fixed", "-F", "qonnx")
    assert status != 0 and "Traceback" not in err
    assert "zoo: fixed cannot be built: Brevitas's QONNX export" in err
    assert "no way to train it again (Model.fine_tune)" in err


def test_a_recipe_asking_for_one_bit_weights_names_its_file_and_field(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "recipes"
    folder.mkdir()
    recipe = folder / "binary.yaml"
    recipe.write_text("name: binary\nbuilder: trained:digits_cnn\ninput_shape: [1, 1, 8, 8]\nqat: {weight_bits: 1}\n")
    monkeypatch.setenv(RECIPES_ENV, str(folder))
    status, _, err = cli("zoo", "list")
    assert status == 2 and str(recipe) in err and "qat.weight_bits" in err
    assert len(err.strip().splitlines()) == 1
