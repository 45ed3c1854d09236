"""Apache TVM (Relax) on the CPU: ONNX imported by TVM's frontend, compiled by LLVM, run by the Relax VM.

The model is compiled once, untuned, with its dynamic dimensions kept symbolic in Relax (one executable
serves every batch size, and `prepare_s` is the one compile there is), and linked into a shared library in
the work folder: that library is the artifact a deployment would ship.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, Prepared, Probe, TensorSpec, installed_package
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.onnx_nodes import typed_nodes
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import NodeSupport, SettingValue

if TYPE_CHECKING:
    import numpy as np

SETTINGS = {
    "threads": "threads of TVM's runtime pool (default: physical cores); the size the pool really has is recorded",
    "target": 'LLVM target in TVM\'s JSON form, e.g. {"kind": "llvm", "mcpu": "skylake-avx512"}, or `llvm` '
    "(default: llvm for this host's CPU as LLVM names it); recorded in full",
    "opt_level": "optimization level of the Relax and TIR passes, 0 to 3 (default 3)",
    "tuning": "`none`: untuned, TVM's default schedules without meta-schedule (the only value for now)",
}
THREADS_ENV = "TVM_NUM_THREADS"
"""Read by TVM's runtime when a thread's pool starts."""
LIBRARY = "model.so"
SIGNATURE = "model.signature.json"
"""Beside the library: the ONNX model's inputs and output names, which the compiled module does not keep."""
LINK_ERROR_CHARS = 600
"""How much of a failed link's compiler output goes into the error."""
BOUND = "deploybench_bound"
"""Name of the VM closure holding `main` and the bound inputs."""


DIRECT = frozenset({"Constant", "If"})
"""Operators the Relax ONNX importer handles itself, outside its converter map."""


