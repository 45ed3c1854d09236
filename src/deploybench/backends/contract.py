"""The backend contract, as a check anyone can run: does a backend keep the protocol of `backends/base.py`?

`check_backend` drives a backend the way the worker does (probe, capabilities, prepare, open a session, bind,
run, read the outputs, infer, close, open again) on a model with a dynamic batch axis (an ONNX file, a `.tflite`
file or a PyTorch ExportedProgram), and returns one sentence per broken promise. It is shipped in the package so that a
third-party backend can assert, in its own tests, `check_backend(MyBackend(), model, tmp_path) == []`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploybench.backends.base import Backend, Capabilities, Prepared, Probe, Session
from deploybench.core.errors import BackendError, ConfigurationError
from deploybench.core.formats import model_format
from deploybench.core.records import SettingValue

if TYPE_CHECKING:
    import numpy as np

UNKNOWN_SETTING = "deploybench_contract_no_such_setting"
"""A setting name no backend takes: prepare() must refuse it."""
BATCH_SIZES = (1, 3)
"""Batch sizes bound one after the other on the same session, as the worker does for offline batches."""
INFER_RELATIVE_TOLERANCE = 1e-6
"""How far infer() may be from bind + run + outputs() on the same feeds, relative to the latter."""
SEED = 0


@dataclass(frozen=True)
class _Tensor:
    """One input or output of the model file: name, NumPy dtype name and shape (dim_param names for dynamic axes)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]


class _Stop(Exception):
    """A violation after which the next checks cannot run."""


def check_backend(backend: Backend, model: Path, workdir: Path) -> list[str]:
    """Every way backend breaks the backend contract on the model at model; empty when it keeps it.

    The model must be an ONNX file, a `.tflite` file or a PyTorch ExportedProgram (`.pt2`) whose only dynamic
    dimension is the batch axis (axis 0), in a format the backend takes; workdir is an existing, writable folder
    for the backend's artifacts. Each violation is one sentence naming the method. A backend whose probe says
    it is unavailable gives one violation saying so, and nothing else is checked.
    """
    inputs, outputs = _model_tensors(model)
    checker = _Checker(backend, model, workdir, inputs, outputs)
    with contextlib.suppress(_Stop):
        checker.check()
    return checker.violations


