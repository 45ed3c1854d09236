"""Quick jobs for the tests: a short stopping rule, a job builder, and the check that a runtime is installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploybench.backends.base import Backend
from deploybench.campaign.plan import model_ref
from deploybench.core.records import InputData, JobSpec, ResultRecord, Status, StoppingRule
from deploybench.worker.toolchains import HOME_ENV, Installed, installed

QUICK = StoppingRule(min_samples=20, max_samples=2000, min_duration_s=0.05, max_duration_s=1.0, warmup_max=50)
"""A stopping rule that ends sampling within about a second: tests check behaviour, not latency."""


def quick_job(model: Path, framework: str, **changes: object) -> JobSpec:
    """A one-thread job of four random inputs on model, sampled under QUICK; changes override any field."""
    fields: dict[str, object] = {
        "model": model_ref(model),
        "framework": framework,
        "settings": {"threads": 1},
        "stopping": QUICK,
        "data": InputData(count=4),
        "timeout_s": 120,
    }
    fields.update(changes)
    return JobSpec.model_validate(fields)


def require(backend: Backend) -> None:
    """Skip when the backend's runtime is missing, unless DEPLOYBENCH_REQUIRE_BACKENDS is set: then fail."""
    probe = backend.probe()
    if not probe.available:
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{probe.reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(str(probe.reason))


def assert_faithful_single_stream(record: ResultRecord) -> None:
    """A successful single-stream result at batch 1 whose one output matches the reference's closely."""
    assert record.status is Status.OK, record.failure
    (measurement,) = record.measurements
    assert measurement.batch_size == 1 and measurement.summary.count >= QUICK.min_samples
    assert record.fidelity is not None
    (output,) = record.fidelity.outputs
    assert output.name == "probabilities" and output.cosine_similarity > 0.9999 and output.max_abs_error < 1e-5
    assert record.fidelity.top1_agreement == 1.0


def require_toolchain(name: str) -> Installed:
    """The installed toolchain environment name (`make test` installs it); a skip without it, unless
    DEPLOYBENCH_REQUIRE_BACKENDS is set: then fail."""
    found = installed(name)
    if found is None:
        reason = f"toolchain `{name}` is not installed (deploybench toolchain install {name}, with {HOME_ENV} set)"
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{reason} (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(reason)
    return found
