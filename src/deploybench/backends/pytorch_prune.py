"""PyTorch's own pruning utilities (`torch.nn.utils.prune`) on an ONNX model converted by onnx2torch, exported
back to ONNX with the same inputs and outputs, so that every ONNX framework can run the pruned model.

Pruning zeroes weights; it does not remove them: the graph keeps its shapes, and only a runtime that skips
zeros (sparse kernels) turns the sparsity into speed. The record says the sparsity reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploybench.backends.base import Method, OptimizedModel
from deploybench.backends.onnx_model import read_onnx_model, require_float_weights
from deploybench.backends.pytorch_onnx import convert_onnx, converter_name
from deploybench.backends.pytorch_program import first_line
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

METHODS = {
    "prune-unstructured": Method(
        "global magnitude pruning: the smallest weights of all convolutions and linear layers set to zero "
        "(torch.nn.utils.prune.global_unstructured, L1); exported back to ONNX",
        {"amount": "share of those weights set to zero, in [0, 1) (default 0.5)"},
    ),
    "prune-channels": Method(
        "structured pruning: the output channels of each convolution and linear layer with the smallest L2 norm "
        "set to zero (torch.nn.utils.prune.ln_structured), but the last layer's (its channels are the model's "
        "outputs, such as its classes); zeroed, not removed; exported back to ONNX",
        {"amount": "share of each layer's output channels set to zero, in [0, 1) (default 0.3)"},
    ),
}
DEFAULT_AMOUNT = {"prune-unstructured": 0.5, "prune-channels": 0.3}
EXPORT_OPSET = 17


def prune(model: Path, method: str, options: dict[str, SettingValue], workdir: Path) -> OptimizedModel:
    """The ONNX model pruned by `method` and exported back to ONNX in workdir."""
    import torch
    from torch.nn.utils import prune as pruning

    resolved = resolve_settings(f"torch {method}", options, {"amount": DEFAULT_AMOUNT[method]})
    amount = float(resolved["amount"])
    if not 0.0 <= amount < 1.0:
        raise BackendError(f"torch {method}: `amount` = {amount} is outside [0, 1)", hint="give a share, e.g. 0.5")
    require_float_weights(model, "torch")
    converted = convert_onnx(model, "torch")
    module = converted.module
    layers = [
        (layer, "weight")
        for layer in module.modules()
        if isinstance(layer, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))
    ]
    if not layers:
        raise BackendError(f"torch {method}: {model.name} has no convolution or linear layer to prune")
    if method == "prune-unstructured":
        pruning.global_unstructured(layers, pruning_method=pruning.L1Unstructured, amount=amount)
        pruned = layers
    else:
        pruned = layers[:-1] if len(layers) > 1 else layers
        for layer, name in pruned:
            pruning.ln_structured(layer, name, amount=amount, n=2, dim=0)  # type: ignore[no-untyped-call]
    for layer, name in pruned:
        pruning.remove(layer, name)  # type: ignore[no-untyped-call]
    zeros = sum(int((layer.weight == 0).sum()) for layer, _ in layers)
    total = sum(layer.weight.numel() for layer, _ in layers)
    output = workdir / f"{model.stem}.{method}.onnx"
    _export(module, converted, model, output)
    notes = (
        f"{len(pruned)} of {len(layers)} convolution and linear layers pruned; {zeros} of their {total} weights "
        "are zero",
        "zeroed weights stay in the graph: a speed-up needs a runtime with sparse kernels",
        "the pruned model is exported again by torch.onnx.export, whose graph can differ from the original's "
        "(constants folded, operators fused): a latency difference may come from that, not from the zeros",
    )
    tool = f"torch {torch.__version__} torch.nn.utils.prune, {converter_name()}, torch.onnx.export"
    return OptimizedModel(output, resolved, tool, notes=notes, sparsity=zeros / total)


def _export(module: Any, converted: Any, model: Path, output: Path) -> None:
    """Export with the ONNX model's input and output names, its dynamic dimensions kept dynamic."""
    import torch

    signature = converted.signature
    dynamic = {
        spec.name: {axis: f"{spec.name}_{axis}" for axis, dim in enumerate(spec.shape) if not isinstance(dim, int)}
        for spec in (*signature.inputs, *signature.outputs)
    }
    opset = max((o.version for o in read_onnx_model(model).opset_import if o.domain in ("", "ai.onnx")), default=0)
    try:
        torch.onnx.export(
            module,
            tuple(converted.examples()),
            str(output),
            input_names=[spec.name for spec in signature.inputs],
            output_names=[spec.name for spec in signature.outputs],
            dynamic_axes={name: axes for name, axes in dynamic.items() if axes},
            opset_version=min(max(opset, 13), EXPORT_OPSET),
            dynamo=False,
        )
    except Exception as exc:
        raise BackendError(f"torch.onnx.export cannot export the pruned {model.name}: {first_line(exc)}") from exc
