"""ONNX Runtime's own optimization tools: `onnxruntime.quantization` (dynamic and static INT8), its float16
converter, and its QDQ debugging helpers for the per-tensor divergence of a quantized model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.backends.base import Calibration, Method, OptimizedModel
from deploybench.backends.onnx_model import require_float_weights
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import LayerDivergence, SettingValue

METHODS = {
    "dynamic-int8": Method(
        "INT8 weights, activations quantized at run time (quantize_dynamic)",
        {
            "per_channel": "one scale per output channel (default false)",
            "weight_type": "qint8 or quint8 (default qint8)",
            "reduce_range": "7-bit weights, for CPUs without VNNI (default false)",
        },
    ),
    "static-int8": Method(
        "INT8 weights and activations, scales from calibration data (quantize_static)",
        {
            "format": "qdq (QuantizeLinear/DequantizeLinear pairs) or qoperator (QLinear* operators) (default qdq)",
            "per_channel": "one scale per output channel (default false)",
            "calibration": "minmax, entropy or percentile (default minmax)",
            "activation_type": "quint8 or qint8 (default quint8)",
            "weight_type": "qint8 or quint8 (default qint8)",
            "reduce_range": "7-bit weights, for CPUs without VNNI (default false)",
            "preprocess": "run quant_pre_process (shape inference, graph optimization) first (default true)",
        },
        calibrated=True,
    ),
    "fp16": Method(
        "weights and compute in float16 (onnxruntime.transformers.float16)",
        {"keep_io_types": "keep float32 inputs and outputs (default true)"},
    ),
}

QUANTIZED_OPS = {
    "dynamic-int8": ("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul"),
    "static-int8": ("QuantizeLinear", "QLinearConv", "QLinearMatMul"),
}
"""Operators whose presence shows the quantizer did quantize something."""


def optimize(
    model: Path, method: str, options: dict[str, SettingValue], calibration: Calibration | None, workdir: Path
) -> OptimizedModel:
    """The model made by ONNX Runtime's tool for `method`, written into workdir."""
    import onnxruntime

    require_float_weights(model, "onnxruntime")
    output = workdir / f"{model.stem}.{method}.onnx"
    if method == "fp16":
        resolved = resolve_settings("onnxruntime fp16", options, {"keep_io_types": True})
        _to_fp16(model, output, bool(resolved["keep_io_types"]))
        return OptimizedModel(output, resolved, f"onnxruntime.transformers.float16 {onnxruntime.__version__}")
    if method == "dynamic-int8":
        resolved = resolve_settings(
            "onnxruntime dynamic-int8",
            options,
            {"per_channel": False, "weight_type": "qint8", "reduce_range": False},
        )
        _quantize_dynamic(model, output, resolved)
    else:
        if calibration is None:
            raise BackendError("onnxruntime static-int8 needs calibration data", hint="give --data")
        resolved = resolve_settings(
            "onnxruntime static-int8",
            options,
            {
                "format": "qdq",
                "per_channel": False,
                "calibration": "minmax",
                "activation_type": "quint8",
                "weight_type": "qint8",
                "reduce_range": False,
                "preprocess": True,
            },
        )
        _quantize_static(model, output, resolved, calibration, workdir)
    _require_quantized(model, output, method)
    return OptimizedModel(output, resolved, f"onnxruntime.quantization {onnxruntime.__version__}")


def _quant_type(name: SettingValue, option: str) -> Any:
    from onnxruntime.quantization import QuantType

    types = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    if name not in types:
        raise BackendError(f"onnxruntime: `{option}` = {name!r}", hint="use qint8 or quint8")
    return types[str(name)]


def _quantize_dynamic(model: Path, output: Path, options: dict[str, SettingValue]) -> None:
    from onnxruntime.quantization import quantize_dynamic

    _run_quantizer(
        model,
        lambda: quantize_dynamic(
            model,
            output,
            per_channel=bool(options["per_channel"]),
            reduce_range=bool(options["reduce_range"]),
            weight_type=_quant_type(options["weight_type"], "weight_type"),
        ),
    )


def _quantize_static(
    model: Path, output: Path, options: dict[str, SettingValue], calibration: Calibration, workdir: Path
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quant_pre_process, quantize_static

    formats = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if options["format"] not in formats:
        raise BackendError(f"onnxruntime: `format` = {options['format']!r}", hint="use qdq or qoperator")
    if options["calibration"] not in methods:
        raise BackendError(
            f"onnxruntime: `calibration` = {options['calibration']!r}", hint="use minmax, entropy or percentile"
        )
    source = model
    if options["preprocess"]:
        source = workdir / f"{model.stem}.preprocessed.onnx"
        _run_quantizer(model, lambda: quant_pre_process(str(model), str(source)))
    reader = CalibrationReader(single_input_name(model), calibration)
    _run_quantizer(
        model,
        lambda: quantize_static(
            source,
            output,
            reader,
            quant_format=formats[str(options["format"])],
            per_channel=bool(options["per_channel"]),
            reduce_range=bool(options["reduce_range"]),
            activation_type=_quant_type(options["activation_type"], "activation_type"),
            weight_type=_quant_type(options["weight_type"], "weight_type"),
            calibrate_method=methods[str(options["calibration"])],
        ),
    )


def _run_quantizer(model: Path, call: Any) -> None:
    """Run one of ONNX Runtime's tools; what it raises becomes a one-line error naming the model."""
    try:
        call()
    except BackendError:
        raise
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"onnxruntime.quantization cannot quantize {model.name}: {message}") from exc


