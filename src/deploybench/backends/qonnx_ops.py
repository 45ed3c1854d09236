"""QONNX's quantization operators (Quant, BipolarQuant, Trunc, ...) for the ONNX reference evaluator: a
Brevitas or FINN model exported to QONNX is ONNX plus these custom operators, which `onnx.reference` does not
know. Each is evaluated by QONNX's own implementation of the operator (the package that defines them), so a
QONNX model has the same FP32 reference as any other ONNX model."""

from __future__ import annotations

from typing import Any

DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general")
"""The operator domains QONNX executes: its own, and the names Brevitas and FINN exports use for it."""


def qonnx_operators(model: Any) -> list[type]:
    """Reference-evaluator operators for every QONNX operator the model uses (none for plain ONNX); a QONNX
    model without the qonnx package is a one-line error naming the operator and the extra to install."""
    used = sorted({(node.domain, node.op_type) for node in model.graph.node if node.domain in DOMAINS})
    if not used:
        return []
    try:
        from onnx.reference.op_run import OpRun
        from qonnx.custom_op.registry import getCustomOp
    except ImportError:
        from deploybench.core.errors import ConfigurationError

        domain, op_type = used[0]
        raise ConfigurationError(
            f"the model uses the QONNX operator {op_type} ({domain}), and qonnx is not installed",
            hint="pip install 'deploybench[fpga]'",
        ) from None

    def run(self: Any, *inputs: Any, **attributes: Any) -> tuple[Any, ...]:
        node = self.onnx_node
        context = dict(zip(node.input, inputs, strict=False))
        getCustomOp(node).execute_node(context, None)
        return tuple(context[name] for name in node.output)

    return [type(op_type, (OpRun,), {"op_domain": domain, "_run": run}) for domain, op_type in used]
