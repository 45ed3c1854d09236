"""A spiking network as a NIR graph (the Neuromorphic Intermediate Representation, a `.nir` HDF5 file) and how
deploybench runs one. NIR says what each node computes in continuous time; it does not say how an input becomes
the network's input at each time step, how many steps run, which time step the runtimes discretize with, or how
the output is read. The graph's metadata says these (`deploybench_*` keys, see `RunProtocol`), so that every
spiking runtime runs the same experiment and their outputs can be compared with the reference's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploybench.backends.base import TensorSpec
from deploybench.core.errors import BackendError, ConfigurationError

if TYPE_CHECKING:
    import numpy as np

PREFIX = "deploybench_"
"""The graph metadata keys deploybench reads and writes start with this."""

INTEGER_FIELDS = ("stride", "padding", "dilation", "kernel_size", "groups", "start_dim", "end_dim")
"""Node fields that are integers, which `nir.read` returns as NumPy integers."""


class RunProtocol(BaseModel):
    """How a spiking graph is run: for each of `steps` time steps the input is encoded (`constant`: the input
    itself, an analog current at every step; `rate`: a deterministic rate code, a value x in [0, 1] spiking
    when floor(x (t + 1)) > floor(x t), x T times in T steps), the graph advances one step of `dt` seconds,
    and the outputs are summed (`sum`, spike counts) or averaged (`mean`) over the steps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(gt=0)
    dt: float = Field(gt=0)
    encoding: Literal["constant", "rate"]
    readout: Literal["sum", "mean"]

    def metadata(self) -> dict[str, Any]:
        """The protocol as graph metadata."""
        return {f"{PREFIX}{key}": value for key, value in self.model_dump().items()}

    def encode(self, value: np.ndarray, step: int) -> Any:
        """The graph's input at time step `step`."""
        import numpy as np

        if self.encoding == "constant":
            return value
        return np.floor(value * (step + 1)) - np.floor(value * step)

    def read(self, outputs: list[np.ndarray]) -> Any:
        """The result of the run from each step's output."""
        import numpy as np

        total = np.sum(outputs, axis=0)
        return total / self.steps if self.readout == "mean" else total


class Graph:
    """A NIR graph read from a file, its run protocol, and its nodes in an order each input comes before its
    consumers. A graph with a cycle (recurrent connections) is refused: the runtimes here run feed-forward graphs."""

    def __init__(self, path: Path) -> None:
        import nir

        try:
            self.graph = nir.read(str(path))
        except Exception as exc:  # h5py's and nir's own errors: a file that is not a NIR graph
            raise ConfigurationError(f"{path}: not a NIR graph ({type(exc).__name__}: {exc})") from exc
        self.path = path
        self.protocol = _protocol(self.graph.metadata, path)
        _plain_integers(self.graph)
        self.inputs_named = [name for name, node in self.graph.nodes.items() if isinstance(node, nir.Input)]
        self.outputs_named = [name for name, node in self.graph.nodes.items() if isinstance(node, nir.Output)]
        if len(self.inputs_named) != 1 or not self.outputs_named:
            raise ConfigurationError(
                f"{path}: a NIR graph needs one Input node and at least one Output node, not "
                f"{len(self.inputs_named)} and {len(self.outputs_named)}"
            )
        self.order = _ordered(self.graph.nodes, self.graph.edges, path)
        self.sources: dict[str, list[str]] = {name: [] for name in self.order}
        """Each node's input nodes, whose outputs it sums."""
        for source, target in self.graph.edges:
            self.sources[target].append(source)

    def node_types(self) -> Iterator[tuple[str, str]]:
        """Each node's name and NIR type, in order."""
        for name in self.order:
            yield name, type(self.graph.nodes[name]).__name__

    def refuse_types(self, framework: str, supported: set[str]) -> None:
        """A one-line error naming the first node whose type `framework` cannot import."""
        for name, kind in self.node_types():
            if kind not in supported | {"Input", "Output"}:
                raise BackendError(
                    f"{framework} cannot import NIR node `{name}` ({kind}) of {self.path.name}",
                    hint=f"{framework} imports {', '.join(sorted(supported))}",
                )

    def input_specs(self) -> list[TensorSpec]:
        """The input, with a dynamic batch axis before the Input node's shape."""
        name = self.inputs_named[0]
        shape = tuple(int(d) for d in self.graph.nodes[name].input_type["input"])
        return [TensorSpec(name=name, shape=(None, *shape), dtype="float32")]


def _protocol(metadata: dict[str, Any], path: Path) -> RunProtocol:
    """The `deploybench_*` metadata validated, or a one-line error naming the key to set."""
    found = {key[len(PREFIX) :]: _plain(value) for key, value in (metadata or {}).items() if key.startswith(PREFIX)}
    try:
        return RunProtocol.model_validate(found)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = f"{PREFIX}{first['loc'][0]}" if first["loc"] else "metadata"
        raise ConfigurationError(
            f"{path}: graph metadata `{key}`: {first['msg']}",
            hint="deploybench needs deploybench_steps, deploybench_dt, deploybench_encoding (constant or rate) "
            "and deploybench_readout (sum or mean) in the graph's metadata",
        ) from None


def _plain(value: Any) -> Any:
    """A metadata value read from HDF5 (NumPy scalar or bytes) as a Python value."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if hasattr(value, "item") else value


def _plain_integers(graph: Any) -> None:
    """Integer node fields as Python ints (tuples for arrays): read from HDF5 they are NumPy integers, which some
    importers hand to torch unconverted (torch's conv2d refuses a tuple of numpy.int64)."""
    import numpy as np

    for node in graph.nodes.values():
        for field in INTEGER_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
                setattr(node, field, tuple(int(v) for v in value.reshape(-1)))
            elif isinstance(value, np.integer):
                setattr(node, field, int(value))


def _ordered(nodes: dict[str, Any], edges: list[tuple[str, str]], path: Path) -> list[str]:
    """The node names in an order where every node comes after the nodes that feed it."""
    from graphlib import CycleError, TopologicalSorter

    sorter: TopologicalSorter[str] = TopologicalSorter({name: set() for name in nodes})
    for source, target in edges:
        if source not in nodes or target not in nodes:
            missing = source if source not in nodes else target
            raise ConfigurationError(f"{path}: an edge names node `{missing}`, which the graph does not have")
        sorter.add(target, source)
    try:
        return list(sorter.static_order())
    except CycleError as exc:
        raise BackendError(
            f"{path.name} has a recurrent connection ({' -> '.join(exc.args[1])}): deploybench runs feed-forward "
            "NIR graphs only"
        ) from None
