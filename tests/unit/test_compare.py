"""A vs B: the ratio of medians, its bootstrap interval and the Mann-Whitney U test."""

from __future__ import annotations

import numpy as np
import pytest

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import (
    Failure,
    JobSpec,
    Measurement,
    ModelRef,
    ResultRecord,
    ScenarioKind,
    Status,
)
from deploybench.measure.stats import determinism, summarize
from deploybench.report.compare import compare, comparison_rows

JOB = JobSpec(model=ModelRef(path="m.onnx", sha256="0" * 64, size_bytes=1), framework="onnxruntime")


def result(samples_us: np.ndarray, batch: int = 1) -> ResultRecord:
    summary = summarize(samples_us, 0.95)
    measurement = Measurement(
        scenario=ScenarioKind.SINGLE_STREAM,
        batch_size=batch,
        samples_us=tuple(float(x) for x in samples_us),
        summary=summary,
        determinism=determinism(summary),
        throughput_per_s=1.0,
        warmup_runs=10,
        warmup_stable=True,
        stopped_by="test data",
        sampling_s=1.0,
    )
    return ResultRecord(job_key=JOB.key(), job=JOB, status=Status.OK, measurements=(measurement,))


def latencies(median_us: float, seed: int, count: int = 2000) -> np.ndarray:
    return median_us * np.random.default_rng(seed).lognormal(0.0, 0.05, count)


def test_a_real_slowdown_is_significant_and_measured() -> None:
    (comparison,) = compare(result(latencies(100, 1)), result(latencies(110, 2)))
    assert comparison.ratio == pytest.approx(1.10, rel=0.01)
    assert comparison.ratio_ci_low < comparison.ratio < comparison.ratio_ci_high
    assert comparison.ratio_ci_low > 1.0 and comparison.p_value < 1e-6
    assert comparison.verdict == "B is slower"


def test_the_same_distribution_shows_no_difference() -> None:
    (comparison,) = compare(result(latencies(100, 1)), result(latencies(100, 2)))
    assert comparison.ratio_ci_low <= 1.0 <= comparison.ratio_ci_high
    assert comparison.verdict == "no significant difference"


def test_faster_and_large_series_are_subsampled_for_the_interval() -> None:
    (comparison,) = compare(result(latencies(100, 1, 20_000)), result(latencies(80, 2, 20_000)))
    assert comparison.verdict == "B is faster"
    assert comparison.ratio == pytest.approx(0.8, rel=0.01)
    (row,) = comparison_rows([comparison])
    assert row["B/A"] == f"{comparison.ratio:.4f}" and row["verdict"] == "B is faster"


def test_only_shared_batch_sizes_and_successful_results() -> None:
    with pytest.raises(ConfigurationError, match="share no batch size"):
        compare(result(latencies(100, 1)), result(latencies(100, 2), batch=8))
    failed = ResultRecord(
        job_key=JOB.key(),
        job=JOB,
        status=Status.FAILED,
        failure=Failure(kind="error", phase="load", message="no"),
    )
    with pytest.raises(ConfigurationError, match="result B failed"):
        compare(result(latencies(100, 1)), failed)
