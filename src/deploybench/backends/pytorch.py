"""PyTorch on the CPU, from a `.pt2` ExportedProgram: eager, TorchScript, and the reference evaluator.

- `torch` runs the program's `module()` eagerly under `torch.inference_mode()`.
- `torchscript` traces that module on the program's example inputs, freezes the trace (weights folded in as
  constants) and, when the session opens, optionally runs `torch.jit.optimize_for_inference` on it.
- `torch-reference` runs the program eagerly on one thread with deterministic algorithms, in float64 when the
  program is a float32 one that runs so: the reference that PyTorch deployments are compared with.

`torch` and `torchscript` also take ONNX models where onnx2torch is installed (the `pytorch` toolchain
environment): converted to a torch.fx module that runs in place of the program's module (`pytorch_onnx.py`
says why not through torch.export), with the ONNX model's inputs and outputs. `torch-reference` does not: ONNX
models are checked against `onnx-reference`.

PyTorch's intra-op thread pool is process-wide: a session sizes it when it opens (the worker runs one job, so
one session, per process) and prepare records the size PyTorch reports back.
"""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from deploybench.backends import pytorch_prune
from deploybench.backends.base import (
    Calibration,
    Capabilities,
    Method,
    OptimizedModel,
    Prepared,
    Probe,
    installed_package,
)
from deploybench.backends.pytorch_onnx import (
    CONVERTED_ARTIFACT,
    convert_onnx,
    converter_name,
    converts_onnx,
    load_converted,
    module_forward,
    save_converted,
)
from deploybench.backends.pytorch_program import (
    Signature,
    TorchSession,
    example_tensors,
    first_line,
    flat_forward,
    inference,
    load_program,
    physical_cores,
    read_signature,
    set_threads,
    torch_dtype,
)
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.formats import model_format
from deploybench.core.records import SettingValue

THREADS = "intra-op threads of PyTorch's pool (default: physical cores); the size PyTorch reports back is recorded"
SETTINGS = {"threads": THREADS}
TORCHSCRIPT_SETTINGS = {
    "threads": THREADS,
    "optimize": "run torch.jit.optimize_for_inference on the frozen trace when a session opens (default true)",
}
PRECISIONS = ("auto", "float64", "native")
REFERENCE_SETTINGS = {
    "precision": "auto (default): float64 when the program is a float32 one that runs widened, native otherwise; "
    "float64; or native (the program's own dtypes). The precision that runs is recorded",
}
TORCHSCRIPT_ARTIFACT = "model.torchscript.pt"
SIGNATURE_ENTRY = "deploybench/signature.json"
"""The program's signature, kept inside the TorchScript archive: the trace takes and returns flat tensors."""


