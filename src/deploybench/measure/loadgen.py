"""An independent check of the harness: the same bound inference driven by MLPerf LoadGen (mlcommons-loadgen,
the reference load generator), whose own figures and logs are kept beside deploybench's."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from deploybench.core.errors import ConfigurationError
from deploybench.core.records import LoadGenRun, ScenarioKind, StoppingRule

SAMPLES = 1024
"""Sample slots of the query sample library; every one runs the same bound inputs."""
FIGURE = re.compile(r"^([^:]+?)\s*:\s*([-+0-9.eE]+)\s*$")


def drive(call: Callable[[], None], scenario: ScenarioKind, expected_s: float, stopping: StoppingRule) -> LoadGenRun:
    """Run LoadGen in performance mode on call (one inference), in the scenario given, with the job's sample
    counts and durations; LoadGen's summary figures and its two logs."""
    try:
        import mlperf_loadgen as lg
    except ImportError as exc:
        raise ConfigurationError(
            "MLPerf LoadGen is not installed in this environment", hint="pip install 'deploybench[loadgen]'"
        ) from exc
    settings = _settings(lg, scenario, expected_s, stopping)

    def issue(queries: list[Any]) -> None:
        for query in queries:
            call()
            lg.QuerySamplesComplete([lg.QuerySampleResponse(query.id, 0, 0)])

    sut = lg.ConstructSUT(issue, lambda: None)
    library = lg.ConstructQSL(SAMPLES, SAMPLES, lambda _: None, lambda _: None)
    with tempfile.TemporaryDirectory(prefix="deploybench-loadgen-") as folder:
        output = lg.LogOutputSettings()
        output.outdir = folder
        output.copy_summary_to_stdout = False
        logging = lg.LogSettings()
        logging.log_output = output
        logging.enable_trace = False
        try:
            lg.StartTestWithLogSettings(sut, library, settings, logging)
        finally:
            lg.DestroyQSL(library)
            lg.DestroySUT(sut)
        summary = (Path(folder) / "mlperf_log_summary.txt").read_text(encoding="utf-8")
        detail = (Path(folder) / "mlperf_log_detail.txt").read_text(encoding="utf-8")
    return parse_summary(summary, detail, scenario, version("mlcommons-loadgen"))


def parse_summary(summary: str, detail: str, scenario: ScenarioKind, loadgen_version: str) -> LoadGenRun:
    """LoadGen's figures, read from its summary log by LoadGen's own names."""
    figures: dict[str, float] = {}
    for line in summary.splitlines():
        found = FIGURE.match(line.strip())
        if found:
            figures.setdefault(found.group(1).strip(), float(found.group(2)))

    def micro(name: str) -> float | None:
        value = figures.get(name)
        return None if value is None else value / 1000

    return LoadGenRun(
        version=loadgen_version,
        scenario=scenario,
        valid="Result is : VALID" in summary,
        median_us=micro("50.00 percentile latency (ns)"),
        p90_us=micro("90.00 percentile latency (ns)"),
        p99_us=micro("99.00 percentile latency (ns)"),
        samples_per_s=figures.get("Samples per second"),
        summary_log=summary,
        detail_log=detail,
    )


def _settings(lg: Any, scenario: ScenarioKind, expected_s: float, stopping: StoppingRule) -> Any:
    settings = lg.TestSettings()
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_duration_ms = int(stopping.min_duration_s * 1000)
    settings.max_duration_ms = int(stopping.max_duration_s * 1000)
    settings.min_query_count = stopping.min_samples
    settings.max_query_count = stopping.max_samples
    if scenario is ScenarioKind.SINGLE_STREAM:
        settings.scenario = lg.TestScenario.SingleStream
        settings.single_stream_expected_latency_ns = max(1, int(expected_s * 1e9))
    elif scenario is ScenarioKind.OFFLINE:
        settings.scenario = lg.TestScenario.Offline
        settings.offline_expected_qps = 1.0 / expected_s
    else:
        raise ConfigurationError(
            f"LoadGen drives single-stream and offline runs here, not {scenario.value}",
            hint="use --loadgen single-stream or --loadgen offline",
        )
    return settings
