"""Small NIR graphs generated for the tests (never committed): seeded weights, deploybench's run protocol in the
metadata."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.backends.nir_graph import RunProtocol

CONSTANT = RunProtocol(steps=6, dt=1.0, encoding="constant", readout="sum")


def write_chain(path: Path, nodes: dict[str, Any], protocol: RunProtocol | None = CONSTANT) -> Path:
    """Nodes joined in their order, written to path with protocol as metadata (none when None)."""
    import nir

    names = list(nodes)
    metadata = protocol.metadata() if protocol is not None else {}
    graph = nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)), metadata=metadata)
    nir.write(str(path), graph)
    return path


def integrate_and_fire_chain(path: Path, gain: float = 0.5, protocol: RunProtocol | None = CONSTANT) -> Path:
    """Input(4) -> Affine (gain on the diagonal) -> IF (threshold 1, reset 0) -> Output."""
    import nir

    ones = np.ones(4, np.float32)
    nodes = {
        "x": nir.Input(input_type=np.array([4])),
        "gain": nir.Affine(weight=np.eye(4, dtype=np.float32) * gain, bias=np.zeros(4, np.float32)),
        "neurons": nir.IF(r=ones, v_threshold=ones, v_reset=0 * ones),
        "spikes": nir.Output(output_type=np.array([4])),
    }
    return write_chain(path, nodes, protocol)


def convolutional(path: Path, neuron: str = "IF", protocol: RunProtocol = CONSTANT, seed: int = 0) -> Path:
    """Input(1, 8, 8) -> Conv2d(2 channels, 3x3, padded) -> AvgPool2d(2) -> `neuron` -> Flatten -> Affine(3) ->
    Output: seeded weights large enough that the neurons fire."""
    import nir

    rng = np.random.default_rng(seed)
    shape = (2, 4, 4)
    ones = np.ones(shape, np.float32)
    if neuron == "IF":
        cell: Any = nir.IF(r=ones / protocol.dt, v_threshold=ones, v_reset=0 * ones)
    else:
        tau = 10 * protocol.dt * ones
        cell = nir.LIF(tau=tau, r=tau / protocol.dt, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones)
    nodes = {
        "image": nir.Input(input_type=np.array([1, 8, 8])),
        "conv": nir.Conv2d(
            input_shape=np.array([8, 8]),
            weight=rng.uniform(0, 0.6, (2, 1, 3, 3)).astype(np.float32),
            stride=np.array([1, 1]),
            padding=np.array([1, 1]),
            dilation=np.array([1, 1]),
            groups=1,
            bias=np.array([0.05, -0.05], np.float32),
        ),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "neurons": cell,
        "flatten": nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1),
        "readout": nir.Affine(weight=rng.standard_normal((3, 32)).astype(np.float32), bias=np.zeros(3, np.float32)),
        "scores": nir.Output(output_type=np.array([3])),
    }
    return write_chain(path, nodes, protocol)


def leaky_chain(path: Path) -> Path:
    """Input(4) -> Affine -> LIF -> Output, at dt = 1e-4 s with tau = 1 ms and r = tau / dt (a decay of 0.9 a
    step and the input added whole, as snnTorch's importer requires), rate-coded input, spike counts out."""
    import nir

    rng = np.random.default_rng(3)
    ones = np.ones(4, np.float32)
    tau = 1e-3 * ones
    nodes = {
        "x": nir.Input(input_type=np.array([4])),
        "weights": nir.Affine(weight=rng.uniform(0, 1.5, (4, 4)).astype(np.float32), bias=np.zeros(4, np.float32)),
        "neurons": nir.LIF(tau=tau, r=tau / 1e-4, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones),
        "spikes": nir.Output(output_type=np.array([4])),
    }
    return write_chain(path, nodes, RunProtocol(steps=8, dt=1e-4, encoding="rate", readout="sum"))
