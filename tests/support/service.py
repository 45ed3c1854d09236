"""`deploybench serve` and `deploybench agent` as separate processes for the lab's tests: each in its own
session, its output in a log file (a pipe left unread would block it), stopped with its whole group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def deploybench(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`deploybench ARGS` in its own session, its output in log."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploybench.cli", *args],
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