class TvmBackend:
    """Apache TVM, Relax VM on `tvm.cpu()`, LLVM target, untuned."""

    name: ClassVar[str] = "tvm"

    def probe(self) -> Probe:
        """Installed? Which version? Read from the package metadata: importing TVM takes seconds."""
        return installed_package("tvm", "apache-tvm", "tvm")

    def capabilities(self) -> Capabilities:
        """ONNX in; one VM per session, not safe for concurrent calls."""
        return Capabilities(input_formats=("onnx",), concurrent_sessions=False, settings=SETTINGS)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Size TVM's thread pool, import the ONNX model into Relax, compile it for the target and link it.

        `prepare_s` covers the ONNX import, the compilation and the linking (not Python's import of TVM).
        """
        import psutil

        check_onnx_model(model)
        defaults: dict[str, SettingValue] = {
            "threads": psutil.cpu_count(logical=False) or 1,
            "target": "",  # this host's CPU, read from TVM below once it is imported
            "opt_level": 3,
            "tuning": "none",
        }
        resolved = resolve_settings(self.name, settings, defaults)
        _check_values(resolved)
        resolved["threads"] = _size_thread_pool(int(resolved["threads"]))
        target = _target(str(resolved["target"]) if "target" in settings else None)
        resolved["target"] = str(target)
        start = time.perf_counter()
        module = _import_onnx(model)
        library = workdir / LIBRARY
        _link(_compile(model, module, target, int(resolved["opt_level"])), library)
        prepare_s = time.perf_counter() - start
        (workdir / SIGNATURE).write_text(json.dumps(_signature(model)), encoding="utf-8")
        return Prepared(artifact=library, prepare_s=prepare_s, settings=resolved)

    def operator_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """Each ONNX node against the converter map of TVM's Relax ONNX frontend (which matches on the operator
        alone, as the frontend does); then, when every node has a converter, the whole import, whose failure
        is a model issue."""
        tvm = _import_tvm()
        from tvm.relax.frontend.onnx import onnx_frontend

        converters = set(onnx_frontend._get_convert_map()) | DIRECT
        support = [
            NodeSupport(
                node=node.name,
                op_type=node.qualified,
                supported=node.op_type in converters,
                reason=None
                if node.op_type in converters
                else f"the Relax ONNX frontend has no converter for {node.op_type}",
            )
            for node in typed_nodes(model)
        ]
        issues = []
        if all(s.supported for s in support):
            try:
                _import_onnx(model)
            except BackendError as exc:
                issues.append(exc.message)
        return support, issues, f"tvm {tvm.__version__} Relax ONNX frontend converter map, then its import"

    def open_session(self, prepared: Prepared) -> TvmSession:
        """Load the compiled library into a Relax VM on the CPU."""
        import tvm
        from tvm import relax

        signature = json.loads((prepared.artifact.parent / SIGNATURE).read_text(encoding="utf-8"))
        try:
            vm = relax.VirtualMachine(tvm.runtime.load_module(str(prepared.artifact)), tvm.cpu())
        except Exception as exc:
            raise BackendError(f"tvm cannot load {prepared.artifact}: {_first_line(exc)}") from exc
        inputs = [TensorSpec(name=i["name"], shape=tuple(i["shape"]), dtype=i["dtype"]) for i in signature["inputs"]]
        return TvmSession(vm, inputs, signature["outputs"])


class TvmSession:
    """A Relax VM; `bind` saves a closure of `main` over inputs already in TVM tensors."""

    def __init__(self, vm: Any, inputs: list[TensorSpec], outputs: list[str]) -> None:
        import tvm

        self._vm = vm
        self._main = vm["main"]
        self._device = tvm.cpu()
        self._inputs = inputs
        self._names = outputs
        self._bound: Any = None
        self._result: Any = None

    def inputs(self) -> list[TensorSpec]:
        """Name, shape (dynamic dimensions by name) and dtype of each input."""
        return list(self._inputs)

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy the feeds into TVM tensors once and save `main` over them: `run` converts nothing."""
        self._vm.save_function("main", BOUND, *self._tensors(feeds))
        self._bound = self._vm[BOUND]
        self._result = None

    def run(self) -> None:
        """One inference on the bound inputs."""
        self._result = self._bound()

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last run, copied into NumPy arrays."""
        if self._result is None:
            raise BackendError("tvm: no outputs yet", hint="bind inputs and run first")
        return self._numpy(self._result)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, run, copy out (not thread-safe: one VM)."""
        return self._numpy(self._main(*self._tensors(feeds)))

    def close(self) -> None:
        """Drop the VM and the tensors it holds."""
        self._bound = self._result = self._main = self._vm = None

    def _tensors(self, feeds: dict[str, np.ndarray]) -> list[Any]:
        import numpy as np
        import tvm

        tensors = []
        for spec in self._inputs:
            if spec.name not in feeds:
                raise BackendError(f"tvm: no feed for input `{spec.name}`", hint=f"give {spec.name!r}")
            array = feeds[spec.name]
            if array.dtype.name != spec.dtype:
                raise BackendError(f"tvm: input `{spec.name}` takes {spec.dtype}, the feed is {array.dtype.name}")
            tensors.append(tvm.runtime.tensor(np.ascontiguousarray(array), self._device))
        return tensors

    def _numpy(self, result: Any) -> dict[str, np.ndarray]:
        import tvm

        results = [result] if isinstance(result, tvm.runtime.Tensor) else list(result)
        return {name: tensor.numpy() for name, tensor in zip(self._names, results, strict=True)}


def _check_values(settings: dict[str, SettingValue]) -> None:
    if int(settings["threads"]) < 1:
        raise BackendError(f"tvm: `threads` = {settings['threads']} must be at least 1")
    if not 0 <= int(settings["opt_level"]) <= 3:
        raise BackendError(f"tvm: `opt_level` = {settings['opt_level']} must be 0, 1, 2 or 3")
    if settings["tuning"] != "none":
        raise BackendError(
            f"tvm: `tuning` = {settings['tuning']!r} is not supported",
            hint="only `none` (untuned, TVM's default schedules) is implemented; meta-schedule tuning is not yet",
        )


