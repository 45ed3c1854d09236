"""ONNX models for the `torch` and `torchscript` backends, converted by onnx2torch (installed in the `pytorch`
toolchain environment: it needs a torchvision that the main environment's torch cannot have).

onnx2torch turns the ONNX graph into a torch.fx GraphModule holding one torch module per ONNX node. That module
runs as it is, not through torch.export: its modules branch in Python on the values of their constant inputs
(Reshape tests `torch.any(shape == 0)` on its shape initializer), which torch.export sees as fake tensors, so
exporting fails on a data-dependent guard, strict or not, for every model with a Reshape: most real ones. So
`torch` pickles the converted module into the workdir and runs it eagerly, and `torchscript` traces and freezes
it as it does an ExportedProgram's module (the trace bakes the constants in, and is checked at other sizes of
the dynamic dimensions).

Inputs and outputs are the ONNX model's own, with their names, order and dtypes: onnx2torch names its inputs
`input_1`, ... and returns one value per node that produces graph outputs, so the converted graph's result is
rebuilt to return exactly the ONNX graph outputs, in order. The worker feeds the same named inputs to the deployed
model and to the ONNX reference evaluator and compares outputs by name. A dynamic ONNX dimension keeps its
`dim_param` name (None when it has none), as the other ONNX backends report it, so that `--dim NAME=SIZE` reaches it.
"""

from __future__ import annotations

import importlib
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from deploybench.backends.base import TensorSpec
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.pytorch_program import Signature, first_line, torch_dtype
from deploybench.core.errors import BackendError

CONVERTER = "onnx2torch"
CONVERTED_ARTIFACT = "model.onnx2torch.pt"
"""The converted module, pickled with its signature by `torch`'s prepare into the job's workdir."""
EXAMPLE_BATCH = 2
"""The size a dynamic batch axis (axis 0) gets in the example inputs a trace runs on: not 1, which a trace could
take for a fixed size (a Squeeze without axes)."""
EXAMPLE_SIZE = 32
"""The size any other dynamic dimension gets in the example inputs: large enough for a few poolings."""


@dataclass(frozen=True)
class Converted:
    """An ONNX model converted by onnx2torch: the module, its ONNX signature and the conversion's duration."""

    module: Any
    signature: Signature
    seconds: float

    def examples(self) -> list[Any]:
        """Seeded example inputs at the signature's example shapes (normal floats, zero integers and booleans)."""
        import torch

        generator = torch.Generator().manual_seed(0)
        tensors = []
        for spec, shape in zip(self.signature.inputs, self.signature.example_shapes, strict=True):
            dtype = torch_dtype(spec.dtype)
            if dtype.is_floating_point:
                tensors.append(torch.randn(shape, generator=generator).to(dtype))
            else:
                tensors.append(torch.zeros(shape, dtype=dtype))
        return tensors


def module_forward(module: Any) -> Callable[..., list[Any]]:
    """A converted module as a function of the flat ONNX inputs that returns the flat ONNX outputs."""
    return lambda *flat: list(module(*flat))


def converts_onnx() -> bool:
    """Whether onnx2torch is installed here, without importing it (it imports torch and torchvision)."""
    return find_spec(CONVERTER) is not None


def converter_name() -> str:
    """The converter of ONNX models and its version, as a record keeps it."""
    return f"{CONVERTER} {version(CONVERTER)}"


def convert_onnx(model: Path, backend: str) -> Converted:
    """The checked ONNX model at model converted by onnx2torch, its result rebuilt to the ONNX graph outputs.

    The conversion (loading the model with its weights, onnx2torch's shape inference and conversion; not the
    import of onnx2torch, with torchvision) is timed.
    onnx2torch gets the loaded model, never the path: given a path it writes a temporary file beside the model.
    A model it cannot convert is a one-line BackendError quoting it (it names a missing operator, with its
    domain and opset version).
    """
    import onnx

    check_onnx_model(model)
    signature = onnx_signature(model, backend)
    converter = importlib.import_module(CONVERTER)
    started = time.perf_counter()
    loaded = onnx.load(str(model))
    try:
        module = converter.convert(loaded, attach_onnx_mapping=True)
    except Exception as exc:
        raise BackendError(f"{backend}: {CONVERTER} cannot convert {model.name}: {first_line(exc)}") from exc
    _return_graph_outputs(module, [spec.name for spec in signature.outputs], backend, model)
    # A new module is in training mode: onnx2torch's BatchNormalization would then use the batch's statistics.
    module.eval()
    return Converted(module=module, signature=signature, seconds=time.perf_counter() - started)


