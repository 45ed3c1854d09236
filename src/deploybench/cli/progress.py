"""A rich progress display for campaigns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploybench.campaign.runner import CampaignProgress
from deploybench.cli.output import errors
from deploybench.core.records import JobSpec, ResultRecord, Status


@contextmanager
def campaign_progress(total: int) -> Iterator[CampaignProgress]:
    """Callbacks that drive one progress bar over the jobs, with the current job and phase."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )
    task = bar.add_task("starting", total=total)
    label = {"job": ""}

    def started(index: int, count: int, job: JobSpec) -> None:
        settings = " ".join(f"{k}={v}" for k, v in sorted(job.settings.items()))
        label["job"] = f"{job.framework} {settings} {job.scenario.kind.value}".strip()
        bar.update(task, description=f"{label['job']}: start")

    def phase(name: str) -> None:
        bar.update(task, description=f"{label['job']}: {name}")

    def done(index: int, record: ResultRecord, result_id: int) -> None:
        state = "done" if record.status is Status.OK else "FAILED"
        bar.update(task, advance=1, description=f"{label['job']}: {state} (result {result_id})")

    with bar:
        yield CampaignProgress(job_started=started, phase=phase, job_done=done)
