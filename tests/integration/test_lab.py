"""The lab end to end, with the real parts: the service (`deploybench serve`, a separate process) over a
SQLite store, RabbitMQ on localhost as the broker, and board agents (`deploybench agent`, separate processes)
standing in for a board that is this machine. Jobs are routed by target, measured one at a time, stored
once, redelivered when an agent dies, and wait while no agent is live."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier
from tests.support.service import agent, serve, stand_in_board, stop

from deploybench.core.records import StoppingRule
from deploybench.store import ResultStore
from deploybench.store.tokens import Role, create_token

pytest.importorskip("celery")
pytest.importorskip("fastapi")
from deploybench.worker.lab import LabClient
from deploybench.worker.queue import queue_name

BROKER = os.environ.get("DEPLOYBENCH_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//")


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _broker_up() and not os.environ.get("DEPLOYBENCH_REQUIRE_LAB"), reason="RabbitMQ is not running on :5672"
)


@dataclass
class Lab:
    """A running service, its tokens, and a way to start agents."""

    url: str
    target: str
    db: str
    catalog: Path
    tokens: dict[str, str]
    start_agent: Callable[[str], subprocess.Popen[bytes]]

    def client(self, role: str) -> LabClient:
        return LabClient(self.url, self.tokens[role])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """The service on a free port, with a user catalog holding this machine as a uniquely named board."""
    target = stand_in_board(tmp_path)
    db = f"sqlite:///{tmp_path / 'lab.db'}"
    with ResultStore.open(db) as store:
        tokens = {
            "submitter": create_token(store, Role.SUBMITTER, "user")[1],
            "reader": create_token(store, Role.READER, "viewer")[1],
            "agent": create_token(store, Role.AGENT, "board", target)[1],
        }
    env = {**os.environ, "DEPLOYBENCH_CATALOG": str(tmp_path / "catalog"), "DEPLOYBENCH_DB": db}
    service, url = serve(tmp_path, env, "--broker", BROKER)
    agents: list[subprocess.Popen[bytes]] = []

    def start_agent(name: str) -> subprocess.Popen[bytes]:
        process = agent(tmp_path, env, target, BROKER, url, tokens["agent"], name)
        agents.append(process)
        return process

    try:
        yield Lab(url, target, db, tmp_path / "catalog", tokens, start_agent)
    finally:
        for process in agents:
            stop(process)
        stop(service)
        from kombu import Connection

        with Connection(BROKER) as connection:
            connection.default_channel.queue_delete(queue_name(target))


def _online(lab: Lab, count: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        live = [a for a in lab.client("reader").agents() if a["target"] == lab.target and a["online"]]
        if len(live) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} agents did not come online")


def _stored(lab: Lab) -> list[int]:
    with ResultStore.open(lab.db) as store:
        return [row.id for row in store.rows()]


def test_a_job_waits_without_an_agent_then_runs_once_on_the_target(lab: Lab, tmp_path: Path) -> None:
    user = lab.client("submitter")
    model = tiny_classifier(tmp_path / "m.onnx")
    job = quick_job(model, "onnxruntime", data={"count": 2, "dims": {"batch": 1}})
    user.upload(model)
    dispatch = user.dispatch(job, lab.target, campaign="lab")
    time.sleep(2)
    assert user.dispatch_state(dispatch["id"])["state"] == "queued"
    assert [a for a in user.agents() if a["target"] == lab.target] == []

    lab.start_agent("a1")
    lab.start_agent("a2")
    _online(lab, 2)
    agents = {a["name"]: a for a in user.agents()}
    assert "onnxruntime" in agents["a1"]["backends"]
    done = user.wait(dispatch["id"], timeout_s=120)
    assert done["state"] == "done" and done["attempts"] == 1
    record = user.result(done["result_id"])
    assert record.status.value == "ok", record.failure
    assert record.job.model.sha256 == job.model.sha256
    assert _stored(lab) == [done["result_id"]]


def test_an_agent_killed_mid_job_has_its_job_redelivered_and_stored_once(lab: Lab, tmp_path: Path) -> None:
    user = lab.client("submitter")
    model = tiny_classifier(tmp_path / "m.onnx")
    slow = StoppingRule(min_samples=10, max_samples=10_000_000, min_duration_s=6.0, max_duration_s=6.0, warmup_max=10)
    job = quick_job(model, "onnxruntime", stopping=slow, data={"count": 2, "dims": {"batch": 1}})
    user.upload(model)
    first = lab.start_agent("doomed")
    _online(lab, 1)
    dispatch = user.dispatch(job, lab.target)
    deadline = time.monotonic() + 60
    while user.dispatch_state(dispatch["id"])["state"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    time.sleep(1.0)
    stop(first, signal.SIGKILL)
    lab.start_agent("rescuer")
    done = user.wait(dispatch["id"], timeout_s=180)
    assert done["state"] == "done"
    assert done["attempts"] == 2
    assert _stored(lab) == [done["result_id"]]


def test_a_client_with_the_wrong_token_is_refused_with_the_reason(lab: Lab, tmp_path: Path) -> None:
    reader = lab.client("reader")
    model = tiny_classifier(tmp_path / "m.onnx")
    with pytest.raises(Exception, match="a reader token cannot do this"):
        reader.upload(model)
    user = lab.client("submitter")
    with pytest.raises(Exception, match="is not in the artifact store"):
        user.dispatch(quick_job(model, "onnxruntime"), lab.target)


def test_run_with_a_remote_target_goes_through_the_queue_with_the_same_output(
    lab: Lab, tmp_path: Path, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYBENCH_CATALOG", str(lab.catalog))
    model = tiny_classifier(tmp_path / "m.onnx")
    lab.start_agent("a1")
    _online(lab, 1)
    status, out, err = cli(
        "run",
        str(model),
        "-F",
        "onnxruntime",
        "--threads",
        "1",
        "--dim",
        "batch=1",
        "--count",
        "2",
        "--min-samples",
        "10",
        "--max-duration",
        "0.5",
        "--min-duration",
        "0.1",
        "--target",
        lab.target,
        "--service",
        lab.url,
        "--token",
        lab.tokens["submitter"],
        "--campaign",
        "remote",
    )
    assert status == 0, err
    assert f"1 job(s) queued for {lab.target}" in err
    assert "onnxruntime" in out and lab.url in out
    assert len(_stored(lab)) == 1

    elsewhere = cli("run", str(model), "--target", "raspberry-pi-4")
    assert elsewhere[0] == 2 and "is not this machine" in elsewhere[2] and "--service" in elsewhere[2]
