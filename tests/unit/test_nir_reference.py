"""The NIR reference evaluator computes NIR's definitions (forward Euler at the protocol's dt, reset to v_reset
above the threshold) and the run protocol (encoding, steps, read-out); malformed graphs are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.spiking import CONSTANT, convolutional, integrate_and_fire_chain, write_chain

from deploybench.backends.nir_graph import Graph, RunProtocol
from deploybench.backends.nir_reference import NirReferenceBackend
from deploybench.core.errors import BackendError, ConfigurationError


def _run(path: Path, value: np.ndarray) -> np.ndarray:
    backend = NirReferenceBackend()
    session = backend.open_session(backend.prepare(path, {}, path.parent))
    return next(iter(session.infer({"x": value}).values()))


def test_integrate_and_fire_counts_the_spikes_the_definition_gives(tmp_path: Path) -> None:
    # gain 0.5 on a constant input 1: the potential goes 0.5, 1.0 (at the threshold, not above: no spike), 1.5
    # (spike, reset to 0), 0.5, 1.0, 1.5 (spike) in six steps; input 2 gives 1.0, 2.0 (spike), 1.0, 2.0 (spike), ...
    path = integrate_and_fire_chain(tmp_path / "if.nir", gain=0.5)
    counts = _run(path, np.array([[1.0, 0.0, 2.0, 4.0]], np.float32))
    assert counts.tolist() == [[2.0, 0.0, 3.0, 6.0]]


def test_rate_coding_and_mean_read_out(tmp_path: Path) -> None:
    protocol = RunProtocol(steps=4, dt=1.0, encoding="rate", readout="mean")
    path = integrate_and_fire_chain(tmp_path / "rate.nir", gain=1.5, protocol=protocol)
    # x = 0.5 spikes at steps 1 and 3 of 4; each input spike (1.5 > 1) makes the neuron spike at once
    assert _run(path, np.array([[0.5, 1.0, 0.0, 0.25]], np.float32)).tolist() == [[0.5, 1.0, 0.0, 0.25]]


def test_convolution_and_pooling_match_torch(tmp_path: Path) -> None:
    import nir
    import torch

    path = convolutional(tmp_path / "conv.nir")
    graph = nir.read(str(path))
    one_step = RunProtocol(steps=1, dt=1.0, encoding="constant", readout="sum")
    nodes = {name: graph.nodes[name] for name in ("image", "conv", "pool")}
    nodes["out"] = nir.Output(output_type=np.array([2, 4, 4]))
    partial = write_chain(tmp_path / "partial.nir", nodes, one_step)
    image = np.random.default_rng(1).uniform(0, 1, (3, 1, 8, 8)).astype(np.float32)
    conv = graph.nodes["conv"]
    expected = torch.nn.functional.avg_pool2d(
        torch.nn.functional.conv2d(
            torch.from_numpy(image).double(),
            torch.from_numpy(conv.weight).double(),
            torch.from_numpy(conv.bias).double(),
            padding=1,
        ),
        2,
    ).numpy()
    np.testing.assert_allclose(_run(partial, image), expected, rtol=1e-6, atol=1e-6)


def test_a_leaky_neuron_decays_by_forward_euler(tmp_path: Path) -> None:
    import nir

    one = np.ones(1, np.float32)
    nodes = {
        "x": nir.Input(input_type=np.array([1])),
        "cell": nir.LI(tau=4 * one, r=one, v_leak=0 * one),
        "v": nir.Output(output_type=np.array([1])),
    }
    protocol = RunProtocol(steps=3, dt=1.0, encoding="constant", readout="sum")
    path = write_chain(tmp_path / "li.nir", nodes, protocol)
    # v += dt / tau (-v + x): 0.25, 0.4375, 0.578125 for x = 1
    assert _run(path, np.array([[1.0]], np.float32)).tolist() == [[0.25 + 0.4375 + 0.578125]]


def test_a_graph_without_the_run_protocol_names_the_key_to_set(tmp_path: Path) -> None:
    path = integrate_and_fire_chain(tmp_path / "bare.nir", protocol=None)
    with pytest.raises(ConfigurationError, match=r"bare.nir: graph metadata `deploybench_steps`: Field required"):
        Graph(path)


def test_a_node_the_evaluator_does_not_compute_is_named(tmp_path: Path) -> None:
    import nir

    one = np.ones(2, np.float32)
    nodes = {
        "x": nir.Input(input_type=np.array([2])),
        "cuba": nir.CubaLIF(tau_syn=one, tau_mem=one, r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        "y": nir.Output(output_type=np.array([2])),
    }
    path = write_chain(tmp_path / "cuba.nir", nodes)
    with pytest.raises(BackendError, match=r"nir-reference cannot import NIR node `cuba` \(CubaLIF\) of cuba.nir"):
        NirReferenceBackend().prepare(path, {}, tmp_path)


def test_a_recurrent_graph_is_refused_by_its_cycle(tmp_path: Path) -> None:
    import nir

    one = np.ones(2, np.float32)
    nodes = {
        "x": nir.Input(input_type=np.array([2])),
        "cell": nir.IF(r=one, v_threshold=one, v_reset=0 * one),
        "back": nir.Affine(weight=np.eye(2, dtype=np.float32), bias=0 * one),
        "y": nir.Output(output_type=np.array([2])),
    }
    edges = [("x", "cell"), ("cell", "back"), ("back", "cell"), ("cell", "y")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=CONSTANT.metadata())
    nir.write(str(tmp_path / "loop.nir"), graph)
    with pytest.raises(BackendError, match=r"has a recurrent connection .*feed-forward NIR graphs only"):
        Graph(tmp_path / "loop.nir")


def test_a_file_that_is_not_a_nir_graph_is_named(tmp_path: Path) -> None:
    path = tmp_path / "model.nir"
    path.write_text("not hdf5")
    with pytest.raises(ConfigurationError, match=r"model.nir: not a NIR graph"):
        Graph(path)
