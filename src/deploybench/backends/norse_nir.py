"""norse (Pehle and Pedersen) as a spiking runtime: its NIR importer (`norse.torch.from_nir`, through
nirtorch) at the graph's time step. Its IF and LIF import takes no resistance r (it warns when r is not 1 and
computes as if it were), which the converter says. norse pools by sum only: an average pooling fed by a
convolution or affine layer alone is imported as a sum pooling with that layer's weights and bias divided by the
window's size (the same function). Installed in the `pytorch` toolchain environment."""

from __future__ import annotations

from typing import Any, ClassVar

from deploybench.backends.nir_graph import Graph
from deploybench.backends.nir_torch import NirTorchBackend

SCALABLE = {"Conv2d", "Affine"}


class NorseBackend(NirTorchBackend):
    """norse's cells imported from NIR."""

    name: ClassVar[str] = "norse"
    module: ClassVar[str] = "norse"
    supported: ClassVar[frozenset[str]] = frozenset(
        {"Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "IF", "LI", "LIF", "CubaLIF"}
    )
    batch_in_flatten: ClassVar[bool] = True

    def adaptations(self, graph: Graph) -> list[str]:
        """The Flatten shift, average poolings imported as sums, and the neurons whose r norse leaves out."""
        import numpy as np

        found = super().adaptations(graph)
        if any(kind == "AvgPool2d" for _, kind in graph.node_types()):
            found.append("AvgPool2d as SumPool2d, the preceding layer divided by the window")
        unscaled = [
            name
            for name, kind in graph.node_types()
            if kind in {"IF", "LIF"} and not np.allclose(graph.graph.nodes[name].r, 1.0)
        ]
        if unscaled:
            found.append(f"norse leaves out r (not 1) of {', '.join(unscaled)}: its input is not scaled by r")
        return found

    def load(self, graph: Graph) -> Any:
        """norse's importer at the protocol's dt, on the graph with its average poolings as sums; its warnings
        on unexpected parameters silenced."""
        import norse.torch

        return norse.torch.from_nir(_pooling_by_sum(graph), ignore_warnings=True, dt=graph.protocol.dt)


def _pooling_by_sum(graph: Graph) -> Any:
    """A copy of the graph in which each AvgPool2d is a SumPool2d, its input layer's weights and bias divided by
    the window's size; an AvgPool2d fed otherwise is refused by name."""
    import copy

    import nir
    import numpy as np

    from deploybench.core.errors import BackendError

    rewritten = copy.deepcopy(graph.graph)
    for name, node in list(rewritten.nodes.items()):
        if not isinstance(node, nir.AvgPool2d):
            continue
        sources = [source for source, target in rewritten.edges if target == name]
        feeding = rewritten.nodes[sources[0]] if len(sources) == 1 else None
        alone = len(sources) == 1 and sum(1 for source, _ in rewritten.edges if source == sources[0]) == 1
        if feeding is None or type(feeding).__name__ not in SCALABLE or not alone:
            raise BackendError(
                f"norse pools by sum only, and AvgPool2d node `{name}` of {graph.path.name} is not fed by one "
                "convolution or affine layer alone, whose weights could take the division"
            )
        window = float(np.prod(node.kernel_size))
        feeding.weight = feeding.weight / window
        feeding.bias = feeding.bias / window
        rewritten.nodes[name] = nir.SumPool2d(kernel_size=node.kernel_size, stride=node.stride, padding=node.padding)
    return rewritten
