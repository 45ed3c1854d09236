"""The backend protocol: prepare (convert / compile) -> open a session -> bind inputs -> run -> close.

A backend is the only place that knows a framework's API. The harness owns the clock and the loop:
it calls `Session.run()` on inputs bound beforehand, so nothing but the inference is timed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from deploybench.core.records import Emulation, LayerDivergence, NodeSupport, SettingValue, Simulation

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Probe:
    """Whether a backend can run here, and which version it would be."""

    available: bool
    version: str | None = None
    reason: str | None = None


def installed_package(module: str, distribution: str, extra: str) -> Probe:
    """Whether module can be imported and which version its distribution has, read from the package metadata
    without importing it (importing a runtime can take seconds); unavailable names the extra to install."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    missing = Probe(False, reason=f"{distribution} is not installed: pip install 'deploybench[{extra}]'")
    if find_spec(module) is None:
        return missing
    try:
        return Probe(True, version=version(distribution))
    except PackageNotFoundError:
        return missing


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the core asks these, never the backend's name."""

    input_formats: tuple[str, ...]
    concurrent_sessions: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    deployment: bool = True
    """False for a reference evaluator, which checks deployments rather than being one."""
    dynamic_batch: bool = True
    """False for a framework that deploys at batch one only (its inputs() then fix the batch axis at 1)."""
    emulated: bool = False
    """True for a framework that runs the model as firmware on an emulated board: its sessions emulate (see
    `Emulates`) and its figures are instruction counts and firmware memory, not host times."""
    simulated: bool = False
    """True for a framework that runs the model in a bit-accurate simulation of the hardware design it makes (an
    FPGA flow's C simulation): its sessions simulate (see `Simulates`); only fidelity is measured."""
    only: str | None = None
    """For a framework made for one kind of model only, that kind in words: `all` leaves it out, naming it runs it."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None or a name for a dynamic dimension) and NumPy dtype of one model input."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str


@dataclass(frozen=True)
class Prepared:
    """A model made ready for a framework: the artifact to load and what preparing it cost."""

    artifact: Path
    prepare_s: float | None
    settings: dict[str, SettingValue]
    converter: str | None = None
    """The converter that made the artifact from the model, with its version; None when nothing converted it."""


class Session(Protocol):
    """A loaded deployment. REQUIRED: every method."""

    def inputs(self) -> list[TensorSpec]:
        """The model's inputs."""
        ...

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Copy feeds into runtime-owned buffers, outside any timed region."""
        ...

    def run(self) -> None:
        """One inference on the bound inputs: the timed call."""
        ...

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last run, as NumPy arrays."""
        ...

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, run and copy out in one call (end-to-end timing; thread-safe if concurrent)."""
        ...

    def close(self) -> None:
        """Release the runtime's resources."""
        ...


class InferringSession:
    """The part of a session shared by runtimes that compute a whole inference in one call (`infer`), as the
    reference evaluators, an emulated firmware or a simulated design do: `bind` keeps the feeds, `run` infers
    them, `outputs` gives what the last run computed."""

    _feeds: dict[str, np.ndarray]
    _last: dict[str, np.ndarray]

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One inference on feeds."""
        raise NotImplementedError

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Keep the feeds for the next runs."""
        self._feeds = dict(feeds)

    def run(self) -> None:
        """One inference on the bound feeds."""
        self._last = self.infer(self._feeds)

    def outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last run."""
        return dict(self._last)


@runtime_checkable
class Simulates(Protocol):
    """REQUIRED of the sessions of a simulated backend: runs every input through the simulated design once."""

    def simulate(self, feeds: list[dict[str, np.ndarray]]) -> tuple[list[dict[str, np.ndarray]], Simulation]:
        """Each input's outputs, and how they were simulated."""
        ...


@runtime_checkable
class Emulates(Protocol):
    """REQUIRED of the sessions of an emulated backend: runs every input through the firmware once."""

    def emulate(self, feeds: list[dict[str, np.ndarray]]) -> tuple[list[dict[str, np.ndarray]], Emulation]:
        """Each input's outputs, and what the firmware executed and takes."""
        ...


@runtime_checkable
class ChecksOperators(Protocol):
    """OPTIONAL for a backend: says, from the framework's own machinery (a kernel registry, a frontend), which
    nodes of a model it takes, without running it."""

    def operator_support(self, model: Path) -> tuple[list[NodeSupport], list[str], str]:
        """Every node's support, what is refused about the model as a whole, and what was asked."""
        ...


@dataclass(frozen=True)
class Method:
    """One way a framework's own tool makes a faster or smaller model (quantization, pruning, ...)."""

    description: str
    options: dict[str, str] = field(default_factory=dict)
    """Option name -> what it does and its default."""
    calibrated: bool = False
    """Whether it needs calibration inputs."""
    labelled: bool = False
    """Whether its calibration inputs need labels too (accuracy-controlled methods)."""


@dataclass(frozen=True)
class Calibration:
    """The rows a calibrated method sees, for the model's single input, and their labels when the data has them."""

    rows: np.ndarray
    labels: np.ndarray | None = None

    def batches(self) -> list[np.ndarray]:
        """Each row as a batch of one, the shape the model takes."""
        return [self.rows[i : i + 1] for i in range(len(self.rows))]


@dataclass(frozen=True)
class OptimizedModel:
    """What a method made: the artifact, its options with defaults resolved, the tool and what it did."""

    artifact: Path
    options: dict[str, SettingValue]
    tool: str
    notes: tuple[str, ...] = ()
    sparsity: float | None = None


@runtime_checkable
class Optimizes(Protocol):
    """OPTIONAL for a backend: makes an optimized model (INT8, FP16, pruned) from an FP32 one with the framework's
    own tool; the artifact is then measured like any model, and checked against the FP32 one."""

    def optimization_methods(self) -> dict[str, Method]:
        """The methods it offers, by name."""
        ...

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """Write the optimized model into workdir; unknown options, or a method this model cannot take, are
        errors that name the option, operator or reason."""
        ...


@runtime_checkable
class ComparesLayers(Protocol):
    """OPTIONAL for a backend: compares the intermediate tensors of an optimized model with the FP32 model's."""

    def layer_divergence(
        self, reference: Path, optimized: Path, rows: Calibration, workdir: Path
    ) -> list[LayerDivergence]:
        """Every tensor both models compute, in the FP32 model's order, with how far it drifts."""
        ...


class Backend(Protocol):
    """A deployment framework. REQUIRED: name, probe, capabilities, prepare, open_session."""

    name: ClassVar[str]

    def probe(self) -> Probe:
        """Installed? Which version? Never raises ImportError."""
        ...

    def capabilities(self) -> Capabilities:
        """What the backend can do."""
        ...

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Convert or compile the model (not timed as inference); unknown settings are errors."""
        ...

    def open_session(self, prepared: Prepared) -> Session:
        """Load the prepared model."""
        ...
