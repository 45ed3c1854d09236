"""MLPerf LoadGen beside the harness, for real: the same bound deployment driven by LoadGen in the worker, its
logs kept whole in the record, its figures printed beside deploybench's; the scenarios it cannot drive refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.jobs import require
from tests.support.models import tiny_classifier

from deploybench.backends.onnxruntime import OnnxRuntimeBackend
from deploybench.core.records import JobSpec, ModelRef, ScenarioKind
from deploybench.measure.loadgen import parse_summary

QUICK = ["--min-samples", "200", "--max-samples", "200", "--min-duration", "0"]


@pytest.fixture(autouse=True)
def _loadgen() -> None:
    pytest.importorskip(
        "mlperf_loadgen", reason="mlcommons-loadgen is not installed (pip install 'deploybench[loadgen]')"
    )


@pytest.mark.parametrize("scenario", ["single-stream", "offline"])
def test_loadgen_drives_the_same_deployment_and_its_logs_are_kept(cli: Run, tmp_path: Path, scenario: str) -> None:
    require(OnnxRuntimeBackend())
    model = tiny_classifier(tmp_path / "tiny.onnx")
    db = f"sqlite:///{tmp_path / 'results.db'}"
    status, out, err = cli("run", str(model), "--framework", "onnxruntime", "--loadgen", scenario, *QUICK, "--db", db)
    assert status == 0, err
    assert "deploybench beside MLPerf LoadGen" in out
    status, exported, _ = cli("results", "export", "--db", db)
    (record,) = json.loads(exported)
    run = record["loadgen"]
    assert record["job"]["scenario"]["kind"] == scenario and record["job"]["loadgen"] is True
    assert "MLPerf Results Summary" in run["summary_log"] and run["detail_log"]
    expected = "SingleStream" if scenario == "single-stream" else "Offline"
    assert f"Scenario : {expected}" in run["summary_log"]
    if scenario == "single-stream":
        assert run["median_us"] > 0 and run["p90_us"] >= run["median_us"]
    else:
        assert run["samples_per_s"] > 0


def test_the_server_scenario_is_refused_in_one_line(cli: Run, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx")
    status, _, err = cli("run", str(model), "--loadgen", "server", "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert status == 2 and "'--loadgen'" in err and "single-stream" in err
    assert "Traceback" not in err


def test_the_summary_figures_are_read_by_loadgens_own_names() -> None:
    summary = "\n".join(
        [
            "Scenario : SingleStream",
            "Result is : VALID",
            "90.0th percentile latency (ns) : 3506",
            "50.00 percentile latency (ns)   : 3255",
            "90.00 percentile latency (ns)   : 3506",
            "99.00 percentile latency (ns)   : 9000",
        ]
    )
    run = parse_summary(summary, "detail", ScenarioKind.SINGLE_STREAM, "6.0.17")
    assert (run.valid, run.median_us, run.p90_us, run.p99_us, run.samples_per_s) == (True, 3.255, 3.506, 9.0, None)


def test_jobs_without_loadgen_keep_the_keys_they_had_before_it_existed() -> None:
    from deploybench.core.hashing import sha256_of

    job = JobSpec(model=ModelRef(path="/m.onnx", sha256="0" * 64, size_bytes=1), framework="onnxruntime")
    newer = ("loadgen", "optimization")
    before = {k: v for k, v in job.model_dump(mode="json").items() if k not in newer}
    del before["data"]["sha256"]
    assert job.key() == sha256_of(before)
    assert job.model_copy(update={"loadgen": True}).key() != job.key()
    travelling = job.data.model_copy(update={"sha256": "1" * 64})
    assert job.model_copy(update={"data": travelling}).key() != job.key()