class TorchBackend:
    """PyTorch eager: the ExportedProgram's module, or an ONNX model's converted one, under inference mode."""

    name: ClassVar[str] = "torch"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata: importing torch takes a second."""
        return installed_package("torch", "torch", "torch")

    def capabilities(self) -> Capabilities:
        """PyTorch ExportedPrograms in, and ONNX where onnx2torch is installed; one session at a time (the thread
        pool is process-wide)."""
        return Capabilities(input_formats=_formats(), concurrent_sessions=False, settings=SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Size the thread pool, then check that model is an ExportedProgram of tensors (nothing to convert), or
        convert an ONNX model with onnx2torch (timed as the prepare step) and save the module in workdir."""
        resolved = resolve_settings(self.name, settings, {"threads": physical_cores()})
        resolved["threads"] = set_threads(int(resolved["threads"]), self.name)
        if model_format(model) == "onnx":
            converted = convert_onnx(model, self.name)
            artifact = workdir / CONVERTED_ARTIFACT
            save_converted(converted, artifact)
            return Prepared(
                artifact=artifact, prepare_s=converted.seconds, settings=resolved, converter=converter_name()
            )
        read_signature(load_program(model, self.name), model, self.name)
        return Prepared(artifact=model, prepare_s=None, settings=resolved)

    def open_session(self, prepared: Prepared) -> TorchSession:
        """Load the program and unlift it into a module (or load the converted module) and size the thread pool."""
        if prepared.artifact.name == CONVERTED_ARTIFACT:
            module, signature = load_converted(prepared.artifact, self.name)
            set_threads(int(prepared.settings["threads"]), self.name)
            return TorchSession(self.name, module_forward(module), signature, inference)
        program = load_program(prepared.artifact, self.name)
        signature = read_signature(program, prepared.artifact, self.name)
        set_threads(int(prepared.settings["threads"]), self.name)
        return TorchSession(self.name, flat_forward(program, program.module()), signature, inference)

    def optimization_methods(self) -> dict[str, Method]:
        """Unstructured and channel pruning of an ONNX model, where onnx2torch is installed."""
        return pytorch_prune.METHODS if converts_onnx() else {}

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The ONNX model pruned by torch.nn.utils.prune and exported back to ONNX."""
        if model_format(model) != "onnx":
            raise BackendError(f"torch: {model.name}: pruning starts from an ONNX model", hint="give the .onnx model")
        return pytorch_prune.prune(model, method, options, workdir)


class TorchScriptBackend:
    """TorchScript: the program's (or the converted ONNX model's) module traced on example inputs and frozen;
    optimized for inference."""

    name: ClassVar[str] = "torchscript"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata: importing torch takes a second."""
        return installed_package("torch", "torch", "torch")

    def capabilities(self) -> Capabilities:
        """PyTorch ExportedPrograms in, and ONNX where onnx2torch is installed; one session at a time (the thread
        pool is process-wide)."""
        return Capabilities(input_formats=_formats(), concurrent_sessions=False, settings=TORCHSCRIPT_SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Trace the program's module on its example inputs (an ONNX model: its onnx2torch conversion, on seeded
        inputs), freeze the trace and save it in workdir.

        `prepare_s` covers the conversion of an ONNX model, the trace (with its check on inputs whose dynamic
        dimensions are one larger) and the freeze. optimize_for_inference runs when a session opens instead: the
        MKLDNN constants it makes cannot be saved and loaded back (torch 2.13).
        """
        import torch

        defaults: dict[str, SettingValue] = {"threads": physical_cores(), "optimize": True}
        resolved = resolve_settings(self.name, settings, defaults)
        resolved["threads"] = set_threads(int(resolved["threads"]), self.name)
        if model_format(model) == "onnx":
            converted = convert_onnx(model, self.name)
            signature = converted.signature
            forward = module_forward(converted.module)
            start = time.perf_counter()
            frozen = _trace_and_freeze(converted.module, forward, converted.examples(), signature, model)
            prepare_s = converted.seconds + time.perf_counter() - start
            converter = converter_name()
        else:
            program = load_program(model, self.name)
            signature = read_signature(program, model, self.name)
            start = time.perf_counter()
            frozen = _trace_program(program, signature, model)
            prepare_s = time.perf_counter() - start
            converter = None
        artifact = workdir / TORCHSCRIPT_ARTIFACT
        with _jit_warnings():
            torch.jit.save(frozen, str(artifact), _extra_files={SIGNATURE_ENTRY: signature.to_json()})
        return Prepared(artifact=artifact, prepare_s=prepare_s, settings=resolved, converter=converter)

    def open_session(self, prepared: Prepared) -> TorchSession:
        """Load the frozen trace, optimize it for inference when asked, and size the thread pool."""
        import torch

        extra: dict[str, Any] = {SIGNATURE_ENTRY: b""}
        with _jit_warnings():
            try:
                module = torch.jit.load(str(prepared.artifact), _extra_files=extra)  # type: ignore[no-untyped-call]
            except Exception as exc:
                raise BackendError(f"torchscript cannot load {prepared.artifact}: {first_line(exc)}") from exc
            if prepared.settings["optimize"]:
                try:
                    module = torch.jit.optimize_for_inference(module)
                except Exception as exc:
                    raise BackendError(
                        f"torchscript: optimize_for_inference fails on {prepared.artifact}: {first_line(exc)}",
                        hint="set optimize=false",
                    ) from exc
        set_threads(int(prepared.settings["threads"]), self.name)
        signature = Signature.from_json(extra[SIGNATURE_ENTRY].decode("utf-8"))
        return TorchSession(self.name, module, signature, inference)


class TorchReferenceBackend:
    """The reference for PyTorch programs: the program's module run eagerly, on one thread, deterministically.

    It runs in float64 when the program is a float32 one (every floating input, output, weight and constant
    float32) whose module, converted with `.double()`, runs on the example inputs and returns float64 where the
    program returns float32: rounding then comes from the final cast back to float32 alone. Otherwise (other
    floating dtypes, a float32 constant the conversion misses, a cast inside the graph) it runs in the
    program's own dtypes. Outputs always have the program's dtypes. The precision used is the `precision`
    setting prepare resolves.
    """

    name: ClassVar[str] = "torch-reference"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata: importing torch takes a second."""
        return installed_package("torch", "torch", "torch")

    def capabilities(self) -> Capabilities:
        """PyTorch ExportedPrograms in; a reference, not a deployment."""
        return Capabilities(
            input_formats=("pytorch",), concurrent_sessions=False, settings=REFERENCE_SETTINGS, deployment=False
        )

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Check the program and resolve the precision: `auto` becomes float64 when a widened run works."""
        resolved = resolve_settings(self.name, settings, {"precision": "auto"})
        precision = resolved["precision"]
        if precision not in PRECISIONS:
            raise BackendError(
                f"torch-reference: `precision` = {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}"
            )
        program = load_program(model, self.name)
        signature = read_signature(program, model, self.name)
        if precision != "native":
            obstacle = _float64_obstacle(program, signature)
            if obstacle is not None and precision == "float64":
                raise BackendError(f"torch-reference cannot run {model} in float64: {obstacle}", hint="use native")
            precision = "native" if obstacle else "float64"
        resolved["precision"] = precision
        return Prepared(artifact=model, prepare_s=None, settings=resolved)

    def open_session(self, prepared: Prepared) -> TorchSession:
        """Load the program and unlift it into a module, converted to float64 when that is the precision."""
        program = load_program(prepared.artifact, self.name)
        signature = read_signature(program, prepared.artifact, self.name)
        module = program.module()
        run_dtypes = None
        if prepared.settings["precision"] == "float64":
            module = module.double()
            run_dtypes = [_widened(torch_dtype(spec.dtype)) for spec in signature.inputs]
        return TorchSession(self.name, flat_forward(program, module), signature, _reference_mode, run_dtypes)


def _formats() -> tuple[str, ...]:
    """What `torch` and `torchscript` take: ExportedPrograms, and ONNX models where onnx2torch converts them."""
    return ("pytorch", "onnx") if converts_onnx() else ("pytorch",)


def _trace_program(program: Any, signature: Signature, model: Path) -> Any:
    """The program's module traced on the program's example inputs and frozen."""
    examples = example_tensors(program, len(signature.inputs))
    if any(example is None for example in examples):
        raise BackendError(
            f"torchscript: {model} was saved without example inputs to trace it on",
            hint="export it with torch.export.export(module, example_args) and save that program",
        )
    module = program.module()
    return _trace_and_freeze(module, flat_forward(program, module), examples, signature, model)


def _trace_and_freeze(
    module: Any, forward: Callable[..., list[Any]], examples: list[Any], signature: Signature, model: Path
) -> Any:
    """forward (module as a function of flat tensors) traced on examples and frozen, taking and returning flat
    tensors.

    The trace is checked on the examples with every dynamic dimension one larger: a size the trace fixed (a view
    whose shape the graph computes from an input's) fails that check here, not at a later batch.
    """
    import torch
    from torch.jit._trace import TracerWarning, TracingCheckError

    class Flat(torch.nn.Module):
        """The module behind positional tensors in and a tuple of tensors out."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *flat: Any) -> tuple[Any, ...]:
            return tuple(forward(*flat))

    check = _grown(examples, signature, forward)
    with _jit_warnings():
        try:
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                Flat(), tuple(examples), check_inputs=None if check is None else [check]
            )
        except (TracerWarning, TracingCheckError) as exc:
            raise BackendError(
                f"torchscript: the trace of {model} does not hold at other sizes of its dynamic dimensions "
                f"({_check_failure(exc)})",
                hint="the trace fixed a size that the program computes from an input's shape: use the `torch` backend",
            ) from exc
        except Exception as exc:
            raise BackendError(f"torchscript cannot trace {model}: {type(exc).__name__}: {first_line(exc)}") from exc
        traced.eval()
        try:
            return torch.jit.freeze(traced)
        except Exception as exc:
            raise BackendError(f"torchscript cannot freeze the trace of {model}: {first_line(exc)}") from exc


