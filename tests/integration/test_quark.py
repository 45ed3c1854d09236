"""AMD Quark (the Vitis AI / Ryzen AI quantizer) from its own toolchain environment: `deploybench optimize -F
quark` quantizes an ONNX model with one of Quark's default configurations, calibrated on some rows, and ONNX
Runtime runs it beside the FP32 model on other rows, both checked against the FP32 reference; wrong options and
a model Quark's quantizer refuses are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import require_toolchain
from tests.support.models import relu_policy

from deploybench.worker.toolchains import Installed


@pytest.fixture(scope="module")
def toolchain() -> Installed:
    """The installed `quark` toolchain environment (`make test` installs it)."""
    return require_toolchain("quark")


def _rows(path: Path) -> Path:
    np.savez(path, x=np.random.default_rng(8).uniform(-3, 3, (90, 6)).astype(np.float32))
    return path


def test_quark_quantizes_and_onnx_runtime_runs_both_models_on_the_same_rows(
    toolchain: Installed, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model, rows = relu_policy(tmp_path / "mlp.onnx"), _rows(tmp_path / "rows.npz")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    args = ("--data", str(rows), "--calibration", "50", "--evaluate", "30", "--min-samples", "10", "--db", db)
    status, out, err = cli("optimize", str(model), "-F", "quark", "--method", "xint8", *args)
    assert status == 0, err
    assert "quark" in out and "xint8" in out
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    fp32, int8 = sorted(json.loads(listed), key=lambda record: record["job"]["optimization"] is not None)
    optimization = int8["job"]["optimization"]
    assert optimization["method"] == "xint8" and optimization["tool"].startswith("amd-quark 0.13 (XINT8)")
    assert optimization["calibration"]["samples"] == 50 and int8["fidelity"]["inputs"] == 30
    assert fp32["fidelity"]["outputs"][0]["max_abs_error"] < 1e-5
    assert 0 < int8["fidelity"]["outputs"][0]["max_abs_error"] < 1.0
    assert int8["fidelity"]["top1_agreement"] >= 0.8
    assert int8["measurements"] and fp32["measurements"]
    assert not list(tmp_path.glob("*.csv")), "Quark's quantized_info.csv was left in the working directory"


def test_options_quark_does_not_take_are_refused(toolchain: Installed, cli: Run, tmp_path: Path) -> None:
    model, rows = relu_policy(tmp_path / "mlp.onnx"), _rows(tmp_path / "rows.npz")
    args = ("--data", str(rows), "--calibration", "20", "--evaluate", "10", "-o", "per_channel=true")
    status, _, err = cli("optimize", str(model), "-F", "quark", "--method", "a8w8", *args)
    assert status != 0 and "Traceback" not in err
    assert "quark a8w8 takes no options, not per_channel" in err