class _Checker:
    """Runs the checks in the worker's order, collecting violations."""

    def __init__(
        self, backend: Backend, model: Path, workdir: Path, inputs: list[_Tensor], outputs: list[_Tensor]
    ) -> None:
        self.backend = backend
        self.model = model
        self.workdir = workdir
        self.inputs = inputs
        self.outputs = outputs
        self.violations: list[str] = []

    def fail(self, sentence: str) -> None:
        self.violations.append(sentence)

    def call(self, method: str, function: Any, *args: Any) -> Any:
        """function(*args); an exception is a violation that stops the checks."""
        try:
            return function(*args)
        except Exception as exc:
            self.fail(f"{method} raised {type(exc).__name__}: {_first_line(exc)}.")
            raise _Stop from exc

    def check(self) -> None:
        self.check_probe()
        capabilities = self.check_capabilities()
        prepared = self.check_prepare(capabilities)
        session: Session = self.call("open_session()", self.backend.open_session, prepared)
        try:
            self.check_inputs(session)
            first = self.check_runs(session, BATCH_SIZES if capabilities.dynamic_batch else (1,))
        finally:
            self.call("close()", session.close)
        second: Session = self.call("open_session() after close()", self.backend.open_session, prepared)
        try:
            feeds, expected = first
            again = self.call("infer() on a second session", second.infer, feeds)
            if not _close(again, expected):
                self.fail("infer() on a second session gives other outputs than on the first session.")
        finally:
            self.call("close() of a second session", second.close)

    def check_probe(self) -> None:
        probe = self.call("probe()", self.backend.probe)
        if not isinstance(probe, Probe):
            self.fail(f"probe() returned a {type(probe).__name__}, not a Probe.")
            raise _Stop
        if not probe.available:
            reason = probe.reason or "no reason given"
            self.fail(f"probe() says the backend is unavailable ({reason}), so nothing else was checked.")
            raise _Stop
        if not probe.version:
            self.fail("probe() gives no version although the backend is available.")

    def check_capabilities(self) -> Capabilities:
        capabilities = self.call("capabilities()", self.backend.capabilities)
        if not isinstance(capabilities, Capabilities):
            self.fail(f"capabilities() returned a {type(capabilities).__name__}, not a Capabilities.")
            raise _Stop
        formats = capabilities.input_formats
        if not formats or not all(isinstance(f, str) and f for f in formats):
            self.fail(f"capabilities() lists no input formats (input_formats = {formats!r}).")
        elif model_format(self.model) not in formats:
            self.fail(f"capabilities() does not list `{model_format(self.model)}` among its input formats {formats!r}.")
        described = all(isinstance(k, str) and isinstance(v, str) and v for k, v in capabilities.settings.items())
        if not described:
            self.fail("capabilities() has settings without a description in words.")
        return capabilities

    def check_prepare(self, capabilities: Capabilities) -> Prepared:
        prepared = self.call("prepare()", self.backend.prepare, self.model, {}, self._workdir("prepare"))
        if not isinstance(prepared, Prepared):
            self.fail(f"prepare() returned a {type(prepared).__name__}, not a Prepared.")
            raise _Stop
        self._check_settings(capabilities, prepared.settings)
        if prepared.prepare_s is not None and not prepared.prepare_s >= 0:
            self.fail(f"prepare() reports a preparation time of {prepared.prepare_s!r} s.")
        if not Path(prepared.artifact).exists():
            self.fail(f"prepare() returned an artifact that does not exist ({prepared.artifact}).")
        self._check_unknown_setting()
        replayed = self.call(
            "prepare() given its own resolved settings",
            self.backend.prepare,
            self.model,
            dict(prepared.settings),
            self._workdir("prepare-again"),
        )
        if getattr(replayed, "settings", None) != prepared.settings:
            self.fail("prepare() given its own resolved settings resolves them to other values.")
        return prepared

    def _check_settings(self, capabilities: Capabilities, settings: dict[str, SettingValue]) -> None:
        declared = set(capabilities.settings)
        if declared and not settings:
            self.fail("prepare() returns no settings although capabilities() declares some.")
            return
        missing = sorted(declared - set(settings))
        if missing:
            self.fail(f"prepare() leaves declared settings unresolved: {', '.join(missing)}.")
        undeclared = sorted(set(settings) - declared)
        if undeclared:
            self.fail(f"prepare() reports settings that capabilities() does not declare: {', '.join(undeclared)}.")
        odd = sorted(n for n, v in settings.items() if not isinstance(v, (str, int, float, bool)))
        if odd:
            self.fail(f"prepare() resolves settings to values that are not str, int, float or bool: {', '.join(odd)}.")

    def _check_unknown_setting(self) -> None:
        try:
            self.backend.prepare(self.model, {UNKNOWN_SETTING: 1}, self._workdir("prepare-unknown"))
        except BackendError:
            return
        except Exception as exc:
            self.fail(f"prepare() refuses an unknown setting with {type(exc).__name__} instead of BackendError.")
            return
        self.fail(f"prepare() accepts the unknown setting `{UNKNOWN_SETTING}` instead of raising BackendError.")

    def check_inputs(self, session: Session) -> None:
        specs = self.call("inputs()", session.inputs)
        given = [(s.name, s.dtype) for s in specs]
        expected = [(t.name, t.dtype) for t in self.inputs]
        if given != expected:
            self.fail(f"inputs() gives (name, dtype) {given}, the model has {expected}.")
            raise _Stop
        for spec, tensor in zip(specs, self.inputs, strict=True):
            if not _shape_fits(tuple(spec.shape), tensor.shape):
                self.fail(f"inputs() gives shape {tuple(spec.shape)} for `{spec.name}`, the model has {tensor.shape}.")

    def check_runs(
        self, session: Session, batches: tuple[int, ...]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Bind, run twice, read, infer at each batch size, then infer again at the first batch size on other
        feeds (infer() must not return buffers that the next call overwrites). A backend that deploys at batch
        one only (no dynamic batch) must say so in its inputs().

        Returns the first feeds and their infer() outputs.
        """
        import numpy as np

        rng = np.random.default_rng(SEED)
        if batches == (1,) and any(spec.shape[:1] != (1,) for spec in session.inputs()):
            self.fail("capabilities() says dynamic_batch=False, but inputs() does not fix the batch axis at 1.")
        results = []
        for batch in batches:
            feeds = {t.name: _random(rng, t, batch) for t in self.inputs}
            self.call(f"bind() at batch {batch}", session.bind, feeds)
            self.call(f"run() at batch {batch}", session.run)
            once = _copied(self.call(f"outputs() at batch {batch}", session.outputs))
            self._check_outputs(f"outputs() at batch {batch}", once, batch)
            self.call(f"run() repeated at batch {batch}", session.run)
            twice = _copied(self.call(f"outputs() at batch {batch}", session.outputs))
            if not _identical(once, twice):
                self.fail(f"outputs() at batch {batch} differ between two run() calls on the same bound inputs.")
            inferred = self.call(f"infer() at batch {batch}", session.infer, feeds)
            self._check_outputs(f"infer() at batch {batch}", inferred, batch)
            if not _close(inferred, once):
                self.fail(
                    f"infer() at batch {batch} differs from bind() + run() + outputs() on the same feeds "
                    f"by more than {INFER_RELATIVE_TOLERANCE:g} relative."
                )
            results.append((feeds, inferred, _copied(inferred)))
        feeds, inferred, copy = results[0]
        other = {t.name: _random(rng, t, BATCH_SIZES[0]) for t in self.inputs}
        self.call(f"infer() at batch {BATCH_SIZES[0]} on other feeds", session.infer, other)
        if not _identical(inferred, copy):
            self.fail("infer() returns arrays that later calls overwrite; it must return copies.")
        return feeds, copy

    def _check_outputs(self, method: str, arrays: dict[str, Any], batch: int) -> None:
        import numpy as np

        names = sorted(arrays) if isinstance(arrays, dict) else []
        if names != sorted(t.name for t in self.outputs):
            self.fail(f"{method} gives outputs {names}, the model has {sorted(t.name for t in self.outputs)}.")
            raise _Stop
        for tensor in self.outputs:
            array = arrays[tensor.name]
            if not isinstance(array, np.ndarray):
                self.fail(f"{method} gives `{tensor.name}` as a {type(array).__name__}, not a NumPy array.")
                continue
            expected = tuple(batch if i == 0 and not isinstance(d, int) else d for i, d in enumerate(tensor.shape))
            if not _shape_fits(array.shape, expected) or array.dtype.name != tensor.dtype:
                self.fail(
                    f"{method} gives `{tensor.name}` as {array.dtype.name} of shape {array.shape}, "
                    f"the model's is {tensor.dtype} of shape {expected}."
                )

    def _workdir(self, name: str) -> Path:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _model_tensors(model: Path) -> tuple[list[_Tensor], list[_Tensor]]:
    """The model's inputs and outputs, read from the file; only the batch axis may be dynamic."""
    readers = {"pytorch": _pytorch_tensors, "tflite": _tflite_tensors, "nir": _nir_tensors}
    inputs, outputs = readers.get(model_format(model), _onnx_tensors)(model)
    for spec in inputs:
        if any(not isinstance(d, int) for d in spec.shape[1:]):
            raise ConfigurationError(
                f"{model}: input `{spec.name}` has a dynamic dimension besides the batch axis ({spec.shape})",
                hint="check backends on a model whose only dynamic dimension is axis 0",
            )
    return inputs, outputs


def _pytorch_tensors(model: Path) -> tuple[list[_Tensor], list[_Tensor]]:
    """The ExportedProgram's user inputs and outputs."""
    from deploybench.backends.pytorch_program import load_program, read_signature

    signature = read_signature(load_program(model, "contract"), model, "contract")
    inputs = [_Tensor(s.name, s.dtype, s.shape) for s in signature.inputs]
    return inputs, [_Tensor(s.name, s.dtype, s.shape) for s in signature.outputs]


def _tflite_tensors(model: Path) -> tuple[list[_Tensor], list[_Tensor]]:
    """The flatbuffer's inputs and outputs, by signature name."""
    from deploybench.backends.litert import tflite_tensors

    inputs, outputs = tflite_tensors(model)
    return [_Tensor(s.name, s.dtype, s.shape) for s in inputs], [_Tensor(s.name, s.dtype, s.shape) for s in outputs]


def _nir_tensors(model: Path) -> tuple[list[_Tensor], list[_Tensor]]:
    """The graph's Input and Output nodes, float32 (NIR carries no types), with a batch axis."""
    from deploybench.backends.nir_graph import Graph

    graph = Graph(model)
    inputs = [_Tensor(s.name, s.dtype, s.shape) for s in graph.input_specs()]
    nodes = graph.graph.nodes
    shapes = {name: tuple(int(d) for d in nodes[name].output_type["output"]) for name in graph.outputs_named}
    return inputs, [_Tensor(name, "float32", (None, *shape)) for name, shape in shapes.items()]


def _onnx_tensors(model: Path) -> tuple[list[_Tensor], list[_Tensor]]:
    """The model's graph inputs (initializers left out) and outputs."""
    import onnx
    from onnx import helper

    graph = onnx.load(str(model), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}

    def tensor(value: Any) -> _Tensor:
        kind = value.type.tensor_type
        shape = tuple(d.dim_value or d.dim_param or None for d in kind.shape.dim)
        return _Tensor(value.name, helper.tensor_dtype_to_np_dtype(kind.elem_type).name, shape)

    return [tensor(v) for v in graph.input if v.name not in initializers], [tensor(v) for v in graph.output]


def _random(rng: np.random.Generator, tensor: _Tensor, batch: int) -> np.ndarray:
    import numpy as np

    shape = tuple(d if isinstance(d, int) else batch for d in tensor.shape)
    dtype = np.dtype(tensor.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.random(shape) < 0.5


def _shape_fits(given: tuple[Any, ...], expected: tuple[int | str | None, ...]) -> bool:
    """Same rank, and the same size wherever expected has a fixed one."""
    if len(given) != len(expected):
        return False
    return all(not isinstance(e, int) or g == e for g, e in zip(given, expected, strict=True))


def _copied(arrays: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    if not isinstance(arrays, dict):
        return arrays
    return {n: np.array(a, copy=True) for n, a in arrays.items()}


def _identical(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(np.array_equal(a[n], b[n], equal_nan=True) for n in a)


def _close(given: dict[str, Any], expected: dict[str, Any]) -> bool:
    import numpy as np

    return given.keys() == expected.keys() and all(
        np.shape(given[n]) == np.shape(expected[n])
        and np.allclose(given[n], expected[n], rtol=INFER_RELATIVE_TOLERANCE, atol=0, equal_nan=True)
        for n in given
    )


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else "(no message)"
