"""Every registered backend keeps the backend contract on a real runtime; the contract catches broken fakes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from tests.support.jobs import require_toolchain
from tests.support.models import tiny_classifier
from tests.support.pytorch_models import tiny_program
from tests.support.spiking import leaky_chain
from tests.support.tflite_models import tiny_tflite

from deploybench.backends.base import Capabilities, Prepared, Probe
from deploybench.backends.contract import UNKNOWN_SETTING, check_backend
from deploybench.backends.onnxruntime import SETTINGS, OnnxRuntimeBackend
from deploybench.backends.registry import load_backend, registered
from deploybench.core.records import SettingValue
from deploybench.worker.toolchains import definitions, host_of

MODELS: dict[str, Callable[[Path], Path]] = {
    "onnx": lambda folder: tiny_classifier(folder / "tiny.onnx"),
    "pytorch": lambda folder: tiny_program(folder / "tiny.pt2"),
    "tflite": lambda folder: tiny_tflite(folder / "tiny.tflite")[0],
    "nir": lambda folder: leaky_chain(folder / "tiny.nir"),
}
"""The tiny classifier in each model format, by the format names backends declare."""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_classifier(tmp_path / "tiny.onnx")


@pytest.mark.parametrize("name", sorted(registered()))
def test_registered_backend_keeps_the_contract(name: str, tmp_path: Path) -> None:
    backend = load_backend(name)
    probe = backend.probe()
    if not probe.available:
        reason = f"{name} is unavailable: {probe.reason}"
        host = host_of(name)
        if host is not None:
            pytest.skip(f"{reason}; toolchain `{host.name}` hosts it, where the next test checks it")
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(reason)
    formats = backend.capabilities().input_formats
    known = [f for f in formats if f in MODELS]
    if not known:
        pytest.skip(f"{name} takes {', '.join(formats)}: the contract test has no model in these formats")
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert check_backend(backend, MODELS[known[0]](tmp_path), workdir) == []


CHECK_IN_ENVIRONMENT = """
import json, sys
from pathlib import Path
from deploybench.backends.contract import check_backend
from deploybench.backends.registry import load_backend
print(json.dumps(check_backend(load_backend(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
"""


@pytest.mark.parametrize(
    ("toolchain", "name"), [(spec.name, name) for spec in definitions().values() for name in spec.backends]
)
def test_hosted_backends_keep_the_contract_in_their_toolchain(toolchain: str, name: str, tmp_path: Path) -> None:
    """In its toolchain, on ONNX where it takes ONNX (the conversion path: converted by the toolchain's
    converter), else on its first format the test has a model in."""
    present = require_toolchain(toolchain)
    formats = load_backend(name).capabilities().input_formats
    model = MODELS["onnx" if "onnx" in formats else next(f for f in formats if f in MODELS)](tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    command = [present.python, "-c", CHECK_IN_ENVIRONMENT, name, str(model), str(workdir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


class _DriftingSession:
    """An ONNX Runtime session whose outputs move a little with every run after a bind."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._runs = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def bind(self, feeds: dict[str, np.ndarray]) -> None:
        self._inner.bind(feeds)
        self._runs = 0

    def run(self) -> None:
        self._inner.run()
        self._runs += 1

    def outputs(self) -> dict[str, np.ndarray]:
        return {n: a + (self._runs - 1) * 1e-3 for n, a in self._inner.outputs().items()}


class FakeDriftingBackend(OnnxRuntimeBackend):
    """Fake: outputs change between two runs on the same bound inputs."""

    name: ClassVar[str] = "fake-drifting"

    def open_session(self, prepared: Prepared) -> Any:
        return _DriftingSession(super().open_session(prepared))


class FakePermissiveBackend(OnnxRuntimeBackend):
    """Fake: silently ignores settings it does not know."""

    name: ClassVar[str] = "fake-permissive"

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        return super().prepare(model, {k: v for k, v in settings.items() if k in SETTINGS}, workdir)


class FakeVagueBackend(OnnxRuntimeBackend):
    """Fake: no version, and only the settings it was given reported (defaults not resolved)."""

    name: ClassVar[str] = "fake-vague"

    def probe(self) -> Probe:
        return Probe(True)

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        prepared = super().prepare(model, settings, workdir)
        return Prepared(artifact=prepared.artifact, prepare_s=prepared.prepare_s, settings=dict(settings))

    def open_session(self, prepared: Prepared) -> Any:
        return super().open_session(super().prepare(prepared.artifact, prepared.settings, prepared.artifact.parent))


class FakeBatchOfOneBackend(OnnxRuntimeBackend):
    """Fake: says it deploys at batch one only, but its inputs() keep the batch axis dynamic."""

    name: ClassVar[str] = "fake-batch-of-one"

    def capabilities(self) -> Capabilities:
        return replace(super().capabilities(), dynamic_batch=False)


@pytest.mark.parametrize(
    ("fake", "violations"),
    [
        (
            FakeBatchOfOneBackend,
            ["capabilities() says dynamic_batch=False, but inputs() does not fix the batch axis at 1."],
        ),
        (
            FakeDriftingBackend,
            [
                "outputs() at batch 1 differ between two run() calls on the same bound inputs.",
                "outputs() at batch 3 differ between two run() calls on the same bound inputs.",
            ],
        ),
        (
            FakePermissiveBackend,
            [f"prepare() accepts the unknown setting `{UNKNOWN_SETTING}` instead of raising BackendError."],
        ),
        (
            FakeVagueBackend,
            [
                "probe() gives no version although the backend is available.",
                "prepare() returns no settings although capabilities() declares some.",
            ],
        ),
    ],
)
def test_the_contract_reports_broken_backends(fake: type, violations: list[str], model: Path, tmp_path: Path) -> None:
    assert check_backend(fake(), model, tmp_path) == violations
