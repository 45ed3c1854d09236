"""`deploybench serve` and `deploybench agent` as separate processes for the lab's tests: each in its own
session, its output in a log file (a pipe left unread would block it), stopped with its whole group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx


def deploybench(*args: str, env: dict[str, str], log: Path, within: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """`deploybench ARGS` in its own session (run by the `within` command, e.g. in a network namespace), its
    output in log."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [*within, sys.executable, "-m", "deploybench.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the process and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(folder: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """The service on a free port (artifacts and log in folder), once it answers; its process and URL."""
    port = free_port()
    process = deploybench(
        "serve",
        "--port",
        str(port),
        "--artifacts",
        str(folder / "artifacts"),
        *extra,
        env=env,
        log=folder / "service.log",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise AssertionError(f"the service did not start: {(folder / 'service.log').read_text()[-2000:]}")
        time.sleep(0.3)


def stand_in_board(folder: Path) -> str:
    """A user catalog under folder/catalog holding this machine as a uniquely named board; the board's name."""
    from deploybench.catalog.local import detect_local_machine

    target = f"bench-{uuid.uuid4().hex[:8]}"
    targets = folder / "catalog" / "targets"
    targets.mkdir(parents=True)
    (targets / f"{target}.yaml").write_text(
        f"name: {target}\ndisplay_name: Rack board {target}\nsom: {{name: rack}}\nsoc: {{name: this machine}}\n"
        f"fingerprint: {detect_local_machine().fingerprint}\n",
        encoding="utf-8",
    )
    return target


def agent(
    folder: Path,
    env: dict[str, str],
    target: str,
    broker: str,
    url: str,
    token: str,
    name: str,
    within: Sequence[str] = (),
) -> Any:
    """`deploybench agent` for the target (run by the `within` command), its fetched models and log in folder."""
    return deploybench(
        "agent",
        "--target",
        target,
        "--broker",
        broker,
        "--service",
        url,
        "--token",
        token,
        "--name",
        name,
        "--cache",
        str(folder / f"cache-{name}"),
        env=env,
        log=folder / f"agent-{name}.log",
        within=within,
    )
