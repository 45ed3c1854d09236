"""`deploybench run` and `deploybench campaign run`: measure deployments and store the results."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from deploybench.campaign.frameworks import ALL, choose_frameworks
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.campaign.remote import is_remote, remote_frameworks, run_remote
from deploybench.campaign.runner import run_jobs
from deploybench.campaign.spec import available_here, load_campaign
from deploybench.catalog import load_catalog
from deploybench.cli.output import note, print_table
from deploybench.cli.progress import campaign_progress
from deploybench.cli.values import Database, parse_dims, parse_grid
from deploybench.core.errors import ConfigurationError, DeploybenchError
from deploybench.core.formats import model_format
from deploybench.core.records import InputData, JobSpec, ResultRecord, Scenario, ScenarioKind, StoppingRule, Timing
from deploybench.report.tables import SUMMARY_COLUMNS, loadgen_rows, summary_rows
from deploybench.store import ResultStore
from deploybench.store.url import redact_url
from deploybench.worker.lab import LabClient
from deploybench.worker.placement import Placer
from deploybench.zoo.build import build_model


class LoadGenScenario(str, Enum):
    """The scenarios LoadGen drives here."""

    SINGLE_STREAM = "single-stream"
    OFFLINE = "offline"


def run(
    model: Annotated[Path, typer.Argument(help="ONNX model file.")],
    framework: Annotated[
        list[str],
        typer.Option(
            "--framework",
            "-F",
            help="Backend (repeatable, or several joined by commas), or `all` for every one installed.",
        ),
    ] = ["onnxruntime"],  # noqa: B006
    threads: Annotated[str | None, typer.Option(help="Thread counts to cross, e.g. 1,2.")] = None,
    setting: Annotated[list[str] | None, typer.Option("--set", help="Backend setting NAME=V1,V2 (repeatable).")] = None,
    scenario: Annotated[
        ScenarioKind, typer.Option(help="single-stream, offline or server.")
    ] = ScenarioKind.SINGLE_STREAM,
    batch: Annotated[str, typer.Option(help="Batch sizes for offline, e.g. 1,8,32.")] = "1",
    qps: Annotated[float | None, typer.Option(help="Arrival rate for server, queries/s.")] = None,
    concurrency: Annotated[int, typer.Option(help="Concurrent requests for server.")] = 2,
    data: Annotated[Path | None, typer.Option(help="Inputs: .npz with x (and labels y).")] = None,
    count: Annotated[int, typer.Option(help="Distinct inputs (cycled, and compared for fidelity).")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of random inputs.")] = 0,
    dim: Annotated[list[str] | None, typer.Option(help="Dynamic dimension NAME=VALUE (repeatable).")] = None,
    timing: Annotated[Timing, typer.Option(help="bound (inputs bound before timing) or end-to-end.")] = Timing.BOUND,
    reference: Annotated[
        str | None, typer.Option(help="Backend giving the FP32 reference outputs (default: the one for the format).")
    ] = None,
    min_samples: Annotated[int, typer.Option(help="Fewest timed samples (at least 10).", min=10)] = 100,
    max_samples: Annotated[int, typer.Option(help="Most timed samples (at least 10).", min=10)] = 100_000,
    min_duration: Annotated[float, typer.Option(help="Shortest sampling, s.", min=0)] = 1.0,
    max_duration: Annotated[float, typer.Option(help="Longest sampling, s (above 0).", min=0.001)] = 30.0,
    ci: Annotated[float, typer.Option(help="Target half-width of the median's 95 % CI, relative.")] = 0.01,
    timeout: Annotated[float, typer.Option(help="Kill a worker after this many seconds.")] = 900.0,
    loadgen: Annotated[
        LoadGenScenario | None,
        typer.Option(
            help="Also drive the deployment through MLPerf LoadGen: single-stream or offline (sets --scenario)."
        ),
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Store the results under this campaign name.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run again jobs whose stored result failed.")] = False,
    target: Annotated[
        str | None, typer.Option(help="Catalog target to measure on: a remote board goes through the lab's queue.")
    ] = None,
    service: Annotated[
        str | None, typer.Option(envvar="DEPLOYBENCH_SERVICE", help="The lab's service URL, for a remote --target.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="DEPLOYBENCH_TOKEN", help="A submitter token of the lab's service.")
    ] = None,
    db: Database = None,
) -> None:
    """Measure one model on one or more frameworks and settings; resumes what is already stored. With a remote
    --target, the jobs go through the lab's service and queue to that board's agent; same output."""
    grid = parse_grid(setting or [])
    if threads:
        grid["threads"] = parse_grid([f"threads={threads}"])["threads"]
    inputs = InputData(
        source="npz" if data else "random",
        path=str(data.resolve()) if data else None,
        seed=seed,
        count=count,
        dims=parse_dims(dim or []),
    )
    kind_batches = tuple(int(b) for b in batch.split(",") if b.strip())
    if loadgen is not None:
        scenario, kind_batches = ScenarioKind(loadgen.value), (1,)
    placer = Placer()
    framework = [name.strip() for item in framework for name in item.split(",") if name.strip()]
    statuses = placer.placed_statuses(model_format(model)) if ALL in framework else []
    choice = choose_frameworks(framework, statuses, model_format(model), grid)
    for name, reason in choice.skipped:
        note(f"{name}: {reason}")
    jobs = plan_jobs(
        [(model_ref(model), inputs)],
        choice.chosen,
        [Scenario(kind=scenario, batch_sizes=kind_batches, target_qps=qps, concurrency=concurrency)],
        StoppingRule(
            min_samples=min_samples,
            max_samples=max_samples,
            min_duration_s=min_duration,
            max_duration_s=max_duration,
            relative_half_width=ci,
        ),
        timing,
        reference,
        timeout,
    )
    if loadgen is not None:
        jobs = [job.model_copy(update={"loadgen": True}) for job in jobs]
    if is_remote(target, service, load_catalog()):
        execute_remote(jobs, str(target), service, token, campaign, retry_failed)
        return
    execute(jobs, campaign, retry_failed, db, placer)


def campaign_run(
    file: Annotated[Path, typer.Argument(help="Campaign YAML file.")],
    retry_failed: Annotated[bool, typer.Option(help="Run again jobs whose stored result failed.")] = False,
    service: Annotated[
        str | None, typer.Option(envvar="DEPLOYBENCH_SERVICE", help="The lab's service URL, for remote targets.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="DEPLOYBENCH_TOKEN", help="A submitter token of the lab's service.")
    ] = None,
    db: Database = None,
) -> None:
    """Run a campaign file on each of its targets (a remote one through the lab's queue); run it again after
    an interruption to resume where it stopped."""
    placer = Placer()
    catalog = load_catalog()
    client = LabClient(service, token) if service is not None and token is not None else None

    def every(target: str, fmt: str) -> list[tuple[str, tuple[str, ...] | None]]:
        if client is not None and is_remote(target, service, catalog):
            return remote_frameworks(client, target, fmt)
        return available_here(placer, fmt)

    try:
        spec, plans = load_campaign(file, zoo=_zoo_file, placer=placer, every=every)
        remote = {target: is_remote(target, service, catalog) for target in plans}
        failed = 0
        for target, jobs in plans.items():
            if remote[target]:
                results = execute_remote(jobs, target, service, token, spec.name, retry_failed, raise_on_failure=False)
            else:
                results = execute(jobs, spec.name, retry_failed, db, placer, raise_on_failure=False)
            failed += sum(1 for _, record in results if record.failure)
    finally:
        if client is not None:
            client.close()
    if failed:
        raise DeploybenchError(f"{failed} job(s) of campaign {spec.name} failed", hint="see the errors above")


def execute_remote(
    jobs: list[JobSpec],
    target: str,
    service: str | None,
    token: str | None,
    campaign: str | None,
    retry_failed: bool,
    raise_on_failure: bool = True,
) -> list[tuple[int, ResultRecord]]:
    """Send the jobs to the remote target through the lab, print the same table as a local run, and raise when
    a job failed (unless told not to)."""
    if service is None or token is None:
        raise ConfigurationError("a remote target needs --service and --token", hint="a submitter token of the lab")
    client = LabClient(service, token)
    try:
        results = run_remote(jobs, target, client, campaign, note, retry_failed)
    finally:
        client.close()
    show(results, f"{redact_url(service)} (target {target})")
    failed = sum(1 for _, record in results if record.failure)
    if failed and raise_on_failure:
        raise DeploybenchError(f"{failed} of {len(results)} job(s) failed on {target}", hint="see the errors above")
    return results


def _zoo_file(name: str, reduced: bool) -> Path:
    """The file of a zoo model, built if the cache lacks it."""
    return Path(build_model(name, "onnx", "reduced" if reduced else "full", echo=note).path)


def execute(
    jobs: list[JobSpec],
    campaign: str | None,
    retry_failed: bool,
    db: str | None,
    placer: Placer | None = None,
    raise_on_failure: bool = True,
) -> list[tuple[int, ResultRecord]]:
    """Run the jobs not stored yet, print the side-by-side table of every job's newest result, and
    raise when a job failed (unless told not to: a search keeps its failed points)."""
    with ResultStore.open(db) as store:
        try:
            with campaign_progress(len(jobs)) as progress:
                outcome = run_jobs(jobs, store, campaign, retry_failed, progress, placer)
        except KeyboardInterrupt:
            note("interrupted: every finished job is stored; run the same command again to resume")
            raise typer.Exit(130) from None
        if outcome.skipped:
            note(
                f"{len(outcome.skipped)} job(s) already stored: shown, not run again (--retry-failed reruns failures)."
            )
        newest = {row.job_key: row.id for row in reversed(store.rows(campaign=campaign))}
        results = [(newest[job.key()], store.get(newest[job.key()])) for job in jobs if job.key() in newest]
        where = redact_url(store.url)
    show(results, where)
    failed = sum(1 for _, record in results if record.failure)
    if failed and raise_on_failure:
        raise DeploybenchError(f"{failed} of {len(results)} job(s) failed", hint="see the errors above")
    return results


def show(results: list[tuple[int, ResultRecord]], where: str) -> None:
    """The side-by-side table of the results, LoadGen's figures beside ours, and each failure and warning."""
    print_table(f"{len(results)} result(s) in {where}", SUMMARY_COLUMNS, summary_rows(results))
    beside = loadgen_rows(results)
    if beside:
        print_table("deploybench beside MLPerf LoadGen (same deployment, same process)", list(beside[0]), beside)
    for result_id, record in results:
        if record.failure:
            note(
                f"error: result {result_id} ({record.job.framework}) failed in phase "
                f"`{record.failure.phase}`: {record.failure.message}"
            )
        for warning in record.warnings:
            note(f"warning: result {result_id}: {warning}")
