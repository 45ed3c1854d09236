"""ExecuTorch on the CPU with the XNNPACK delegate: a PyTorch ExportedProgram (`.pt2`) lowered to a `.pte`
program at prepare (`to_edge_transform_and_lower` with the XNNPACK partitioner, at batch one), or a `.pte` made
by the PT2E INT8 method, run by ExecuTorch's Python runtime.

A `.pte` file does not keep its inputs' and outputs' names: the program's signature is kept beside it in
`<name>.signature.json` (with the batch axis at one, as lowered), so that the deployed outputs compare with the
FP32 program's by name. The XNNPACK thread
pool is process-wide, sized when a session opens.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from deploybench.backends.base import (
    Calibration,
    Capabilities,
    Method,
    OptimizedModel,
    Prepared,
    Probe,
    TensorSpec,
    installed_package,
)
from deploybench.backends.pytorch_program import (
    Signature,
    TorchSession,
    first_line,
    load_program,
    read_signature,
    torch_dtype,
)
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.formats import model_format
from deploybench.core.records import SettingValue

SETTINGS = {"threads": "threads of the XNNPACK thread pool (default: physical cores)"}
SIGNATURE_SUFFIX = ".signature.json"
METHODS = {
    "pt2e-int8": Method(
        "INT8 weights and activations by PT2E quantization for XNNPACK (XNNPACKQuantizer, prepare_pt2e and "
        "convert_pt2e on calibration rows), lowered to an ExecuTorch program with the XNNPACK delegate",
        {"per_channel": "one scale per output channel of each weight (default true)"},
        calibrated=True,
    ),
}


class ExecuTorchBackend:
    """ExecuTorch's runtime with the XNNPACK delegate."""

    name: ClassVar[str] = "executorch"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata (importing executorch takes seconds)."""
        return installed_package("executorch", "executorch", "executorch")

    def capabilities(self) -> Capabilities:
        """PyTorch ExportedPrograms and ExecuTorch programs in; one session at a time (one thread pool); batch one
        only (programs are lowered with static shapes, so that XNNPACK plans its memory once)."""
        return Capabilities(
            input_formats=("pytorch", "executorch"), concurrent_sessions=False, settings=SETTINGS, dynamic_batch=False
        )

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Lower an ExportedProgram to a `.pte` with the XNNPACK delegate (timed as prepare), or take a `.pte`."""
        import psutil

        resolved = resolve_settings(self.name, settings, {"threads": psutil.cpu_count(logical=False) or 1})
        if model_format(model) == "executorch":
            _signature(model)
            return Prepared(artifact=model, prepare_s=None, settings=resolved)
        program = load_program(model, self.name)
        signature = read_signature(program, model, self.name)
        started = time.perf_counter()
        artifact = lower(at_batch_one(program, signature, model), signature, workdir / f"{model.stem}.pte", model)
        return Prepared(
            artifact=artifact,
            prepare_s=time.perf_counter() - started,
            settings=resolved,
            converter=f"executorch {_version()} to_edge_transform_and_lower, XnnpackPartitioner",
        )

    def open_session(self, prepared: Prepared) -> TorchSession:
        """Load the program's `forward` method into the runtime, with the thread pool sized."""
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
        from executorch.runtime import Runtime

        # Sized before the method loads: the XNNPACK delegate keeps the pool it was set up with, and a pool
        # replaced after that is freed under it (crashes or hangs on the first inference, ExecuTorch 1.5.1).
        _unsafe_reset_threadpool(int(prepared.settings["threads"]))
        try:
            program = Runtime.get().load_program(str(prepared.artifact))
            method = program.load_method("forward")
        except Exception as exc:
            raise BackendError(f"executorch cannot load {prepared.artifact}: {first_line(exc)}") from exc
        return TorchSession(self.name, _Forward(program, method), _signature(prepared.artifact), _plain)

    def optimization_methods(self) -> dict[str, Method]:
        """PT2E INT8 for XNNPACK."""
        return METHODS

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The ExportedProgram quantized by PT2E on the calibration rows and lowered to a `.pte`."""
        import torch
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        if model_format(model) != "pytorch":
            raise BackendError(
                f"executorch: {model.name}: PT2E starts from a PyTorch ExportedProgram", hint="give the .pt2 model"
            )
        if calibration is None:
            raise BackendError("executorch pt2e-int8 needs calibration data", hint="give --data")
        resolved = resolve_settings("executorch pt2e-int8", options, {"per_channel": True})
        program = load_program(model, self.name)
        signature = read_signature(program, model, self.name)
        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=bool(resolved["per_channel"]))
        )
        batches = [torch.from_numpy(batch) for batch in calibration.batches()]
        try:
            captured = torch.export.export(program.module(), (batches[0],)).module()
            prepared = prepare_pt2e(captured, quantizer)
            for batch in batches:
                prepared(batch)
            quantized = torch.export.export(convert_pt2e(prepared), (batches[0],))
        except Exception as exc:
            raise BackendError(f"executorch: PT2E cannot quantize {model.name}: {first_line(exc)}") from exc
        artifact = lower(quantized, signature, workdir / f"{model.stem}.pt2e-int8.pte", model)
        tool = f"executorch {_version()} XNNPACKQuantizer, torchao {_version('torchao')} PT2E, XnnpackPartitioner"
        return OptimizedModel(artifact, resolved, tool)


def lower(program: Any, signature: Signature, path: Path, model: Path) -> Path:
    """The program lowered with the XNNPACK delegate and written as a `.pte`, its signature beside it."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    try:
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    except Exception as exc:
        raise BackendError(f"executorch cannot lower {model.name}: {first_line(exc)}") from exc
    path.write_bytes(lowered.buffer)
    path.with_suffix(SIGNATURE_SUFFIX).write_text(_batch_of_one(signature).to_json(), encoding="utf-8")
    return path