def _check_failure(exc: Exception) -> str:
    """The telling line of a failed trace check: a mismatch's detail, the exception the trace raised, or the
    graph difference (the messages run to whole tracebacks and graph dumps)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"\w+(Error|Exception): ", line)]
    differed = [line for line in lines if line.startswith("ERROR: ")]
    return (raised or differed or lines[-1:] or [type(exc).__name__])[0].rstrip(".")


def _grown(examples: list[Any], signature: Signature, forward: Any) -> tuple[Any, ...] | None:
    """The example inputs with each dynamic dimension (None, or an ONNX dimension's name) one larger (values
    repeated), if the program takes them."""
    import torch

    if all(isinstance(dim, int) for spec in signature.inputs for dim in spec.shape):
        return None
    grown = []
    try:
        for example, spec in zip(examples, signature.inputs, strict=True):
            for axis, dim in enumerate(spec.shape):
                if not isinstance(dim, int):
                    size = example.shape[axis] + 1
                    example = torch.cat([example, example], axis).narrow(axis, 0, size)
            grown.append(example)
        with torch.inference_mode():
            forward(*grown)
    except Exception:  # a range the program was exported with excludes the larger size: check the examples
        return None
    return tuple(grown)


@contextlib.contextmanager
def _jit_warnings() -> Iterator[None]:
    """Silence torch.jit's deprecation notices and the trace warnings of the module's input guards; a traced
    output that does not match the module's becomes an error."""
    from torch.jit._trace import TracerWarning

    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):  # torch 2.13 and torch 2.14
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=category)
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean", category=TracerWarning)
        warnings.filterwarnings("error", message="Output nr", category=TracerWarning)
        yield


