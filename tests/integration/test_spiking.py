"""The spiking runtimes for real, from the `pytorch` toolchain environment: snnTorch, norse and SpikingJelly
import the same NIR graphs and run them through deploybench's run protocol, each compared with the NIR reference
on the same inputs; the zoo exports its IF LeNet to NIR and says what the export costs; what a runtime or NIR
cannot take is a one-line error naming the node or the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import require_toolchain
from tests.support.spiking import CONSTANT, convolutional, write_chain

from deploybench.backends.nir_graph import RunProtocol
from deploybench.zoo.cache import CACHE_ENV

RUNTIMES = ("-F", "snntorch", "-F", "norse", "-F", "spikingjelly")
SHORT = ("--min-samples", "10", "--max-duration", "1")


@pytest.fixture(scope="module", autouse=True)
def toolchain() -> None:
    """The installed `pytorch` toolchain environment (`make test` installs it)."""
    require_toolchain("pytorch")


def _results(cli: Run, db: str) -> dict[str, dict[str, Any]]:
    _, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    return {record["job"]["framework"]: record for record in json.loads(listed)}


def test_an_if_graph_runs_on_norse_and_spikingjelly_as_the_reference_computes_it(cli: Run, tmp_path: Path) -> None:
    model, db = convolutional(tmp_path / "if.nir"), f"sqlite:///{tmp_path / 'r.db'}"
    status, _, err = cli("run", str(model), *RUNTIMES, *SHORT, "--db", db)
    assert status != 0, "snnTorch's IF import fails, so the run reports a failure"
    results = _results(cli, db)
    for name in ("norse", "spikingjelly"):
        record = results[name]
        assert record["status"] == "ok", record["failure"]
        assert record["fidelity"]["reference"].startswith("nir-reference")
        assert record["fidelity"]["top1_agreement"] == 1.0
        assert record["fidelity"]["outputs"][0]["max_abs_error"] < 1e-5
        assert record["measurements"]
    converter = results["norse"]["provenance"]["converter"]
    assert "Flatten dimensions shifted past the batch axis" in converter and "AvgPool2d as SumPool2d" in converter
    failure = results["snntorch"]["failure"]
    assert failure["phase"] == "prepare" and "imports NIR IF node `neurons` as a leaky neuron" in failure["message"]
    assert "Traceback" not in err


def test_the_lif_discretization_of_each_runtime_is_measured(cli: Run, tmp_path: Path) -> None:
    protocol = RunProtocol(steps=8, dt=1e-4, encoding="rate", readout="sum")
    model, db = convolutional(tmp_path / "lif.nir", "LIF", protocol), f"sqlite:///{tmp_path / 'r.db'}"
    status, _, err = cli("run", str(model), "-F", "snntorch,norse,spikingjelly", *SHORT, "--db", db)
    assert status == 0, err
    results = _results(cli, db)
    assert results["spikingjelly"]["fidelity"]["top1_agreement"] == 1.0
    assert results["spikingjelly"]["fidelity"]["outputs"][0]["max_abs_error"] < 1e-4, "float32 against float64 only"
    for name in ("snntorch", "norse"):
        assert results[name]["fidelity"]["inputs"] > 0 and results[name]["fidelity"]["top1_agreement"] is not None
        assert (
            f"{name} " in results[name]["provenance"]["converter"]
            and "dt 0.0001 s" in results[name]["provenance"]["converter"]
        )


def test_a_node_a_runtime_cannot_import_is_named(cli: Run, tmp_path: Path) -> None:
    import nir

    nodes = {
        "x": nir.Input(input_type=np.array([3])),
        "halve": nir.Scale(scale=np.full(3, 0.5, np.float32)),
        "y": nir.Output(output_type=np.array([3])),
    }
    model, db = write_chain(tmp_path / "scale.nir", nodes, CONSTANT), f"sqlite:///{tmp_path / 'r.db'}"
    status, _, err = cli("run", str(model), "-F", "norse", *SHORT, "--db", db)
    assert status != 0 and "Traceback" not in err
    assert "norse cannot import NIR node `halve` (Scale) of scale.nir" in err


def test_the_zoo_exports_its_if_lenet_to_nir_and_the_runtimes_run_it_on_held_out_digits(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "zoo"))
    status, _, err = cli("zoo", "build", "snn-lenet-ann2snn", "--reduced", "-F", "nir")
    assert status == 0, err
    built = next((tmp_path / "zoo").rglob("artifact.json"))
    artifact = json.loads(built.read_text())
    assert artifact["format"] == "nir"
    assert "the NIR reference against the trained network on 200 held-out rows" in artifact["built"]["exporter"]
    model, data = built.parent / "snn-lenet-ann2snn.nir", built.parent / "snn-lenet-ann2snn-data.npz"
    db = f"sqlite:///{tmp_path / 'r.db'}"
    status, _, err = cli("run", str(model), "-F", "spikingjelly", "--data", str(data), *SHORT, "--db", db)
    assert status == 0, err
    record = _results(cli, db)["spikingjelly"]
    assert record["fidelity"]["top1_agreement"] == 1.0 and record["fidelity"]["accuracy"] is not None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("snn-lenet-stdp", "NIR cannot describe its winner-take-all inhibition"),
        ("snn-lenet-surrogate", "NIR cannot describe its 2x2 max pooling"),
        ("unet", "NIR describes spiking networks only"),
    ],
)
def test_networks_nir_cannot_describe_are_refused_with_the_reason(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "zoo"))
    status, _, err = cli("zoo", "build", name, "--reduced", "-F", "nir")
    assert status != 0 and "Traceback" not in err
    assert message in err
