"""The lab end to end, with the real parts: the service (`deploybench serve`, a separate process) over a
SQLite store, RabbitMQ on localhost as the broker, and board agents (`deploybench agent`, separate processes)
standing in for a board that is this machine. Jobs are routed by target, measured one at a time, stored
once, redelivered when an agent dies, and wait while no agent is live."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier
from tests.support.netns import Relay, board_network, namespaces_available
from tests.support.service import agent, serve, stand_in_board, stop

from deploybench.core.hashing import file_sha256
from deploybench.core.records import StoppingRule
from deploybench.store import ResultStore
from deploybench.store.tokens import Role, create_token

pytest.importorskip("celery")
pytest.importorskip("fastapi")
from deploybench.campaign.remote import remote_frameworks
from deploybench.worker.lab import LabClient, LabError
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


def test_a_campaign_on_this_machine_and_a_board_moves_its_data_file_runs_each_job_once_and_resumes(
    lab: Lab, tmp_path: Path, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYBENCH_CATALOG", str(lab.catalog))
    tiny_classifier(tmp_path / "tiny.onnx")
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "inputs.npz", x=rng.standard_normal((4, 8)).astype(np.float32), y=np.arange(4))
    campaign = tmp_path / "spread.yaml"
    campaign.write_text(
        textwrap.dedent(
            f"""\
            name: spread
            models:
              - path: tiny.onnx
                data: {{source: npz, path: inputs.npz, count: 4}}
            frameworks:
              - name: onnxruntime
                settings: {{threads: [1]}}
            targets: [local, {lab.target}]
            stopping: {{min_samples: 10, min_duration_s: 0.05, max_duration_s: 0.5, warmup_max: 20}}
            """
        ),
        encoding="utf-8",
    )
    lab.start_agent("a1")
    _online(lab, 1)
    local_db = f"sqlite:///{tmp_path / 'local.db'}"
    command = ("campaign", "run", str(campaign), "--db", local_db)
    lab_options = ("--service", lab.url, "--token", lab.tokens["submitter"])

    status, out, err = cli(*command, *lab_options)
    assert status == 0, err
    assert "uploaded inputs.npz" in err and f"1 job(s) queued for {lab.target}" in err
    assert f"(target {lab.target})" in out
    (remote_id,) = _stored(lab)
    record = lab.client("reader").result(remote_id)
    assert record.status.value == "ok", record.failure
    assert record.job.data.sha256 == file_sha256(tmp_path / "inputs.npz")
    assert record.job.data.path == str((tmp_path / "inputs.npz").resolve())
    with ResultStore.open(local_db) as store:
        (local,) = store.rows(campaign="spread")
        assert store.get(local.id).job.data.sha256 is None

    status, _, err = cli(*command, *lab_options)
    assert status == 0 and f"0 job(s) queued for {lab.target}" in err and "already sent" in err
    assert _stored(lab) == [remote_id]
    with ResultStore.open(local_db) as store:
        assert len(store.rows()) == 1
    everywhere = dict(remote_frameworks(lab.client("reader"), lab.target, "onnx"))
    assert everywhere["onnxruntime"] is not None and "threads" in everywhere["onnxruntime"]
    assert remote_frameworks(lab.client("reader"), lab.target, "no-such-format") == []


def _restart_broker() -> None:
    """Stop RabbitMQ's application and start it again (durable queues and persistent messages survive)."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    time.sleep(2)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl to restart the broker")
def test_the_broker_restarted_during_a_campaign_loses_no_job_and_stores_each_once(lab: Lab, tmp_path: Path) -> None:
    user = lab.client("submitter")
    model = tiny_classifier(tmp_path / "m.onnx")
    user.upload(model)
    steady = StoppingRule(min_samples=10, max_samples=10_000_000, min_duration_s=1.5, max_duration_s=1.5, warmup_max=10)
    jobs = [
        quick_job(model, "onnxruntime", stopping=steady, data={"count": 2, "seed": seed, "dims": {"batch": 1}})
        for seed in range(4)
    ]
    lab.start_agent("a1")
    _online(lab, 1)
    dispatches = [user.dispatch(job, lab.target, "restart") for job in jobs[:3]]
    deadline = time.monotonic() + 60
    while user.dispatch_state(dispatches[0]["id"])["state"] != "running":
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.2)
    _restart_broker()
    dispatches.append(user.dispatch(jobs[3], lab.target, "restart"))
    done = [user.wait(dispatch["id"], timeout_s=240) for dispatch in dispatches]
    assert [d["state"] for d in done] == ["done"] * 4
    assert sorted(_stored(lab)) == sorted(d["result_id"] for d in done)
    with ResultStore.open(lab.db) as store:
        assert sorted(store.get(i).job.data.seed for i in _stored(lab)) == [0, 1, 2, 3]