@contextlib.contextmanager
def _reference_mode() -> Iterator[None]:
    """Inference mode on one thread with deterministic algorithms (a warning where an operator has none);
    the process's own thread count and determinism come back afterwards."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


def _float64_obstacle(program: Any, signature: Signature) -> str | None:
    """Why the program cannot serve as a float64 reference, or None when its widened module runs in float64."""
    import torch

    floating = [torch_dtype(spec.dtype) for spec in (*signature.inputs, *signature.outputs)]
    state = [*program.state_dict.values(), *program.constants.values()]
    floating += [t.dtype for t in state if isinstance(t, torch.Tensor)]
    floating = [dtype for dtype in floating if dtype.is_floating_point]
    if not floating:
        return "it has no floating-point tensors"
    others = sorted({str(dtype) for dtype in floating if dtype != torch.float32})
    if others:
        return f"it is not a float32 program (it has {', '.join(others)} tensors)"
    examples = example_tensors(program, len(signature.inputs))
    if any(example is None for example in examples):
        return "it was saved without example inputs to try a float64 run on"
    forward = flat_forward(program, program.module().double())
    try:
        with _reference_mode():
            results = forward(*[example.to(_widened(example.dtype)) for example in examples])
    except Exception as exc:
        return f"its float64 run fails ({type(exc).__name__}: {first_line(exc)})"
    for spec, result in zip(signature.outputs, results, strict=True):
        if spec.dtype == "float32" and result.dtype != torch.float64:
            return f"output `{spec.name}` stays {result.dtype} (the graph casts to it)"
    return None


def _widened(dtype: Any) -> Any:
    import torch

    return torch.float64 if dtype == torch.float32 else dtype