def _size_thread_pool(threads: int) -> int:
    """Have TVM's runtime pools start with `threads` threads; the size a pool really gets.

    TVM reads TVM_NUM_THREADS when a thread's pool starts, lazily, at that thread's first parallel kernel, and
    then pins the thread: untuned kernels are serial and never start it. The size is therefore read on a
    throwaway thread, so that the thread that runs the model is left as TVM alone would leave it. A pool
    that already ran in this process keeps its size: the worker runs every job in a fresh process.
    """
    from concurrent.futures import ThreadPoolExecutor

    os.environ[THREADS_ENV] = str(threads)
    tvm = _import_tvm()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploybench-tvm-threads") as pool:
        return int(pool.submit(tvm.runtime.num_threads).result())


def _import_tvm() -> Any:
    try:
        import tvm
    except Exception as exc:  # a broken install fails in many ways: missing libraries, mismatched tvm-ffi
        raise BackendError(
            f"tvm cannot be imported: {type(exc).__name__}: {_first_line(exc)}",
            hint="reinstall with pip install 'deploybench[tvm]' (apache-tvm 0.26.0 with apache-tvm-ffi 0.1.13.post3)",
        ) from exc
    return tvm


def _target(given: str | None) -> Any:
    """The target given (a JSON dict or a kind name), or LLVM for this host's CPU; CPU kinds only."""
    import tvm

    if given is None:
        return tvm.target.Target.from_device(tvm.cpu())
    try:
        target = tvm.target.Target(given)
    except Exception as exc:
        raise BackendError(
            f"tvm: `target` = {given!r} is not a TVM target: {_first_line(exc)}",
            hint='give the JSON form, e.g. {"kind": "llvm", "mcpu": "skylake-avx512"}, or `llvm`',
        ) from exc
    if target.kind.name != "llvm":
        raise BackendError(
            f"tvm: `target` kind `{target.kind.name}` is not a CPU target",
            hint="this backend runs on tvm.cpu(): use kind `llvm`",
        )
    return target


def _import_onnx(model: Path) -> Any:
    """The Relax module of the ONNX model; an operator the frontend lacks is named in the error."""
    import onnx
    import tvm
    from tvm.relax.frontend.onnx import from_onnx

    try:
        return from_onnx(onnx.load(str(model)))
    except tvm.error.OpNotImplemented as exc:
        raise BackendError(
            f"tvm cannot import {model}: {_first_line(exc)}",
            hint="TVM's Relax ONNX frontend lacks these operators: rewrite them or use another framework",
        ) from exc
    except Exception as exc:
        raise BackendError(f"tvm cannot import {model}: {type(exc).__name__}: {_first_line(exc)}") from exc


def _compile(model: Path, module: Any, target: Any, opt_level: int) -> Any:
    import tvm

    try:
        with tvm.transform.PassContext(opt_level=opt_level):
            return tvm.compile(module, target=target)
    except Exception as exc:
        raise BackendError(
            f"tvm cannot compile {model} for {target}: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _link(executable: Any, library: Path) -> None:
    try:
        executable.export_library(str(library))
    except Exception as exc:  # the compiler's own words follow TVM's first line
        words = " ".join(str(exc).split())[:LINK_ERROR_CHARS]
        raise BackendError(
            f"tvm cannot link the compiled model into {library}: {type(exc).__name__}: {words}",
            hint="TVM links with a C++ compiler (g++, clang or $CXX): check that one is installed and the folder is "
            "writable",
        ) from exc


def _signature(model: Path) -> dict[str, Any]:
    """The model's inputs (initializers left out) with NumPy dtypes and named dynamic dimensions, and its outputs."""
    import onnx
    from onnx import helper

    graph = onnx.load(str(model), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    inputs = [
        {
            "name": value.name,
            "shape": [d.dim_value or d.dim_param or None for d in value.type.tensor_type.shape.dim],
            "dtype": helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name,
        }
        for value in graph.input
        if value.name not in initializers
    ]
    return {"inputs": inputs, "outputs": [value.name for value in graph.output]}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