def test_a_board_owner_makes_lists_and_revokes_its_agent_tokens_from_the_command_line(lab: Lab, cli: Run) -> None:
    with ResultStore.open(lab.db) as store:
        owner = create_token(store, Role.OWNER, "owner", lab.target)[1]
    through = ("--service", lab.url, "--auth", owner)
    status, out, err = cli("token", "create", "--role", "agent", "--name", "pi-9", *through)
    assert status == 0 and f"(agent of {lab.target}) for pi-9" in err, err
    secret = out.strip()
    assert LabClient(lab.url, secret).whoami()["target"] == lab.target
    status, out, _ = cli("token", "list", *through, "--format", "json")
    ids = {token["name"]: token["id"] for token in json.loads(out)}
    assert status == 0 and set(ids) == {"board", "owner", "pi-9"}
    status, _, err = cli("token", "create", "--role", "admin", "--name", "x", *through)
    assert status != 0 and "its own board" in err and len(err.strip().splitlines()) == 1
    assert cli("token", "revoke", str(ids["pi-9"]), *through)[0] == 0
    with pytest.raises(LabError, match="401"):
        LabClient(lab.url, secret).whoami()


@pytest.mark.skipif(not namespaces_available(), reason="needs root and iproute2 to give each stand-in board a network")
def test_two_agents_in_their_own_network_namespaces_serve_a_campaign_from_the_cli_watched_in_the_dashboard(
    lab: Lab, tmp_path: Path, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYBENCH_CATALOG", str(lab.catalog))
    for features in (8, 6):
        tiny_classifier(tmp_path / f"tiny{features}.onnx", features=features)
    campaign = tmp_path / "rack.yaml"
    campaign.write_text(
        textwrap.dedent(
            f"""\
            name: rack
            models: [{{path: tiny8.onnx}}, {{path: tiny6.onnx}}]
            frameworks:
              - name: onnxruntime
                settings: {{threads: [1, 2]}}
            targets: [{lab.target}]
            stopping: {{min_samples: 10, min_duration_s: 1.0, max_duration_s: 1.0, warmup_max: 20}}
            """
        ),
        encoding="utf-8",
    )
    service_port = int(lab.url.rsplit(":", 1)[1])
    env = {**os.environ, "DEPLOYBENCH_CATALOG": str(lab.catalog), "DEPLOYBENCH_DB": lab.db}
    with contextlib.ExitStack() as stack:
        boards = []
        for index in (1, 2):
            network = stack.enter_context(board_network(index))
            stack.callback(Relay(network.host, [5672, service_port]).close)
            broker = f"amqp://guest:guest@{network.host}:5672//"
            url = f"http://{network.host}:{service_port}"
            name = f"rack-{index}"
            process = agent(tmp_path, env, lab.target, broker, url, lab.tokens["agent"], name, network.command())
            stack.callback(stop, process)
            boards.append(name)
        _online(lab, 2)
        status, out, err = cli(
            "campaign", "run", str(campaign), "--service", lab.url, "--token", lab.tokens["submitter"]
        )
        assert status == 0, err
        assert f"4 job(s) queued for {lab.target}" in err and out.count("onnxruntime") == 4
        assert len(_stored(lab)) == 4
        for name in boards:
            assert list((tmp_path / f"cache-{name}").rglob("*.onnx")), f"{name} took no job"
        page = httpx.get(f"{lab.url}/dashboard", cookies={"deploybench_token": lab.tokens["reader"]}).text
        assert all(name in page for name in boards) and "rack" in page
