"""Inside the worker: prepare, load, bind, warm up, sample, compare with the reference, report.

Every failure the worker can catch becomes a failed ResultRecord naming the phase it happened in.
"""

from __future__ import annotations

import itertools
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from deploybench.backends.base import Backend, Emulates, Session, Simulates
from deploybench.backends.registry import load_backend, registered
from deploybench.core.errors import BackendError, ConfigurationError, DeploybenchError, PluginError
from deploybench.core.formats import model_format
from deploybench.core.hashing import file_sha256
from deploybench.core.records import (
    Failure,
    Fidelity,
    JobSpec,
    LoadGenRun,
    Measurement,
    ModelRef,
    Resources,
    ResultRecord,
    ScenarioKind,
    Status,
    Timing,
)
from deploybench.measure.clock import MonotonicClock
from deploybench.measure.fidelity import compare
from deploybench.measure.loadgen import drive
from deploybench.measure.monitors import EnergyMeter, current_rss_bytes, peak_rss_bytes
from deploybench.measure.sampling import SamplingOutcome, sample, warm_up
from deploybench.measure.server import serve
from deploybench.measure.stability import environment_warnings, series_warnings
from deploybench.measure.stats import determinism, summarize
from deploybench.worker.inputs import Feeds, InputSet, build_inputs
from deploybench.worker.provenance import provenance


class _Phases:
    def __init__(self, announce: Callable[[str], None]) -> None:
        self.current = "start"
        self.framework_version = "unknown (the framework was not loaded)"
        self._announce = announce

    def enter(self, phase: str) -> None:
        self.current = phase
        self._announce(phase)