def onnx_signature(model: Path, backend: str) -> Signature:
    """The ONNX graph's inputs (initializers left out) and outputs, with example shapes for a trace."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = tuple(_spec(value, backend, model) for value in graph.input if value.name not in initializers)
    outputs = tuple(_spec(value, backend, model) for value in graph.output)
    examples = tuple(
        tuple(
            d if isinstance(d, int) else EXAMPLE_BATCH if axis == 0 else EXAMPLE_SIZE for axis, d in enumerate(s.shape)
        )
        for s in inputs
    )
    return Signature(inputs=inputs, outputs=outputs, example_shapes=examples)


def save_converted(converted: Converted, path: Path) -> None:
    """Pickle the converted module with its signature to path (onnx2torch's modules are plain Python classes)."""
    import torch

    torch.save({"module": converted.module, "signature": converted.signature.to_json()}, str(path))


def load_converted(path: Path, backend: str) -> tuple[Any, Signature]:
    """The module and signature that `save_converted` wrote to path.

    The file is unpickled in full (weights_only=False): it is the job's own artifact, written by prepare into the
    job's private workdir moments before, never a file the user gives.
    """
    import torch

    try:
        saved = torch.load(str(path), weights_only=False)
    except Exception as exc:
        raise BackendError(f"{backend} cannot load the converted model {path}: {first_line(exc)}") from exc
    return saved["module"], Signature.from_json(saved["signature"])


def _return_graph_outputs(module: Any, names: list[str], backend: str, model: Path) -> None:
    """Make the GraphModule return a tuple of exactly the ONNX graph outputs, in the graph's order.

    onnx2torch returns, once each, the nodes that produce graph outputs: a node with several outputs (TopK, Split)
    comes back whole even when the graph keeps one of them. Each converted module carries its ONNX node's
    output names (`attach_onnx_mapping`), from which each graph output is found: the node's value itself, or
    its item at the output's index when the node has several (as onnx2torch indexes them), and the mapping is
    removed afterwards.
    """
    produced: dict[str, Any] = {}
    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_module":
            continue
        submodule = module.get_submodule(node.target)
        values = submodule.onnx_mapping.outputs
        del submodule.onnx_mapping
        for index, name in enumerate(values):
            if len(values) == 1:
                produced[name] = node
            elif name:
                with graph.inserting_after(node):
                    produced[name] = graph.call_function(operator.getitem, (node, index))
    missing = [name for name in names if name not in produced]
    if missing:
        raise BackendError(
            f"{backend}: {CONVERTER} cannot convert {model.name}: graph output `{missing[0]}` is computed by no node",
            hint="export the model so that every output is computed by an operator",
        )
    output = next(node for node in graph.nodes if node.op == "output")
    output.args = (tuple(produced[name] for name in names),)
    graph.eliminate_dead_code()
    graph.lint()
    module.recompile()


def _spec(value: Any, backend: str, model: Path) -> TensorSpec:
    """A TensorSpec of an ONNX value: dim_param names (or None) for dynamic dimensions, the NumPy dtype."""
    from onnx import helper

    if not value.type.HasField("tensor_type"):
        raise BackendError(f"{backend}: `{value.name}` of {model.name} is not a tensor", hint="give tensors only")
    kind = value.type.tensor_type
    try:
        dtype = helper.tensor_dtype_to_np_dtype(kind.elem_type).name
    except KeyError as exc:
        raise BackendError(f"{backend}: `{value.name}` of {model.name} has an element type NumPy lacks") from exc
    if dtype == "object":
        raise BackendError(f"{backend}: `{value.name}` of {model.name} is a string tensor, which torch cannot hold")
    shape = tuple(d.dim_value or d.dim_param or None for d in kind.shape.dim)
    return TensorSpec(name=value.name, shape=shape, dtype=dtype)