def _batch_of_one(signature: Signature) -> Signature:
    """The signature of the program lowered at batch one: the batch axis of every input and output is 1."""

    def fixed(spec: TensorSpec) -> TensorSpec:
        return replace(spec, shape=(1, *spec.shape[1:])) if spec.shape else spec

    return Signature(
        inputs=tuple(fixed(spec) for spec in signature.inputs),
        outputs=tuple(fixed(spec) for spec in signature.outputs),
        example_shapes=tuple((1, *shape[1:]) if shape else shape for shape in signature.example_shapes),
    )


def at_batch_one(program: Any, signature: Signature, model: Path) -> Any:
    """The program exported again with every dimension fixed at its example size and the batch at one, as the
    PT2E path exports it: XNNPACK plans its buffers once for static shapes."""
    import torch

    examples = tuple(
        torch.zeros((1, *shape[1:]), dtype=torch_dtype(spec.dtype))
        for spec, shape in zip(signature.inputs, signature.example_shapes, strict=True)
    )
    try:
        return torch.export.export(program.module(), examples)
    except Exception as exc:
        raise BackendError(f"executorch cannot export {model.name} at batch 1: {first_line(exc)}") from exc


def _signature(artifact: Path) -> Signature:
    kept = artifact.with_suffix(SIGNATURE_SUFFIX)
    if not kept.is_file():
        raise BackendError(
            f"executorch: {artifact.name} has no {kept.name} beside it to name its inputs and outputs",
            hint="give the .pt2 program, which deploybench lowers itself",
        )
    return Signature.from_json(kept.read_text(encoding="utf-8"))


class _Forward:
    """A loaded method called on tensors. It holds its program too: a method whose program was freed crashes
    the process on its first call (SIGSEGV, ExecuTorch 1.5.1)."""

    def __init__(self, program: Any, method: Any) -> None:
        self._program = program
        self._method = method

    def __call__(self, *tensors: Any) -> Any:
        return self._method.execute(list(tensors))


@contextlib.contextmanager
def _plain() -> Any:
    yield


def _version(distribution: str = "executorch") -> str:
    from importlib.metadata import version

    return version(distribution)
