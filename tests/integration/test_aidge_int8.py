"""Aidge's post-training int8 quantization as an MCU code path: `deploybench optimize -F aidge-cortexm --method
ptq-int8` quantizes with aidge-quantization, keeps the int8 export as an `.aidge` archive, and measures it as a
firmware in QEMU beside the FP32 firmware, both checked against the FP32 reference; models the quantizer cannot
take, and archives deploybench did not make, are refused in one line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.firmware import require_firmware_tools
from tests.support.models import dense_policy, relu_policy

from deploybench.backends.cortexm.firmware import ModelCode
from deploybench.core.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _require() -> None:
    require_firmware_tools()
    pytest.importorskip("aidge_backend_cpu")
    pytest.importorskip("aidge_quantization")


def _rows(path: Path, shape: tuple[int, ...]) -> Path:
    np.savez(path, x=np.random.default_rng(4).uniform(-3, 3, (80, *shape)).astype(np.float32))
    return path


def test_an_int8_firmware_made_by_aidges_quantizer_is_measured_beside_the_fp32_one(cli: Run, tmp_path: Path) -> None:
    model, rows = relu_policy(tmp_path / "mlp.onnx"), _rows(tmp_path / "rows.npz", (6,))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    args = ("--data", str(rows), "--calibration", "40", "--evaluate", "24", "--db", db)
    status, out, err = cli("optimize", str(model), "-F", "aidge-cortexm", "--method", "ptq-int8", *args)
    assert status == 0, err
    assert "ptq-int8" in out and "latency B/A" not in out
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    fp32, int8 = sorted(json.loads(listed), key=lambda record: record["job"]["optimization"] is not None)
    assert int8["job"]["model"]["path"].endswith(".aidge") and int8["job"]["optimization"]["method"] == "ptq-int8"
    assert "aidge-quantization" in int8["emulation"]["generator"]
    assert int8["emulation"]["model_flash_bytes"] < fp32["emulation"]["model_flash_bytes"] / 2
    assert int8["fidelity"]["inputs"] == fp32["fidelity"]["inputs"] == 24
    assert fp32["fidelity"]["top1_agreement"] == 1.0
    assert 0.8 <= int8["fidelity"]["top1_agreement"] <= 1.0
    assert int8["fidelity"]["outputs"][0]["max_abs_error"] > fp32["fidelity"]["outputs"][0]["max_abs_error"]


def test_operators_aidges_quantizer_cannot_take_are_named(cli: Run, tmp_path: Path) -> None:
    model = dense_policy(tmp_path / "tanh.onnx", matmul=False)
    rows = _rows(tmp_path / "rows.npz", (2, 4))
    args = ("--data", str(rows), "--calibration", "40", "--evaluate", "24")
    status, _, err = cli("optimize", str(model), "-F", "aidge-cortexm", "--method", "ptq-int8", *args)
    assert status != 0 and "Traceback" not in err
    assert "Aidge's quantizer cannot take" in err and "Tanh (stays in floating point" in err


def test_an_input_that_cannot_absorb_the_int8_scaling_is_named(tmp_path: Path) -> None:
    from deploybench.backends.aidge_quantize import quantize

    model = relu_policy(tmp_path / "relu-first.onnx", first="Relu")
    with pytest.raises(ConfigurationError, match=r"node relu0 \(Relu\) reads the input directly"):
        quantize(model, np.ones((4, 6), dtype=np.float32) * 2, tmp_path / "work")


def test_an_archive_deploybench_did_not_make_is_refused(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.aidge"
    bad.write_bytes(b"not a zip")
    status, _, err = cli("run", str(bad), "-F", "aidge-cortexm", "--count", "2")
    assert status != 0 and "Traceback" not in err
    assert f"{bad}: not an Aidge int8 export made by deploybench" in err


def test_an_archive_member_outside_its_folder_is_refused(tmp_path: Path) -> None:
    from deploybench.backends.aidge_quantize import MANIFEST, Manifest, model_code

    manifest = Manifest(
        model="m.onnx",
        input_name="x",
        input_shape=(1, 6),
        input_scale=1.0,
        outputs={"q": (1, 3)},
        weights=1,
        generator="test",
        calibration_rows=1,
    )
    archive = tmp_path / "escape.aidge"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(MANIFEST, manifest.model_dump_json())
        bundle.writestr("../outside.txt", "x")
    with pytest.raises(ConfigurationError, match=r"member \.\./outside\.txt would be written outside"):
        model_code(archive, tmp_path / "unpacked")
    assert not (tmp_path / "outside.txt").exists()


def test_an_integer_input_is_scaled_rounded_and_saturated() -> None:
    code = ModelCode(
        sources=(),
        include_dirs=(),
        header="h",
        call="c",
        input_type="int8_t",
        input_size=4,
        outputs=(),
        generator="g",
        input_scale=10.0,
    )
    encoded = code.encode(np.array([[0.26, -0.04, 100.0, -100.0]], dtype=np.float32))
    assert encoded.dtype == np.int8 and encoded.tolist() == [[3, 0, 127, -127]]
