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


def remote_frameworks(client: LabClient, target: str, fmt: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """The frameworks `all` stands for on a remote target: those its online agents report for the format, with
    the settings each takes (None when the agent did not say)."""
    online = [a for a in client.agents() if a["target"] == target and a["online"]]
    if not online:
        raise ConfigurationError(
            f"no agent of target `{target}` is online to say which frameworks it runs",
            hint="start its agent, or name the frameworks instead of `all`",
        )
    found: dict[str, tuple[str, ...] | None] = {}
    for agent in online:
        settings = agent.get("settings", {})
        for name, formats in agent.get("formats", {}).items():
            if fmt in formats:
                found[name] = tuple(settings[name]) if name in settings else None
    return sorted(found.items())


def run_remote(
    jobs: Sequence[JobSpec],
    target: str,
    client: LabClient,
    campaign: str | None,
    echo: Callable[[str], None],
    retry_failed: bool = False,
) -> list[tuple[int, ResultRecord]]:
    """Send every job's model and data file to the artifact store (once each), dispatch the jobs to the target
    and wait for each; the stored results, in the jobs' order. Jobs already done there are not run again."""
    uploaded: dict[str, str] = {}

    def upload(path: str) -> str:
        if path not in uploaded:
            uploaded[path] = client.upload(Path(path))
            echo(f"uploaded {Path(path).name} ({uploaded[path][:12]})")
        return uploaded[path]

    travelling = []
    for job in jobs:
        upload(job.model.path)
        if job.data.source == "npz" and job.data.path is not None:
            job = job.model_copy(update={"data": job.data.model_copy(update={"sha256": upload(job.data.path)})})
        travelling.append(job)
    dispatched = [(job, client.dispatch(job, target, campaign, retry_failed)) for job in travelling]
    fresh = sum(1 for _, dispatch in dispatched if dispatch["new"])
    echo(f"{fresh} job(s) queued for {target}")
    if fresh < len(dispatched):
        echo(f"{len(dispatched) - fresh} job(s) already sent to {target}: their results are shown, not run again")
    results: list[tuple[int, ResultRecord]] = []
    for job, dispatch in dispatched:
        done = client.wait(dispatch["id"], timeout_s=job.timeout_s + WAIT_MARGIN_S)
        if done["result_id"] is None:
            raise WorkerError(f"dispatch {dispatch['id']} ({job.framework}) {done['state']}: {done['message']}")
        results.append((done["result_id"], client.result(done["result_id"])))
    return results
