"""One model's deployments for the dashboard's Pareto page: points from stored records, the front, the rows
and the SVG plot (or the line saying why there is none)."""

from __future__ import annotations

import numpy as np
import pytest

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import (
    Failure,
    Fidelity,
    JobSpec,
    Measurement,
    ModelRef,
    OutputFidelity,
    Resources,
    ResultRecord,
    ScenarioKind,
    Status,
)
from deploybench.measure.stats import determinism, summarize
from deploybench.report import deployments as report
from deploybench.report.deployments import deployment_rows, deployments, plot_deployments

MODEL = ModelRef(path="m.onnx", sha256="0" * 64, size_bytes=1000)


def record(
    median_us: float,
    memory_mib: int,
    size: int = 1000,
    top1: float | None = 1.0,
    checked: bool = True,
    batch: int = 1,
    threads: int = 1,
) -> ResultRecord:
    """An OK result of the model on onnxruntime with those figures (fidelity unchecked unless `checked`)."""
    job = JobSpec(model=MODEL, framework="onnxruntime", settings={"threads": threads})
    summary = summarize(median_us * np.random.default_rng(0).lognormal(0.0, 0.01, 200), 0.95)
    measurement = Measurement(
        scenario=ScenarioKind.SINGLE_STREAM,
        batch_size=batch,
        samples_us=(),
        summary=summary,
        determinism=determinism(summary),
        throughput_per_s=1.0,
        warmup_runs=10,
        warmup_stable=True,
        stopped_by="test data",
        sampling_s=1.0,
    )
    resources = Resources(
        load_s=0.1,
        first_inference_s=0.01,
        peak_rss_bytes=memory_mib * 2**20,
        rss_growth_bytes=0,
        artifact_size_bytes=size,
    )
    output = OutputFidelity(
        name="probabilities", max_abs_error=0.0, mean_abs_error=0.0, max_rel_error=0.0, cosine_similarity=0.999
    )
    fidelity = Fidelity(reference="onnx-reference", inputs=4, outputs=(output,), top1_agreement=top1)
    return ResultRecord(
        job_key=job.key(),
        job=job,
        status=Status.OK,
        measurements=(measurement,),
        resources=resources,
        fidelity=fidelity if checked else None,
    )


def marks(results: list[tuple[int, ResultRecord]]) -> dict[str, str]:
    return {row["id"]: row["Pareto"] for row in deployment_rows(deployments(results), {})}


def test_a_deployment_beaten_on_every_criterion_is_not_marked_and_trade_offs_are() -> None:
    results = [
        (1, record(100, 50)),
        (2, record(300, 60, size=2000, top1=0.9)),
        (3, record(80, 90, size=500)),
        (4, record(120, 40, size=3_000_000, top1=0.95)),
    ]
    assert marks(results) == {"1": "yes", "2": "", "3": "yes", "4": "yes"}
    rows = deployment_rows(deployments(results), {2: "raspberry-pi-4"})
    assert [row["id"] for row in rows] == ["3", "1", "4", "2"]
    slow = rows[-1]
    assert slow["target / machine"] == "raspberry-pi-4" and rows[0]["target / machine"] == "n/a"
    assert [row["size"] for row in rows] == ["500 B", "1.0 kB", "3.00 MB", "2.0 kB"]
    assert slow["peak MiB"] == "60.0" and slow["fidelity"] == "0.9000 top-1"
    assert slow["optimization"] == "none (FP32 model)" and slow["settings"] == "threads=1"


def test_latency_is_weighed_per_input_and_failed_results_are_left_out() -> None:
    failed = ResultRecord(
        job_key="k",
        job=record(1, 1).job,
        status=Status.FAILED,
        failure=Failure(kind="error", phase="load", message="no"),
    )
    results = [(1, record(100, 50)), (2, record(400, 50, batch=8)), (3, failed)]
    assert marks(results) == {"1": "", "2": "yes"}


def test_a_missing_fidelity_is_shown_as_such_and_counts_as_the_worst() -> None:
    results = [(1, record(100, 50)), (2, record(100, 50, checked=False)), (3, record(50, 50, checked=False))]
    rows = {row["id"]: row for row in deployment_rows(deployments(results), {})}
    assert rows["2"]["fidelity"] == "n/a" and rows["2"]["Pareto"] == ""
    assert rows["3"]["fidelity"] == "n/a" and rows["3"]["Pareto"] == "yes"
    assert rows["1"]["Pareto"] == "yes"
    no_top1 = deployment_rows(deployments([(1, record(100, 50, top1=None))]), {})
    assert no_top1[0]["fidelity"] == "0.999000 cosine"


def test_the_front_is_drawn_as_svg_and_what_is_not_drawn_is_said() -> None:
    pytest.importorskip("matplotlib")
    found = deployments([(1, record(100, 50)), (2, record(80, 90, threads=2)), (3, record(50, 50, checked=False))])
    svg, note = plot_deployments(found, "m.onnx")
    assert svg is not None and svg.startswith("<svg") and "#2 onnxruntime fp32 [threads=2]" in svg
    assert note == "1 deployment(s) without a fidelity figure are in the table only."
    assert plot_deployments(found[2:], "m.onnx") == (None, "No plot: no deployment has a fidelity figure.")


def test_without_matplotlib_the_page_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ConfigurationError("plotting needs matplotlib, which is not installed")

    monkeypatch.setattr(report, "pyplot", missing)
    svg, note = plot_deployments(deployments([(1, record(100, 50))]), "m.onnx")
    assert svg is None and "pip install 'deploybench[select]'" in note
