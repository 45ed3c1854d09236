"""What the PyTorch backends share: reading a `.pt2` ExportedProgram, its signature, the thread pool, and a
session that binds NumPy feeds into tensors it owns.

A `.pt2` file is written by `torch.export.save(torch.export.export(module, example_args), path)`: it holds the
program (an ATen graph with its weights) and the example inputs it was exported with. Inputs and outputs are
the program's user inputs and outputs, in the order of its flattened call; their names come from the graph
signature.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploybench.backends.base import TensorSpec
from deploybench.core.errors import BackendError

if TYPE_CHECKING:
    import numpy as np

EXPORT_HINT = "write it with torch.export.save(torch.export.export(module, example_args), path)"


@dataclass(frozen=True)
class Signature:
    """The program's user inputs and outputs (None for a dynamic dimension) and its example inputs' shapes."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    example_shapes: tuple[tuple[int, ...], ...]

    def to_json(self) -> str:
        """The signature as JSON, to keep beside an artifact that does not remember it (a TorchScript file)."""
        return json.dumps(
            {
                "inputs": [_spec_json(s) for s in self.inputs],
                "outputs": [_spec_json(s) for s in self.outputs],
                "example_shapes": [list(s) for s in self.example_shapes],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Signature:
        """The signature that `to_json` wrote."""
        data = json.loads(text)
        return cls(
            inputs=tuple(_spec(s) for s in data["inputs"]),
            outputs=tuple(_spec(s) for s in data["outputs"]),
            example_shapes=tuple(tuple(s) for s in data["example_shapes"]),
        )


def load_program(path: Path, backend: str) -> Any:
    """The ExportedProgram saved at path; a BackendError naming the file when it is not one.

    torch.export.load logs a traceback of its own before raising on a bad file; that log is silenced here,
    because the error raised says the same thing in one line.
    """
    import torch

    logger = logging.getLogger("torch.export")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        program = torch.export.load(str(path))
    except Exception as exc:
        raise BackendError(
            f"{backend} cannot read {path}: it is not a PyTorch ExportedProgram ({type(exc).__name__}: "
            f"{first_line(exc)})",
            hint=EXPORT_HINT,
        ) from exc
    finally:
        logger.setLevel(level)
    if not isinstance(program, torch.export.ExportedProgram):
        raise BackendError(
            f"{backend}: {path} holds a {type(program).__name__}, not an ExportedProgram", hint=EXPORT_HINT
        )
    return program


def read_signature(program: Any, path: Path, backend: str) -> Signature:
    """The user inputs and outputs of program (loaded from path); non-tensor inputs or outputs are refused.

    Names are the graph signature's; where they are missing or repeated (a tensor returned twice), every
    tensor of that side gets a positional name instead (`input0`, ..., `output0`, ...).
    """
    from torch.export.graph_signature import InputKind, OutputKind, TensorArgument

    nodes = {node.name: node for node in program.graph.nodes}
    specs = program.graph_signature
    user = [s.arg for s in specs.input_specs if s.kind == InputKind.USER_INPUT]
    for arg in user:
        if not isinstance(arg, TensorArgument):
            raise BackendError(
                f"{backend}: {path} takes a non-tensor input `{getattr(arg, 'name', arg)}`",
                hint="deploybench feeds tensors only: export the program with its other arguments fixed",
            )
    results = [s.arg for s in specs.output_specs if s.kind == OutputKind.USER_OUTPUT]
    for index, arg in enumerate(results):
        if not isinstance(arg, TensorArgument):
            raise BackendError(
                f"{backend}: output {index} of {path} is not a tensor ({type(arg).__name__})",
                hint="deploybench compares tensors only: return tensors from the exported module",
            )
    input_names = _names([arg.name for arg in user], "input")
    output_names = _names(list(specs.user_outputs), "output")
    inputs = tuple(
        _tensor_spec(name, nodes[arg.name].meta["val"], backend, path)
        for name, arg in zip(input_names, user, strict=True)
    )
    outputs = tuple(
        _tensor_spec(name, nodes[arg.name].meta["val"], backend, path)
        for name, arg in zip(output_names, results, strict=True)
    )
    examples = example_tensors(program, len(inputs))
    shapes = tuple(
        tuple(e.shape) if e is not None else tuple(1 if d is None else int(d) for d in s.shape)
        for e, s in zip(examples, inputs, strict=True)
    )
    return Signature(inputs=inputs, outputs=outputs, example_shapes=shapes)


def example_tensors(program: Any, count: int) -> list[Any]:
    """The program's flattened example inputs, or `count` Nones when it was saved without them."""
    from torch.utils import _pytree as pytree

    examples = program.example_inputs
    if examples is None:
        return [None] * count
    leaves = pytree.tree_leaves(examples)
    return leaves if len(leaves) == count else [None] * count


def flat_forward(program: Any, module: Any) -> Callable[..., list[Any]]:
    """module (the program's `module()`, possibly converted) as a function of the flat user inputs that returns
    the flat user outputs: the calling convention every PyTorch session uses."""
    from torch.utils import _pytree as pytree

    in_spec = program.call_spec.in_spec

    def forward(*flat: Any) -> list[Any]:
        args, kwargs = pytree.tree_unflatten(list(flat), in_spec)
        return list(pytree.tree_leaves(module(*args, **kwargs)))

    return forward


def physical_cores() -> int:
    """The default size of PyTorch's thread pool: the physical cores."""
    import psutil

    return psutil.cpu_count(logical=False) or 1


def set_threads(threads: int, backend: str) -> int:
    """Size PyTorch's intra-op thread pool (process-wide) and return the size it reports back."""
    import torch

    if threads < 1:
        raise BackendError(f"{backend}: `threads` = {threads} must be at least 1")
    torch.set_num_threads(threads)
    return int(torch.get_num_threads())


def torch_dtype(name: str) -> Any:
    """The torch dtype of a NumPy dtype name."""
    import numpy as np
    import torch

    return torch.from_numpy(np.empty(0, dtype=name)).dtype


class TorchSession:
    """Runs a flat forward function on tensors it owns, under a context (inference mode, threads, determinism).

    `bind` copies the feeds into tensors allocated once at the example inputs' shapes (resized when a batch
    differs), so that `run` is the forward call alone. Every output handed out is a NumPy copy in the
    signature's dtype, so later calls never overwrite it.
    """

    def __init__(
        self,
        backend: str,
        forward: Callable[..., Sequence[Any]],
        signature: Signature,
        context: Callable[[], contextlib.AbstractContextManager[Any]],
        run_dtypes: Sequence[Any] | None = None,
    ) -> None:
        import torch

        self._backend = backend
        self._forward: Callable[..., Sequence[Any]] | None = forward
        self._signature = signature
        self._context = context
        self._run_dtypes = list(run_dtypes or [torch_dtype(s.dtype) for s in signature.inputs])
        self._output_dtypes = [torch_dtype(s.dtype) for s in signature.outputs]
        self._bound = [
            torch.empty(shape, dtype=dtype)
            for shape, dtype in zip(signature.example_shapes, self._run_dtypes, strict=True)
        ]
        self._result: Sequence[Any] | None = None

    def inputs(self) -> list[TensorSpec]:
        """Name, shape (None for a dynamic dimension) and dtype of each user input."""
        return list(self._signature.inputs)

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy the feeds into the session's own input tensors, resizing them when a shape changed."""
        import torch

        for tensor, feed in zip(self._bound, self._checked(feeds), strict=True):
            if tuple(tensor.shape) != feed.shape:
                tensor.resize_(feed.shape)
            tensor.copy_(torch.from_numpy(feed))
        self._result = None

    def run(self) -> None:
        """One forward call on the bound tensors."""
        with self._context():
            self._result = self._call(*self._bound)

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last run, copied into NumPy arrays."""
        if self._result is None:
            raise BackendError(f"{self._backend}: no outputs yet", hint="bind inputs and run first")
        return self._numpy(self._result)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in (into new tensors: the bound ones are left alone), run, copy out; not thread-safe."""
        import torch

        tensors = [
            torch.from_numpy(feed).to(dtype, copy=True)
            for feed, dtype in zip(self._checked(feeds), self._run_dtypes, strict=True)
        ]
        with self._context():
            return self._numpy(self._call(*tensors))

    def close(self) -> None:
        """Drop the module, the bound tensors and the last outputs."""
        self._forward = None
        self._bound = []
        self._result = None

    def _call(self, *tensors: Any) -> Sequence[Any]:
        if self._forward is None:
            raise BackendError(f"{self._backend}: the session is closed", hint="open a new session")
        return self._forward(*tensors)

    def _checked(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The feeds in input order, as writable arrays of the inputs' dtypes (torch.from_numpy needs both)."""
        import numpy as np

        arrays = []
        for spec in self._signature.inputs:
            if spec.name not in feeds:
                raise BackendError(f"{self._backend}: no feed for input `{spec.name}`", hint=f"give {spec.name!r}")
            array = feeds[spec.name]
            if array.dtype.name != spec.dtype:
                raise BackendError(
                    f"{self._backend}: input `{spec.name}` takes {spec.dtype}, the feed is {array.dtype.name}"
                )
            writable = array.flags.writeable and all(stride >= 0 for stride in array.strides)
            arrays.append(array if writable else np.array(array, order="C"))
        return arrays

    def _numpy(self, results: Sequence[Any]) -> dict[str, np.ndarray]:
        import torch

        if isinstance(results, torch.Tensor):
            results = [results]
        return {
            spec.name: tensor.detach().to(dtype, copy=True).numpy()
            for spec, tensor, dtype in zip(self._signature.outputs, results, self._output_dtypes, strict=True)
        }


@contextlib.contextmanager
def inference() -> Iterator[None]:
    """torch.inference_mode: no autograd bookkeeping, as a deployment runs."""
    import torch

    with torch.inference_mode():
        yield


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (PyTorch's run to many lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__


def _tensor_spec(name: str, value: Any, backend: str, path: Path) -> TensorSpec:
    """A TensorSpec from a graph node's fake tensor: symbolic dimensions become None."""
    shape = tuple(d if isinstance(d, int) else None for d in value.shape)
    return TensorSpec(name=name, shape=shape, dtype=_numpy_dtype(value.dtype, name, backend, path))


def _numpy_dtype(dtype: Any, name: str, backend: str, path: Path) -> str:
    import torch

    try:
        return str(torch.empty(0, dtype=dtype).numpy().dtype.name)
    except TypeError as exc:
        raise BackendError(
            f"{backend}: `{name}` of {path} is {dtype}, which NumPy has no dtype for",
            hint="export the program with inputs and outputs of NumPy types (e.g. cast bfloat16 to float32)",
        ) from exc


def _names(found: list[Any], prefix: str) -> list[str]:
    """found, when every name is a distinct non-empty string; positional names otherwise."""
    if all(isinstance(n, str) and n for n in found) and len(set(found)) == len(found):
        return [str(n) for n in found]
    return [f"{prefix}{i}" for i in range(len(found))]


def _spec_json(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def _spec(data: dict[str, Any]) -> TensorSpec:
    return TensorSpec(name=data["name"], shape=tuple(data["shape"]), dtype=data["dtype"])
