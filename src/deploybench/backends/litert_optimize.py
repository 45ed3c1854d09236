"""LiteRT's own optimization tool: TensorFlow's TFLiteConverter, run on the Keras model that onnx2tf makes of an
ONNX model (as onnx2tf itself converts it), for full-integer INT8 (with a representative data set), dynamic-range
INT8 and FP16 models. Inputs and outputs stay float32 in the model's own layout and keep the ONNX model's names,
so the optimized model takes what the FP32 one does and its outputs compare with the FP32 model's by name."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.backends.base import Calibration, Method, OptimizedModel
from deploybench.backends.onnx2tf_log import conversion_failure
from deploybench.backends.onnx_model import PROTOBUF_LIMIT, check_onnx_model, require_float_weights
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

METHODS = {
    "int8": Method(
        "full-integer INT8: weights and activations, scales from a representative data set (TFLiteConverter, "
        "TFLITE_BUILTINS_INT8); float32 inputs and outputs",
        {"per_channel": "one scale per output channel of each convolution (default true)"},
        calibrated=True,
    ),
    "dynamic-range": Method("INT8 weights, float activations quantized at run time (TFLiteConverter, DEFAULT)"),
    "fp16": Method("FP16 weights (TFLiteConverter, supported_types float16), dequantized to float32 at load"),
}


def optimize(
    model: Path, method: str, options: dict[str, SettingValue], calibration: Calibration | None, workdir: Path
) -> OptimizedModel:
    """The model converted by TFLiteConverter for `method`, from onnx2tf's Keras model of it."""
    import tensorflow as tf

    check_onnx_model(model)
    require_float_weights(model, "litert")
    defaults: dict[str, SettingValue] = {"per_channel": True} if method == "int8" else {}
    resolved = resolve_settings(f"litert {method}", options, defaults)
    if method == "int8" and calibration is None:
        raise BackendError("litert int8 needs calibration data", hint="give --data")
    converter = tf.lite.TFLiteConverter.from_keras_model(_keras_model(model, workdir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if method == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif method == "int8" and calibration is not None:
        converter.representative_dataset = _representative(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter._experimental_disable_per_channel = not resolved["per_channel"]
    try:
        flatbuffer = converter.convert()
    except Exception as exc:
        raise BackendError(f"litert: TFLiteConverter cannot make {method} of {model.name}: {_reason(exc)}") from exc
    output = workdir / f"{model.stem}.{method}.tflite"
    output.write_bytes(flatbuffer)
    tool = f"tensorflow {tf.__version__} TFLiteConverter on onnx2tf {version('onnx2tf')}'s Keras model"
    return OptimizedModel(output, resolved, tool)


def _keras_model(model: Path, workdir: Path) -> Any:
    """onnx2tf's Keras model of the ONNX model, its inputs in the ONNX layout; onnx2tf gets a copy (it simplifies
    the file it is given in place) and what it prints is kept to say why it stopped, when it does."""
    import contextlib
    import io

    import onnx
    import onnx2tf

    loaded = onnx.load(str(model))
    copy = workdir / f"{model.stem}.onnx2tf-input.onnx"
    onnx.save_model(loaded, str(copy), save_as_external_data=loaded.ByteSize() > PROTOBUF_LIMIT)
    initializers = {tensor.name for tensor in loaded.graph.initializer}
    names = [
        i.name for i in loaded.graph.input if i.name not in initializers and len(i.type.tensor_type.shape.dim) >= 3
    ]
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            return onnx2tf.convert(
                input_onnx_file_path=str(copy),
                output_folder_path=str(workdir / "onnx2tf"),
                non_verbose=True,
                keep_shape_absolutely_input_names=names or None,
            )
    except (SystemExit, Exception) as exc:
        status = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        raise BackendError(
            f"litert: onnx2tf cannot convert {model.name}: {conversion_failure(log.getvalue(), status)}"
        ) from exc


def _representative(calibration: Calibration) -> Any:
    """TFLiteConverter's representative data set: each calibration row as a batch of one, in the model's layout."""

    def rows() -> Iterator[list[np.ndarray]]:
        for batch in calibration.batches():
            yield [batch.astype(np.float32)]

    return rows


def _reason(exc: Exception) -> str:
    """The converter's own error lines (`error: ...`), which name the operator, else its first line."""
    text = str(exc)
    errors = [line.split("error:", 1)[1].strip() for line in text.splitlines() if "error:" in line]
    if errors:
        return "; ".join(dict.fromkeys(errors))
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