def _require_quantized(model: Path, output: Path, method: str) -> None:
    """Refuse a 'quantized' model in which the quantizer changed nothing, naming the operators it met."""
    import onnx

    made = onnx.load(str(output), load_external_data=False)
    if not any(node.op_type in QUANTIZED_OPS[method] for node in made.graph.node):
        original = onnx.load(str(model), load_external_data=False)
        ops = sorted({node.op_type for node in original.graph.node})
        raise BackendError(
            f"onnxruntime {method}: nothing in {model.name} was quantized; its operators are {', '.join(ops)}",
            hint="onnxruntime quantizes Conv, MatMul, Gemm and their kind; try fp16 or another framework",
        )


def _to_fp16(model: Path, output: Path, keep_io_types: bool) -> None:
    """The converter appends the casts of kept float32 inputs after the nodes that read them: ONNX Runtime's own
    graph helper puts the nodes back in topological order, as the ONNX checker requires."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    loaded = onnx.load(str(model))
    try:
        converted = OnnxModel(convert_float_to_float16(loaded, keep_io_types=keep_io_types))
        converted.topological_sort()
    except Exception as exc:
        raise BackendError(f"onnxruntime float16 cannot convert {model.name}: {exc}") from exc
    onnx.save_model(converted.model, str(output))


def single_input_name(model: Path) -> str:
    import onnx

    loaded = onnx.load(str(model), load_external_data=False)
    initializers = {t.name for t in loaded.graph.initializer}
    names = [i.name for i in loaded.graph.input if i.name not in initializers]
    if len(names) != 1:
        raise BackendError(
            f"onnxruntime: {model.name} has {len(names)} inputs; calibration data feeds a single input",
            hint="give a model with one input",
        )
    return str(names[0])


class CalibrationReader:
    """onnxruntime.quantization's CalibrationDataReader over the calibration rows, one batch of one at a time."""

    def __init__(self, name: str, calibration: Calibration) -> None:
        self._name = name
        self._batches = calibration.batches()
        self._pending: Iterator[np.ndarray] = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._pending, None)
        return None if batch is None else {self._name: batch}

    def rewind(self) -> None:
        self._pending = iter(self._batches)

    def __iter__(self) -> CalibrationReader:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        feed = self.get_next()
        if feed is None:
            raise StopIteration
        return feed


def layer_divergence(reference: Path, optimized: Path, rows: Calibration, workdir: Path) -> list[LayerDivergence]:
    """ONNX Runtime's QDQ debugging helpers: every activation of the FP32 model that the quantized model computes
    too, with its signal to quantization noise ratio and cosine similarity over the rows. A quantized tensor is
    taken as the next operator reads it, after its QuantizeLinear/DequantizeLinear pair (the quantizer may fold
    a Relu into that pair: before it, the tensor is still the convolution's output)."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    name = single_input_name(reference)
    augmented = {}
    for label, path in (("float", reference), ("qdq", optimized)):
        augmented[label] = workdir / f"{path.stem}.{label}-activations.onnx"
        modify_model_output_intermediate_tensors(str(path), str(augmented[label]))
    activations = {
        label: collect_activations(str(path), CalibrationReader(name, rows)) for label, path in augmented.items()
    }
    matched = create_activation_matching(activations["qdq"], activations["float"])
    producers = {
        out: node.op_type
        for node in onnx.load(str(reference), load_external_data=False).graph.node
        for out in node.output
    }
    order = {tensor: index for index, tensor in enumerate(producers)}
    layers = []
    for tensor in sorted((t for t in matched if t in producers and "float" in matched[t]), key=order.__getitem__):
        pair = matched[tensor]
        seen = pair.get("post_qdq") or pair["pre_qdq"]
        quantized = np.concatenate([np.asarray(a, np.float64).ravel() for a in seen])
        exact = np.concatenate([np.asarray(a, np.float64).ravel() for a in pair["float"]])
        layers.append(
            LayerDivergence(
                tensor=tensor,
                op_type=producers[tensor],
                sqnr_db=_sqnr_db(exact, quantized),
                cosine_similarity=_cosine(exact, quantized),
            )
        )
    return layers


def _sqnr_db(exact: np.ndarray, approximate: np.ndarray) -> float | None:
    """10 log10(signal / noise); None without noise (identical tensors). An all-zero FP32 tensor with noise has
    no signal at all: the floor of float64 stands in for it, so the figure reads as very poor, not as missing."""
    noise = float(np.sum((exact - approximate) ** 2))
    if noise == 0.0:
        return None
    signal = max(float(np.sum(exact**2)), float(np.finfo(np.float64).tiny))
    return 10.0 * float(np.log10(signal / noise))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.clip(np.dot(a, b) / norm, -1.0, 1.0)) if norm > 0 else float(np.array_equal(a, b))
