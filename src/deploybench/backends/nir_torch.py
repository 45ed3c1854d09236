"""What the spiking runtimes built on PyTorch (snnTorch, norse, SpikingJelly) share: each imports a NIR graph
with its own importer into a stateful torch module, and deploybench steps that module through the graph's run
protocol (`nir_graph.RunProtocol`): encode the input, one call per time step carrying the state, read out.
Their importers differ in the NIR nodes they take and in how they discretize NIR's continuous-time neurons:
comparing their outputs with the NIR reference's on the same graph is what these backends are for."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, Prepared, Probe, TensorSpec, installed_package
from deploybench.backends.nir_graph import Graph
from deploybench.backends.pytorch import THREADS
from deploybench.backends.pytorch_program import first_line, physical_cores, set_threads
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

if TYPE_CHECKING:
    import numpy as np

TOOLCHAIN = "pytorch"
"""The toolchain environment the spiking runtimes are installed in (torch 2.14.1 with the torchvision that loads
beside it: norse imports torchvision)."""


class NirTorchBackend:
    """A spiking runtime that imports NIR graphs into torch modules; subclasses name the importer."""

    name: ClassVar[str]
    module: ClassVar[str]
    """The Python module of the framework, and its distribution's name."""
    supported: ClassVar[frozenset[str]]
    """The NIR node types its importer maps to modules (others it drops or fails on)."""
    batch_in_flatten: ClassVar[bool] = False
    """True for an importer that hands a Flatten node's dimensions to torch.nn.Flatten as they are, counting the
    batch axis, where NIR counts from the first axis of a sample (its Flatten's input_type has no batch axis):
    deploybench then shifts them by one, so that a batch keeps its axis, and says so in the converter."""

    def probe(self) -> Probe:
        """The framework and nir installed? The framework's version."""
        for module in (self.module, "nir"):
            found = installed_package(module, module, "spiking")
            if not found.available:
                return Probe(False, reason=f"{module} is not installed: deploybench toolchain install {TOOLCHAIN}")
        return installed_package(self.module, self.module, "spiking")

    def capabilities(self) -> Capabilities:
        """NIR graphs in; one session at a time (PyTorch's thread pool is process-wide)."""
        return Capabilities(input_formats=("nir",), concurrent_sessions=False, settings={"threads": THREADS})

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Import the graph (timed, as the conversion) to check that the framework takes it."""
        resolved = resolve_settings(self.name, settings, {"threads": physical_cores()})
        resolved["threads"] = set_threads(int(resolved["threads"]), self.name)
        graph = Graph(model)
        graph.refuse_types(self.name, set(self.supported))
        start = time.perf_counter()
        self._imported(graph)
        seconds = time.perf_counter() - start
        adapted = "".join(f"; {change}" for change in self.adaptations(graph))
        converter = f"{self.name} {self.probe().version} NIR import, dt {graph.protocol.dt:g} s{adapted}"
        return Prepared(artifact=model, prepare_s=seconds, settings=resolved, converter=converter)

    def open_session(self, prepared: Prepared) -> NirTorchSession:
        """Import the graph and size the thread pool."""
        graph = Graph(prepared.artifact)
        module = self._imported(graph)
        set_threads(int(prepared.settings["threads"]), self.name)
        return NirTorchSession(graph, module, self)

    def _imported(self, graph: Graph) -> Any:
        """The framework's module for the graph, or a one-line error with its importer's complaint."""
        if self.batch_in_flatten:
            _flatten_past_batch(graph)
        try:
            return self.load(graph)
        except BackendError:
            raise
        except Exception as exc:  # the importer's own failure, whatever its type
            raise BackendError(f"{self.name} cannot import {graph.path.name}: {_first(exc)}") from exc

    def load(self, graph: Graph) -> Any:
        """REQUIRED: the framework's importer on graph, at the protocol's time step."""
        raise NotImplementedError

    def adaptations(self, graph: Graph) -> list[str]:
        """What deploybench changes in the graph for the importer, in words (the converter records them)."""
        if self.batch_in_flatten and any(kind == "Flatten" for _, kind in graph.node_types()):
            return ["Flatten dimensions shifted past the batch axis for its importer"]
        return []

    def restart(self, module: Any) -> None:
        """Before each inference: nothing, since the state is carried explicitly from the first step (a framework
        whose modules keep their state inside overrides this to clear it)."""

    def step(self, module: Any, value: Any, state: Any) -> tuple[Any, Any]:
        """One time step of the imported module: its output and the state to carry (the nirtorch convention)."""
        output, carried = module(value, state)
        return output, carried


class NirTorchSession:
    """The imported module stepped through the protocol on bound inputs."""

    def __init__(self, graph: Graph, module: Any, backend: NirTorchBackend) -> None:
        if len(graph.outputs_named) != 1:
            raise BackendError(f"{backend.name} runs NIR graphs with one Output node, not {len(graph.outputs_named)}")
        self._graph, self._module, self._backend = graph, module, backend
        self._bound: list[Any] = []
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """The graph's input."""
        return self._graph.input_specs()

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        """Encode the input of every time step now, so that a run is the network alone."""
        import numpy as np
        import torch

        value = np.asarray(next(iter(feeds.values())), dtype=np.float32)
        protocol = self._graph.protocol
        self._bound = [torch.from_numpy(np.ascontiguousarray(protocol.encode(value, t))) for t in range(protocol.steps)]

    def run(self) -> None:
        """Every time step, the state carried from one to the next; the outputs read out."""
        import torch

        outputs, state = [], None
        try:
            with torch.inference_mode():
                self._backend.restart(self._module)
                for value in self._bound:
                    output, state = self._backend.step(self._module, value, state)
                    outputs.append(output.numpy().copy())
        except Exception as exc:  # the framework's failure while running, whatever its type
            raise BackendError(f"{self._backend.name} fails running {self._graph.path.name}: {_first(exc)}") from exc
        self._last = {self._graph.outputs_named[0]: self._graph.protocol.read(outputs)}

    def outputs(self) -> dict[str, np.ndarray]:
        """The read-out outputs of the last run."""
        return dict(self._last)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Bind, run and read out in one call."""
        self.bind(feeds)
        self.run()
        return self.outputs()

    def close(self) -> None:
        """Drop the module."""
        self._module = None


def _flatten_past_batch(graph: Graph) -> None:
    """Each Flatten node's non-negative dimensions moved one axis on, past the batch axis."""
    for node in graph.graph.nodes.values():
        if type(node).__name__ == "Flatten":
            node.start_dim = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
            node.end_dim = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim


def _first(exc: Exception) -> str:
    """The exception's type and the first line of its message."""
    return f"{type(exc).__name__}: {first_line(exc)}"
