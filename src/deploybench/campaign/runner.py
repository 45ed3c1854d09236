"""Run jobs one after another in worker processes, store each result as it comes, skip what is done."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploybench.core.records import JobSpec, ResultRecord, Status
from deploybench.store import ResultStore
from deploybench.worker.launcher import run_in_worker
from deploybench.worker.placement import Placer


@dataclass
class CampaignProgress:
    """Callbacks a front end gives to follow a campaign (all optional)."""

    job_started: Callable[[int, int, JobSpec], None] = lambda index, total, job: None
    phase: Callable[[str], None] = lambda phase: None
    job_done: Callable[[int, ResultRecord, int], None] = lambda index, record, result_id: None


@dataclass
class CampaignOutcome:
    """Ids of the results stored by this run, and the jobs skipped as already done."""

    stored: list[int] = field(default_factory=list)
    skipped: list[JobSpec] = field(default_factory=list)
    failed: int = 0


def run_jobs(
    jobs: Sequence[JobSpec],
    store: ResultStore,
    campaign: str | None = None,
    retry_failed: bool = False,
    progress: CampaignProgress | None = None,
    placer: Placer | None = None,
) -> CampaignOutcome:
    """Measure every job not already stored (failed ones too, unless retry_failed), saving each at once,
    each in the environment that runs its framework (a job none can run stops everything before the start).

    Interrupted (Ctrl-C, a crash of this process), it loses nothing stored; run again, it resumes.
    """
    progress = progress or CampaignProgress()
    done = store.done_keys([job.key() for job in jobs], include_failed=not retry_failed)
    outcome = CampaignOutcome()
    todo = [job for job in jobs if job.key() not in done]
    outcome.skipped = [job for job in jobs if job.key() in done]
    environments = (placer or Placer()).for_jobs(todo)
    for index, job in enumerate(todo):
        progress.job_started(index, len(todo), job)
        environment = environments[job.key()]
        record = run_in_worker(job, on_progress=progress.phase, python=environment.python, env=environment.worker_env())
        result_id = store.save(record, campaign)
        outcome.stored.append(result_id)
        outcome.failed += record.status is Status.FAILED
        progress.job_done(index, record, result_id)
    return outcome
