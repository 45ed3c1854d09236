"""SpikingJelly (PKU / Peng Cheng Laboratory) as a spiking runtime: its own NIR importer
(`spikingjelly.activation_based.nir_exchange.import_from_nir`, single-step mode) at the graph's time step.
Installed in the `pytorch` toolchain environment."""

from __future__ import annotations

from typing import Any, ClassVar

from deploybench.backends.nir_graph import Graph
from deploybench.backends.nir_torch import NirTorchBackend


class SpikingJellyBackend(NirTorchBackend):
    """SpikingJelly's IF/LIF/CubaLIF nodes imported from NIR."""

    name: ClassVar[str] = "spikingjelly"
    module: ClassVar[str] = "spikingjelly"
    supported: ClassVar[frozenset[str]] = frozenset(
        {"Affine", "Linear", "Conv1d", "Conv2d", "AvgPool2d", "Flatten", "IF", "LIF", "CubaLIF"}
    )

    def load(self, graph: Graph) -> Any:
        """SpikingJelly's importer at the protocol's dt (it refuses IF nodes whose r is not 1 / dt)."""
        from spikingjelly.activation_based.nir_exchange import import_from_nir

        return import_from_nir(graph.graph, dt=graph.protocol.dt, step_mode="s")
