"""snnTorch (Eshraghian et al.) as a spiking runtime: its NIR importer (`snntorch.import_nir.import_from_nir`,
through nirtorch). It takes no time step: it reads LIF nodes at dt = 1e-4 s and maps IF nodes to its Leaky
neuron, so graphs made for another dt show it in their fidelity. Installed in the `pytorch` toolchain
environment."""

from __future__ import annotations

from typing import Any, ClassVar

from deploybench.backends.nir_graph import Graph
from deploybench.backends.nir_torch import NirTorchBackend
from deploybench.core.errors import BackendError


class SnnTorchBackend(NirTorchBackend):
    """snnTorch's neurons imported from NIR."""

    name: ClassVar[str] = "snntorch"
    module: ClassVar[str] = "snntorch"
    supported: ClassVar[frozenset[str]] = frozenset(
        {"Affine", "Linear", "Conv2d", "AvgPool2d", "Flatten", "IF", "LIF", "CubaLIF"}
    )
    batch_in_flatten: ClassVar[bool] = True

    def load(self, graph: Graph) -> Any:
        """snnTorch's importer, quietly (it prints its own warnings). A graph with IF nodes is refused: snnTorch
        1.0 imports an IF node as a Leaky neuron (beta 0.9: it leaks) built with init_hidden=False, which returns
        (spikes, membrane) pairs that no next node takes (seen here: it fails at the first step)."""
        import contextlib
        import io

        from snntorch.import_nir import import_from_nir

        for name, kind in graph.node_types():
            if kind == "IF":
                raise BackendError(
                    f"snnTorch {self.probe().version} imports NIR IF node `{name}` as a leaky neuron (beta 0.9) "
                    "returning (spikes, membrane) pairs, which the next node cannot take",
                    hint="run IF graphs with spikingjelly or norse",
                )

        with contextlib.redirect_stdout(io.StringIO()):
            return import_from_nir(graph.graph)

    def restart(self, module: Any) -> None:
        """Clear the membrane potentials snnTorch's neurons keep inside (init_hidden=True): otherwise an inference
        starts where the last one ended (seen here: two runs on the same input differ)."""
        from snntorch import utils

        utils.reset(module)
