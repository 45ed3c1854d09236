"""Quantization-aware training with Brevitas, exported to QONNX (the front end of FINN and hls4ml), inside the
toolchain environment: the trained network's convolutions, linear layers and ReLUs become Brevitas's quantized
ones (the trained weights kept), the network is trained again on its own training data with the quantizers in the
loop, and the result is written as QONNX. What it costs is measured, not assumed: accuracy before and after on
the held-out rows, and how the exported file's QONNX execution agrees with the trained Brevitas network."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deploybench.zoo.builders.base import Model


class Qat(BaseModel):
    """A recipe's quantization-aware training: bit widths and the fine-tuning run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight_bits: int = Field(default=8, ge=2, le=16, description="Bits of every weight (per-tensor scale).")
    activation_bits: int = Field(
        default=8, ge=2, le=16, description="Bits of the network's input and of every ReLU's output."
    )
    steps: int = Field(default=300, ge=0, description="Fine-tuning steps with the quantizers in the loop.")
    learning_rate: float = Field(default=1e-4, gt=0, description="Learning rate of the fine-tuning.")


def export_qonnx(model: Model, qat: Qat, inputs: dict[str, Any], out: Path) -> tuple[str, dict[str, float]]:
    """The trained network quantized, fine-tuned and written to out as QONNX; the exporter as the record says it
    and the metrics measured on the held-out rows."""
    import brevitas
    import torch
    from brevitas.export import export_qonnx as brevitas_export

    if model.fine_tune is None:
        raise ValueError("its builder gives no way to train it again (Model.fine_tune), which QAT needs")
    quantized = quantized_copy(model.module, qat.weight_bits, qat.activation_bits)
    model.fine_tune(quantized, qat.steps, qat.learning_rate)
    quantized.eval()
    examples = tuple(inputs.values())
    brevitas_export(quantized, input_t=examples[0] if len(examples) == 1 else examples, export_path=str(out))
    _inline_weights(out)
    metrics = {**_inference_cost(out), **_measured(model, quantized, out)}
    exporter = (
        f"Brevitas {brevitas.__version__} QAT (W{qat.weight_bits}A{qat.activation_bits}, {qat.steps} steps at "
        f"lr {qat.learning_rate:g}) exported to QONNX from torch {torch.__version__}"
    )
    return exporter, metrics


def _inline_weights(path: Path) -> None:
    """Rewrite the exported file with its weights inside it: torch's exporter puts them in a `.data` file beside
    it, which a copy of the model alone would lose."""
    import onnx

    proto = onnx.load(str(path))
    onnx.save(proto, str(path))
    path.with_name(f"{path.name}.data").unlink(missing_ok=True)


def quantized_copy(module: Any, weight_bits: int, activation_bits: int) -> Any:
    """A copy of module whose Conv2d, Linear and ReLU layers are Brevitas's quantized layers with the same
    weights; the first linear layer also quantizes its input, so every multiplication is on integers.

    Scales are powers of two (Brevitas's fixed-point quantizers) and biases integers at the scale of their
    layer's accumulator (Int32Bias): a fixed-point FPGA design such as hls4ml's then holds every value exactly.
    Seen here on the digits CNN (W8A8, 32 held-out digits): with Brevitas's default float scales, hls4ml's C
    simulation missed QONNX's execution by up to 7.8 on the logits; with power-of-two scales and float biases,
    by 0.13; with both, it matches bit for bit."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFixedPoint as SignedInput
    from brevitas.quant import Int8WeightPerTensorFixedPoint as Weights
    from brevitas.quant import Int32Bias
    from brevitas.quant import Uint8ActPerTensorFixedPoint as Unsigned
    from torch import nn

    copied = copy.deepcopy(module)
    first = [True]
    weights = {"weight_quant": Weights, "weight_bit_width": weight_bits, "bias_quant": Int32Bias}

    def quantized(child: Any) -> Any:
        if isinstance(child, nn.ReLU):
            return qnn.QuantReLU(act_quant=Unsigned, bit_width=activation_bits, return_quant_tensor=True)
        if not isinstance(child, (nn.Conv2d, nn.Linear)):
            return None
        given = {"input_quant": SignedInput, "input_bit_width": activation_bits} if first[0] else {}
        first[0] = False
        bias = child.bias is not None
        if isinstance(child, nn.Conv2d):
            layer = qnn.QuantConv2d(
                child.in_channels,
                child.out_channels,
                child.kernel_size,
                stride=child.stride,
                padding=child.padding,
                dilation=child.dilation,
                groups=child.groups,
                bias=bias,
                **weights,
                **given,
            )
        else:
            layer = qnn.QuantLinear(child.in_features, child.out_features, bias=bias, **weights, **given)
        layer.load_state_dict(child.state_dict(), strict=False)
        return layer

    def swap(parent: Any) -> None:
        for name, child in parent.named_children():
            replacement = quantized(child)
            if replacement is None:
                swap(child)
            else:
                setattr(parent, name, replacement)

    swap(copied)
    if first[0]:
        raise ValueError("it has no Conv2d or Linear layer to quantize")
    return copied


def _inference_cost(path: Path) -> dict[str, float]:
    """What QONNX's own cost analysis counts in the file, for one inference: multiply-accumulates, bit operations
    (each MAC weighted by its operands' bit widths) and the weights' memory in bits, zeros included (a design
    may drop zero weights): counts, not a prediction of any FPGA's resources."""
    import warnings

    from qonnx.util.inference_cost import inference_cost

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cost = inference_cost(str(path), output_json=None, output_onnx=None, preprocess=True, discount_sparsity=False)
        totals = cost["total_cost"]
    return {
        "qonnx_macs": float(totals["total_macs"]),
        "qonnx_bops": float(totals["total_bops"]),
        "qonnx_weight_bits": float(totals["total_mem_w_bits"]),
    }


def _measured(model: Model, quantized: Any, path: Path) -> dict[str, float]:
    """Accuracy of the trained and the quantized networks on the held-out rows (when labelled), and how the QONNX
    file, executed by the ONNX reference with QONNX's operators, agrees with the quantized network."""
    import numpy as np
    import onnx
    import torch
    from onnx.reference import ReferenceEvaluator

    from deploybench.backends.qonnx_ops import qonnx_operators

    if model.data is None:
        return {}
    rows = model.data["x"]
    with torch.no_grad():
        trained = model.module(rows).numpy()
        fine_tuned = quantized(rows).numpy()
    graph = onnx.load(str(path))
    evaluator: Any = ReferenceEvaluator(graph, new_ops=qonnx_operators(graph))
    name = graph.graph.input[0].name
    executed = np.concatenate([evaluator.run(None, {name: row[None].numpy()})[0] for row in rows])
    metrics = {
        "qonnx_agreement_top1": float(np.mean(executed.argmax(1) == fine_tuned.argmax(1))),
        "qonnx_max_abs_difference": float(np.abs(executed - fine_tuned).max()),
    }
    if "y" in model.data:
        labels = model.data["y"].numpy()
        metrics["fp32_held_out_accuracy"] = float(np.mean(trained.argmax(1) == labels))
        metrics["qat_held_out_accuracy"] = float(np.mean(fine_tuned.argmax(1) == labels))
    return metrics