def run_job(job: JobSpec, announce: Callable[[str], None]) -> ResultRecord:
    """Measure one job; a failure becomes a failed record (with its provenance), never an exception."""
    phases = _Phases(announce)
    started = datetime.now(timezone.utc)
    try:
        return _measure(job, phases, started)
    except DeploybenchError as exc:
        failure = Failure(kind="error", phase=phases.current, message=str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # a runtime's own exception: reported with its traceback, never lost
        failure = Failure(
            kind="error",
            phase=phases.current,
            message=f"{type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            stderr_tail=traceback.format_exc()[-4000:],
        )
    return ResultRecord(
        job_key=job.key(),
        job=job,
        status=Status.FAILED,
        failure=failure,
        provenance=provenance(phases.framework_version, dict(job.settings), started),
    )


def _measure(job: JobSpec, phases: _Phases, started: datetime) -> ResultRecord:
    phases.enter("prepare")
    model = _checked_model(job)
    backend = _available(job.framework)
    phases.framework_version = backend.probe().version or "unknown"
    capabilities = backend.capabilities()
    if capabilities.emulated or capabilities.simulated:
        return _off_host(job, backend, model, phases, started)
    energy = EnergyMeter()
    with tempfile.TemporaryDirectory(prefix="deploybench-") as workdir:
        prepared = backend.prepare(model, dict(job.settings), Path(workdir))
        phases.enter("load")
        start = time.perf_counter()
        session = backend.open_session(prepared)
        load_s = time.perf_counter() - start
        try:
            phases.enter("inputs")
            single = build_inputs(session.inputs(), job.data, 1)
            phases.enter("first-inference")
            session.bind(single.feeds[0])
            start = time.perf_counter()
            session.run()
            first_s = time.perf_counter() - start
            deployed = [session.infer(feeds) for feeds in single.feeds]
            rss_before = current_rss_bytes()
            energy.start()
            measurements = _series(job, backend, session, single, phases, MonotonicClock())
            joules = energy.stop()
            rss_growth = current_rss_bytes() - rss_before
            peak_rss = peak_rss_bytes()
            loadgen = _loadgen(job, session, single, measurements, phases) if job.loadgen else None
        finally:
            session.close()
        phases.enter("fidelity")
        fidelity, unchecked = _fidelity(job, model, single, deployed, Path(workdir))
        converted = prepared.artifact.is_file() and prepared.artifact.resolve() != model.resolve()
        artifact_bytes = prepared.artifact.stat().st_size if converted else job.model.size_bytes
    inferences = sum(m.summary.count * m.batch_size for m in measurements)
    resources = Resources(
        prepare_s=prepared.prepare_s,
        load_s=load_s,
        first_inference_s=first_s,
        peak_rss_bytes=peak_rss,
        rss_growth_bytes=rss_growth,
        artifact_size_bytes=artifact_bytes,
        energy_per_inference_j=joules / inferences if joules is not None and inferences else None,
        energy_unavailable=energy.unavailable_reason,
    )
    return ResultRecord(
        job_key=job.key(),
        job=job,
        status=Status.OK,
        measurements=tuple(measurements),
        resources=resources,
        fidelity=fidelity,
        provenance=provenance(phases.framework_version, prepared.settings, started, prepared.converter),
        warnings=tuple(_warnings(measurements) + unchecked),
        loadgen=loadgen,
    )


def _off_host(job: JobSpec, backend: Backend, model: Path, phases: _Phases, started: datetime) -> ResultRecord:
    """A deployment run as firmware on an emulated board, or in a simulation of its hardware design: every input
    through it once, what the emulation counted (or how it was simulated) recorded, its outputs checked against
    the reference; no host time is measured, since the emulator's or simulator's wall-clock time says nothing of
    the hardware's."""
    simulated = backend.capabilities().simulated
    kind = "a simulation of its hardware design" if simulated else "an emulated board"
    if job.scenario.kind is not ScenarioKind.SINGLE_STREAM or job.loadgen:
        raise ConfigurationError(
            f"framework `{job.framework}` runs on {kind}: single-stream only, without LoadGen",
            hint="its figures are not times",
        )
    emulation, simulation = None, None
    with tempfile.TemporaryDirectory(prefix="deploybench-") as workdir:
        prepared = backend.prepare(model, dict(job.settings), Path(workdir))
        phases.enter("load")
        session = backend.open_session(prepared)
        try:
            phases.enter("inputs")
            single = build_inputs(session.inputs(), job.data, 1)
            if simulated:
                if not isinstance(session, Simulates):
                    raise BackendError(f"framework `{job.framework}` says it is simulated but its session cannot")
                phases.enter("simulate")
                deployed, simulation = session.simulate(list(single.feeds))
            else:
                if not isinstance(session, Emulates):
                    raise BackendError(f"framework `{job.framework}` says it is emulated but its session cannot")
                phases.enter("emulate")
                deployed, emulation = session.emulate(list(single.feeds))
        finally:
            session.close()
        phases.enter("fidelity")
        fidelity, unchecked = _fidelity(job, model, single, deployed, Path(workdir))
    prepare = {"prepare_s": prepared.prepare_s}
    return ResultRecord(
        job_key=job.key(),
        job=job,
        status=Status.OK,
        fidelity=fidelity,
        provenance=provenance(phases.framework_version, prepared.settings, started, prepared.converter),
        warnings=tuple(unchecked),
        emulation=emulation.model_copy(update=prepare) if emulation else None,
        simulation=simulation.model_copy(update=prepare) if simulation else None,
    )


def _loadgen(
    job: JobSpec, session: Session, single: InputSet, measurements: list[Measurement], phases: _Phases
) -> LoadGenRun:
    """The same bound inference (batch 1) driven by LoadGen, told the median deploybench measured."""
    phases.enter("loadgen")
    call = _timed_call(job.timing, session, single)
    expected_s = measurements[0].summary.median_us / 1e6
    return drive(call, job.scenario.kind, expected_s, job.stopping)


def _checked_model(job: JobSpec) -> Path:
    return _checked(job.model, "model")


def _checked(ref: ModelRef, what: str) -> Path:
    model = Path(ref.path)
    if not model.is_file():
        raise ConfigurationError(f"{model}: no such {what} file", hint="give the path of a model file")
    if file_sha256(model) != ref.sha256:
        raise ConfigurationError(f"{model}: the file changed since the job was planned", hint="run the job again")
    return model


def _warnings(measurements: list[Measurement]) -> list[str]:
    resolution_ns = time.get_clock_info("perf_counter").resolution * 1e9
    warnings = environment_warnings()
    for measurement in measurements:
        warnings += [
            f"batch {measurement.batch_size}: {w}" for w in series_warnings(measurement.summary, resolution_ns)
        ]
    return warnings


def _available(name: str) -> Backend:
    backend = load_backend(name)
    probe = backend.probe()
    if not probe.available:
        raise BackendError(f"framework `{name}` is not available here: {probe.reason}")
    return backend


def _series(
    job: JobSpec, backend: Backend, session: Session, single: InputSet, phases: _Phases, clock: MonotonicClock
) -> list[Measurement]:
    scenario = job.scenario
    if scenario.kind is ScenarioKind.SERVER:
        if not backend.capabilities().concurrent_sessions:
            raise BackendError(f"framework `{job.framework}` cannot serve concurrent requests: no server scenario")
        if scenario.target_qps is None:
            raise ConfigurationError("the server scenario needs a target arrival rate", hint="give --qps")
        request = _timed_call(Timing.END_TO_END, session, single)
        phases.enter("warmup")
        warmup = warm_up(request, job.stopping, clock)
        phases.enter("serve")
        outcome = serve(request, scenario.target_qps, scenario.concurrency, job.stopping)
        return [_measurement(job, 1, outcome, warmup.runs, warmup.stable)]
    batches = scenario.batch_sizes if scenario.kind is ScenarioKind.OFFLINE else (1,)
    measurements = []
    for batch in batches:
        inputs = single if batch == 1 else build_inputs(session.inputs(), job.data, batch)
        call = _timed_call(job.timing, session, inputs)
        phases.enter(f"warmup batch {batch}")
        warmup = warm_up(call, job.stopping, clock)
        phases.enter(f"sample batch {batch}")
        outcome = sample(call, job.stopping, clock)
        measurements.append(_measurement(job, batch, outcome, warmup.runs, warmup.stable))
    return measurements


def _timed_call(timing: Timing, session: Session, inputs: InputSet) -> Callable[[], None]:
    if timing is Timing.BOUND:
        session.bind(inputs.feeds[0])
        return session.run
    feeds = itertools.cycle(inputs.feeds)
    return lambda: _discard(session.infer(next(feeds)))


def _discard(_: object) -> None:
    return None


def _measurement(
    job: JobSpec, batch: int, outcome: SamplingOutcome, warmup_runs: int, warmup_stable: bool
) -> Measurement:
    samples = outcome.samples_us
    summary = summarize(samples, job.stopping.confidence)
    sampling_s = outcome.sampling_s
    return Measurement(
        scenario=job.scenario.kind,
        batch_size=batch,
        target_qps=job.scenario.target_qps if job.scenario.kind is ScenarioKind.SERVER else None,
        samples_us=tuple(samples),
        summary=summary,
        determinism=determinism(summary),
        throughput_per_s=len(samples) * batch / sampling_s if sampling_s > 0 else 0.0,
        warmup_runs=warmup_runs,
        warmup_stable=warmup_stable,
        stopped_by=outcome.stopped_by,
        sampling_s=sampling_s,
    )


def _fidelity(
    job: JobSpec, model: Path, single: InputSet, outputs: list[Feeds], workdir: Path
) -> tuple[Fidelity | None, list[str]]:
    """The outputs against the reference's, or no fidelity and the warning why none could be checked; an
    optimized model is checked against the FP32 model it was made from."""
    if job.optimization is not None:
        model = _checked(job.optimization.source, "the FP32 model it was optimized from")
    name = job.reference or _reference_for(model_format(model))
    if name is None:
        return None, [f"fidelity not checked: no reference evaluator for {model_format(model)} models is installed"]
    reference = _available(name)
    prepared = reference.prepare(model, {}, workdir)
    session = reference.open_session(prepared)
    try:
        expected = [session.infer(feeds) for feeds in single.feeds]
    finally:
        session.close()
    return compare(outputs, expected, f"{name} {reference.probe().version}", single.labels), []


def _reference_for(model_format: str) -> str | None:
    """The first available reference evaluator (in name order) that reads model_format."""
    for name in sorted(registered()):
        try:
            backend = load_backend(name)
        except PluginError:
            continue
        capabilities = backend.capabilities()
        if not capabilities.deployment and model_format in capabilities.input_formats and backend.probe().available:
            return name
    return None
