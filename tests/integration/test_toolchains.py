"""Toolchain environments for real: definitions (built-in and a user's), a real install with pip of a toolchain
that hosts the third-party example backend, a job placed and run from it, staleness, removal, and the error
paths (unknown name, bad definition, failing install that leaves nothing behind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.integration.test_plugin import PLUGIN
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier

from deploybench.campaign.runner import run_jobs
from deploybench.core.errors import ConfigurationError
from deploybench.core.records import Status
from deploybench.store import ResultStore
from deploybench.worker.placement import Placer
from deploybench.worker.toolchains import (
    DEFINITIONS_ENV,
    HOME_ENV,
    MANIFEST,
    definitions,
    deploybench_requirement,
    host_of,
    installed,
)

EXAMPLE = """\
name: example
description: The example third-party backend, in an environment of its own.
why: A test of the toolchain machinery.
backends: [example-numpy]
requirements:
  - {plugin}
"""


@pytest.fixture
def user_definitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir()
    monkeypatch.setenv(DEFINITIONS_ENV, str(folder))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "toolchains"))
    return folder


def test_the_builtin_litert_toolchain_pins_its_converter() -> None:
    litert = definitions()["litert"]
    assert litert.backends == ("litert",) and host_of("litert") == litert
    assert "onnx2tf==1.29.24" in litert.requirements and all("==" in r for r in litert.requirements)
    assert host_of("onnxruntime") is None


def test_deploybench_goes_into_a_toolchain_from_the_same_source() -> None:
    requirement = deploybench_requirement()
    assert requirement[0] == "-e" and Path(requirement[1], "src", "deploybench").is_dir()


def test_a_user_definition_is_found_and_a_bad_one_is_named(user_definitions: Path) -> None:
    (user_definitions / "example.yaml").write_text(EXAMPLE.format(plugin=PLUGIN), encoding="utf-8")
    assert host_of("example-numpy") == definitions()["example"]
    (user_definitions / "broken.yaml").write_text("name: broken\ndescription: x\nwhy: y\nbackends: []\n")
    with pytest.raises(ConfigurationError, match=r"broken.yaml: `backends`: .*at least 1 item"):
        definitions()


def test_unknown_toolchains_are_refused(cli: Run) -> None:
    status, out, err = cli("toolchain", "install", "nope")
    assert status == 2 and out == ""
    assert err.strip() == f"error: unknown toolchain `nope`; use one of: {', '.join(sorted(definitions()))}"
    status, _, err = cli("toolchain", "remove", "nope")
    assert status == 2 and "unknown toolchain `nope`" in err


def test_a_failing_install_says_why_and_leaves_nothing(cli: Run, user_definitions: Path, tmp_path: Path) -> None:
    definition = EXAMPLE.format(plugin="deploybench-no-such-package==0.0.1").replace("example", "doomed", 1)
    (user_definitions / "doomed.yaml").write_text(definition, encoding="utf-8")
    status, _, err = cli("toolchain", "install", "doomed", "--quiet")
    assert status == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("error: toolchain `doomed`: pip install failed (exit status 1): ")
    assert "deploybench-no-such-package" in line and line.endswith(
        "nothing was kept; fix the cause and run the install again"
    )
    assert not (tmp_path / "toolchains" / "doomed").exists() and installed("doomed") is None


def test_a_toolchain_installs_hosts_a_backend_and_is_removed(cli: Run, user_definitions: Path, tmp_path: Path) -> None:
    (user_definitions / "example.yaml").write_text(EXAMPLE.format(plugin=PLUGIN), encoding="utf-8")
    status, _, err = cli("toolchain", "install", "example", "--quiet")
    assert status == 0, err
    present = installed("example")
    assert present is not None and not present.stale
    assert any(p.startswith("deploybench-example-backend") for p in present.packages)
    status, _, err = cli("toolchain", "install", "example")
    assert status == 0 and "already installed" in err

    model = tiny_classifier(tmp_path / "tiny.onnx")
    job = quick_job(model, "example-numpy", settings={})
    with ResultStore.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        outcome = run_jobs([job], store, placer=Placer())
        record = store.get(outcome.stored[0])
    assert record.status is Status.OK, record.failure
    assert record.provenance is not None and record.provenance.environment == "example"
    assert record.fidelity is not None and record.fidelity.top1_agreement == 1.0

    (user_definitions / "example.yaml").write_text(
        EXAMPLE.format(plugin=PLUGIN) + "  - six==1.16.0\n", encoding="utf-8"
    )
    status, out, _ = cli("toolchain", "list", "--format", "json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["example"]["installed"] == "stale: install again" and rows["litert"]["installed"] in ("yes", "no")

    status, _, err = cli("toolchain", "remove", "example")
    assert status == 0 and not (tmp_path / "toolchains" / "example" / MANIFEST).exists()
    status, _, err = cli("toolchain", "remove", "example")
    assert status == 2 and "toolchain `example` is not installed" in err
