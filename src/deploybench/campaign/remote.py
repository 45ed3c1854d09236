"""Jobs for a target that is not this machine: the model uploaded once by hash, each job dispatched to the
target's queue through the lab's service, and the results (stored there, once) fetched back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from deploybench.catalog import Catalog
from deploybench.catalog.local import detect_local_machine
from deploybench.core.errors import ConfigurationError, WorkerError
from deploybench.core.records import JobSpec, ResultRecord
from deploybench.worker.lab import LabClient

WAIT_MARGIN_S = 600.0
"""Time a dispatch may wait in the queue beyond its job's own timeout."""


def is_remote(target: str | None, service: str | None, catalog: Catalog) -> bool:
    """Whether jobs for the target go through the lab's queue: always with a service named (a board beside this
    machine, or this machine standing in for one), never for this machine without one; a target that is not
    this machine without a service is an error saying what to give."""
    if target is None or target == "local":
        return False
    _, entry = catalog.find(target, ["targets"])
    if service is not None:
        return True
    if getattr(entry, "fingerprint", None) == detect_local_machine().fingerprint:
        return False
    raise ConfigurationError(
        f"target `{target}` is not this machine: its jobs go through the lab's service",
        hint="give --service URL and --token TOKEN (or $DEPLOYBENCH_SERVICE and $DEPLOYBENCH_TOKEN)",
    )


def run_remote(
    jobs: Sequence[JobSpec],
    target: str,
    client: LabClient,
    campaign: str | None,
    echo: Callable[[str], None],
) -> list[tuple[int, ResultRecord]]:
    """Dispatch every job to the target and wait for each; the stored results, in the jobs' order."""
    for job in jobs:
        if job.data.source != "random":
            raise ConfigurationError(
                f"{job.data.path}: input files do not travel to remote targets yet",
                hint="use random inputs (leave out --data) for a remote target",
            )
    for path in dict.fromkeys(job.model.path for job in jobs):
        echo(f"uploaded {Path(path).name} ({client.upload(Path(path))[:12]})")
    dispatched = [(job, client.dispatch(job, target, campaign)) for job in jobs]
    echo(f"{len(dispatched)} job(s) queued for {target}")
    results: list[tuple[int, ResultRecord]] = []
    for job, dispatch in dispatched:
        done = client.wait(dispatch["id"], timeout_s=job.timeout_s + WAIT_MARGIN_S)
        if done["result_id"] is None:
            raise WorkerError(f"dispatch {dispatch['id']} ({job.framework}) {done['state']}: {done['message']}")
        results.append((done["result_id"], client.result(done["result_id"])))
    return results
