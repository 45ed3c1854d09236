"""OpenVINO's own optimization tools: NNCF post-training INT8 quantization (with and without accuracy control)
and FP16 weight compression, written as OpenVINO IR (`.xml` with its `.bin`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deploybench.backends.base import Calibration, Method, OptimizedModel
from deploybench.backends.onnx_model import require_float_weights
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

_QUANTIZE_OPTIONS = {
    "preset": "performance (symmetric activations) or mixed (asymmetric activations) (default performance)",
    "subset_size": "most calibration rows NNCF uses (default 300)",
    "fast_bias_correction": "NNCF's fast bias correction, else its full one (default true)",
}
METHODS = {
    "nncf-int8": Method(
        "INT8 weights and activations by NNCF post-training quantization (nncf.quantize)",
        _QUANTIZE_OPTIONS,
        calibrated=True,
    ),
    "nncf-int8-accuracy": Method(
        "NNCF quantization with accuracy control (nncf.quantize_with_accuracy_control): layers go back to FP32 "
        "until the top-1 accuracy drop on the labelled calibration rows is within max_drop",
        {**_QUANTIZE_OPTIONS, "max_drop": "largest top-1 accuracy drop allowed, absolute (default 0.01)"},
        calibrated=True,
        labelled=True,
    ),
    "fp16": Method("weights stored in FP16 (openvino.save_model, compress_to_fp16); compute stays as hinted"),
}

DEFAULTS: dict[str, SettingValue] = {"preset": "performance", "subset_size": 300, "fast_bias_correction": True}


def optimize(
    model: Path, method: str, options: dict[str, SettingValue], calibration: Calibration | None, workdir: Path
) -> OptimizedModel:
    """The model made by NNCF or OpenVINO's serializer for `method`, as IR in workdir."""
    import openvino

    if model.suffix.lower() == ".onnx":
        require_float_weights(model, "openvino")
    output = workdir / f"{model.stem}.{method}.xml"
    read = _read(model)
    if method == "fp16":
        resolved = resolve_settings("openvino fp16", options, {})
        openvino.save_model(read, str(output), compress_to_fp16=True)
        return OptimizedModel(output, resolved, f"openvino.save_model {openvino.get_version()}")
    import nncf

    if calibration is None:
        raise BackendError(f"openvino {method} needs calibration data", hint="give --data")
    defaults = dict(DEFAULTS, max_drop=0.01) if method == "nncf-int8-accuracy" else DEFAULTS
    resolved = resolve_settings(f"openvino {method}", options, defaults)
    presets = {"performance": nncf.QuantizationPreset.PERFORMANCE, "mixed": nncf.QuantizationPreset.MIXED}
    if resolved["preset"] not in presets:
        raise BackendError(f"openvino: `preset` = {resolved['preset']!r}", hint="use performance or mixed")
    if int(resolved["subset_size"]) < 1:
        raise BackendError("openvino: `subset_size` must be at least 1")
    dataset = nncf.Dataset(calibration.batches())
    common: dict[str, Any] = {
        "preset": presets[str(resolved["preset"])],
        "subset_size": int(resolved["subset_size"]),
        "fast_bias_correction": bool(resolved["fast_bias_correction"]),
    }
    notes: tuple[str, ...] = ()
    try:
        if method == "nncf-int8":
            quantized = nncf.quantize(read, dataset, **common)
        else:
            quantized = _with_accuracy_control(read, calibration, dataset, float(resolved["max_drop"]), common)
            notes = (f"accuracy control on {len(calibration.rows)} labelled calibration rows",)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"nncf cannot quantize {model.name}: {_first_line(exc)}") from exc
    openvino.save_model(quantized, str(output), compress_to_fp16=False)
    tool = f"nncf {nncf.__version__}, openvino {openvino.get_version()}"
    return OptimizedModel(output, resolved, tool, notes=notes)


def _read(model: Path) -> Any:
    import openvino

    try:
        return openvino.Core().read_model(str(model))
    except Exception as exc:
        raise BackendError(f"openvino cannot read {model}: {_first_line(exc)}") from exc


def _with_accuracy_control(
    read: Any, calibration: Calibration, dataset: Any, max_drop: float, common: dict[str, Any]
) -> Any:
    """nncf.quantize_with_accuracy_control, validated by top-1 accuracy on the labelled calibration rows."""
    import nncf

    if calibration.labels is None:
        raise BackendError(
            "openvino nncf-int8-accuracy needs labelled calibration rows", hint="give data with labels `y`"
        )
    pairs = list(zip(calibration.batches(), calibration.labels, strict=True))
    validation = nncf.Dataset(pairs, lambda pair: pair[0])

    def top1(compiled: Any, rows: Any) -> float:
        hits = [int(np.argmax(compiled(row)[0])) == int(label) for row, label in rows]
        return float(np.mean(hits))

    return nncf.quantize_with_accuracy_control(
        read, dataset, validation, validation_fn=top1, max_drop=max_drop, **common
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
