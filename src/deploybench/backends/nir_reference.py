"""The NIR reference evaluator: NIR's node definitions (its documentation's equations) computed in NumPy, in
float64 (the read-out given as float32, as the runtimes give it), by forward Euler at the graph's time step
(`RunProtocol.dt`): the reference the spiking runtimes' imports of the same graph are compared with. Each node
takes the sum of what its incoming edges carry, as NIR defines; a neuron spikes when its potential exceeds the
threshold and is then set to its reset potential."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, InferringSession, Prepared, Probe, TensorSpec, installed_package
from deploybench.backends.nir_graph import Graph
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue

if TYPE_CHECKING:
    import numpy as np

STATELESS = {"Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Scale", "Threshold"}
NEURONS = {"IF", "LIF", "LI", "I"}


class NirReferenceBackend:
    """NIR's equations in NumPy: slow, simple, close to the definition."""

    name: ClassVar[str] = "nir-reference"

    def probe(self) -> Probe:
        """The `nir` package installed? Its version."""
        return installed_package("nir", "nir", "spiking")

    def capabilities(self) -> Capabilities:
        """NIR graphs in; a reference, not a deployment."""
        return Capabilities(input_formats=("nir",), concurrent_sessions=False, settings={}, deployment=False)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Read the graph and check that every node is one the evaluator computes."""
        Graph(model).refuse_types(self.name, STATELESS | NEURONS)
        return Prepared(artifact=model, prepare_s=None, settings=resolve_settings(self.name, settings, {}))

    def open_session(self, prepared: Prepared) -> NirReferenceSession:
        """The graph, ready to run."""
        return NirReferenceSession(Graph(prepared.artifact))


class NirReferenceSession(InferringSession):
    """One run: every time step through the graph in order, each neuron's potential kept across steps."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._feeds: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """The graph's input."""
        return self._graph.input_specs()

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The protocol's steps on feeds, read out."""
        import numpy as np

        graph, protocol = self._graph, self._graph.protocol
        value = np.asarray(next(iter(feeds.values())), dtype=np.float64)
        potentials: dict[str, np.ndarray] = {}
        per_step: dict[str, list[np.ndarray]] = {name: [] for name in graph.outputs_named}
        for step in range(protocol.steps):
            values: dict[str, np.ndarray] = {graph.inputs_named[0]: protocol.encode(value, step)}
            for name in graph.order:
                if name in values:
                    continue
                current = sum((values[source] for source in graph.sources[name]), start=np.zeros(()))
                values[name] = _step(name, graph.graph.nodes[name], current, potentials, protocol.dt)
            for name in per_step:
                per_step[name].append(values[name])
        return {name: protocol.read(steps).astype(np.float32) for name, steps in per_step.items()}

    def close(self) -> None:
        """Nothing to release."""


def _step(name: str, node: Any, current: np.ndarray, potentials: dict[str, np.ndarray], dt: float) -> Any:
    """What node `name` gives at one time step for the summed input `current`."""
    import numpy as np

    kind = type(node).__name__
    if kind == "Output":
        return current
    if kind in NEURONS:
        potential = potentials.get(name, np.zeros_like(current))
        if kind in {"IF", "I"}:
            potential = potential + dt * node.r * current
        else:
            potential = potential + dt / node.tau * (node.v_leak - potential + node.r * current)
        if kind in {"LI", "I"}:
            potentials[name] = potential
            return potential
        spikes = (potential > node.v_threshold).astype(np.float64)
        potentials[name] = np.where(spikes > 0, node.v_reset, potential)
        return spikes
    if kind == "Affine":
        return current @ np.asarray(node.weight, np.float64).T + node.bias
    if kind == "Linear":
        return current @ np.asarray(node.weight, np.float64).T
    if kind == "Scale":
        return current * node.scale
    if kind == "Threshold":
        return (current > node.threshold).astype(np.float64)
    if kind == "Flatten":
        return _flatten(current, node.start_dim, node.end_dim)
    if kind == "Conv2d":
        return _conv2d(name, node, current)
    return _pool(current, node.kernel_size, node.stride, node.padding, average=kind == "AvgPool2d")


def _pair(value: Any) -> tuple[int, int]:
    """A 2-D parameter given as one int or two."""
    values = tuple(int(v) for v in (value if isinstance(value, tuple | list) else (value, value)))
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _windows(value: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any, dilation: Any = 1) -> Any:
    """[N, C, H', W', kh, kw] windows of a zero-padded [N, C, H, W] array."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    (ph, pw), (sh, sw), (dh, dw) = _pair(padding), _pair(stride), _pair(dilation)
    padded = np.pad(value, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    span = ((kernel[0] - 1) * dh + 1, (kernel[1] - 1) * dw + 1)
    windows = sliding_window_view(padded, span, axis=(2, 3))[:, :, ::sh, ::sw]
    return windows[..., ::dh, ::dw]


def _conv2d(name: str, node: Any, value: np.ndarray) -> Any:
    """A 2-D convolution (cross-correlation, as NIR and PyTorch define it), one group."""
    import numpy as np

    if int(node.groups) != 1:
        raise BackendError(
            f"nir-reference computes ungrouped convolutions only, not node `{name}` (groups {node.groups})"
        )
    weight = np.asarray(node.weight, np.float64)
    windows = _windows(value, weight.shape[2:], node.stride, node.padding, node.dilation)
    out = np.einsum("nchwij,ocij->nohw", windows, weight)
    return out + np.asarray(node.bias, np.float64).reshape(1, -1, 1, 1)


def _pool(value: np.ndarray, kernel: Any, stride: Any, padding: Any, average: bool) -> Any:
    """Sum (or average, zero padding counted) over each window."""
    size = _pair(kernel)
    total = _windows(value, size, stride, padding).sum(axis=(-2, -1))
    return total / (size[0] * size[1]) if average else total


def _flatten(value: np.ndarray, start: int, end: int) -> Any:
    """Dimensions start..end (of the sample, the batch axis excluded, as NIR counts them) merged into one."""
    dims = value.ndim - 1
    first, last = 1 + (start % dims), 1 + (end % dims)
    return value.reshape(*value.shape[:first], -1, *value.shape[last + 1 :])
