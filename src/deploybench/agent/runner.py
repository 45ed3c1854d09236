"""`deploybench agent`: on a board, check that the machine is the target it claims, report what it has, then
take the target's jobs one at a time (Celery worker, concurrency 1, prefetch 1, late acknowledgement): fetch
the model by hash, measure it in a worker process, send the result, and only then acknowledge."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deploybench.catalog.local import detect_local_machine
from deploybench.core.errors import ConfigurationError, DeploybenchError
from deploybench.core.records import Failure, JobSpec
from deploybench.worker.lab import LabClient
from deploybench.worker.launcher import failed, run_in_worker
from deploybench.worker.placement import Placer
from deploybench.worker.queue import TASK, celery_app, queue_name
from deploybench.worker.toolchains import MAIN

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
REQUEUE_PAUSE_S = 5.0
"""Pause before a job that could not be taken (the service unreachable) goes back to the queue."""


@dataclass(frozen=True)
class AgentConfig:
    """Where the agent takes jobs from and sends results to."""

    target: str
    broker: str
    service: str
    token: str
    name: str
    cache: Path


def checked_report(config: AgentConfig, client: LabClient, placer: Placer) -> dict[str, Any]:
    """What the agent reports, once its token and machine are checked against the target: the backends it can
    run (in the main environment or a toolchain's), with their versions, model formats and settings, and its
    toolchains."""
    who = client.whoami()
    if who["role"] != "agent" or who["target"] != config.target:
        raise ConfigurationError(
            f"the token is a {who['role']} token{' of ' + who['target'] if who['target'] else ''}, "
            f"not an agent token of `{config.target}`",
            hint=f"make one: deploybench token create --role agent --target {config.target} --name {config.name}",
        )
    expected = client.target(config.target).get("fingerprint")
    here = detect_local_machine().fingerprint
    if expected != here:
        raise ConfigurationError(
            f"this machine is not target `{config.target}`: its fingerprint is {here}, the catalog's {expected}",
            hint="run the agent on that board, or set the target's `fingerprint` in the catalog",
        )
    available = [(environment, status) for environment, status in placer.every_status() if status.available]
    return {
        "name": config.name,
        "fingerprint": here,
        "backends": {status.name: status.version for _, status in available},
        "formats": {status.name: list(status.input_formats) for _, status in available},
        "settings": {status.name: list(status.settings) for _, status in available},
        "toolchains": sorted({environment for environment, _ in available} - {MAIN}),
    }


def measure(client: LabClient, cache: Path, dispatch_id: str, placer: Placer) -> None:
    """Take one dispatch: count the attempt, fetch the model (and data file), measure it in the environment
    that runs its framework, send the result; a framework this board cannot run gives a failed result. Logs the
    time the lab took beside the worker's."""
    taken = time.perf_counter()
    state = client.start(dispatch_id)
    if state["state"] != "running":
        return
    job = JobSpec.model_validate(state["job"])
    model = client.fetch(job.model.sha256, cache, Path(job.model.path).suffix)
    local = job.model_copy(update={"model": job.model.model_copy(update={"path": str(model)})})
    if job.data.sha256 is not None:
        data = client.fetch(job.data.sha256, cache, Path(job.data.path or "data.npz").suffix)
        local = local.model_copy(update={"data": job.data.model_copy(update={"path": str(data)})})
    started = datetime.now(timezone.utc)
    try:
        environment = placer.for_jobs([local])[local.key()]
    except ConfigurationError as exc:
        message = f"this board cannot run it: {exc}"
        failure = Failure(kind="error", phase="start", message=message, error_type="ConfigurationError")
        client.post_result(dispatch_id, failed(job, failure, started))
        return
    worker_started = time.perf_counter()
    record = run_in_worker(local, python=environment.python, env=environment.worker_env())
    worker_s = time.perf_counter() - worker_started
    client.post_result(dispatch_id, record.model_copy(update={"job": job, "job_key": job.key()}))
    lab_s = time.perf_counter() - taken - worker_s
    log.info(
        "dispatch %s %s: lab %.1f ms, worker %.1f ms", dispatch_id, record.status.value, lab_s * 1e3, worker_s * 1e3
    )


def run_agent(config: AgentConfig) -> None:
    """Check, then serve the target's queue until stopped, reporting every HEARTBEAT_S seconds."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    client = LabClient(config.service, config.token)
    placer = Placer()
    report = checked_report(config, client, placer)
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(DeploybenchError):
                client.heartbeat(report)
            stop.wait(HEARTBEAT_S)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    app = celery_app(config.broker)
    from celery.exceptions import Reject

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def take(dispatch_id: str) -> None:
        try:
            measure(client, config.cache, dispatch_id, placer)
        except DeploybenchError as exc:
            time.sleep(REQUEUE_PAUSE_S)
            raise Reject(str(exc), requeue=True) from exc

    try:
        app.worker_main(
            [
                "worker",
                "--queues",
                queue_name(config.target),
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--pool",
                "solo",
                "--hostname",
                f"{config.name}@{socket.gethostname()}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
            ]
        )
    finally:
        stop.set()
        client.close()
