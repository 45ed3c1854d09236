"""Run a job in a worker process and turn whatever happens to it into a ResultRecord.

A crash (signal), an out-of-memory kill, a hang past the job's timeout or garbage on stdout all become
failed results carrying the reason and the tail of the worker's stderr; the caller goes on.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from deploybench.core.errors import WorkerError
from deploybench.core.records import (
    BackendStatus,
    Failure,
    JobSpec,
    OperatorSupport,
    OptimizeReply,
    OptimizeRequest,
    ResultRecord,
    Status,
)
from deploybench.worker.protocol import PROGRESS, RESULT, parse_line
from deploybench.worker.provenance import provenance

STDERR_TAIL_LINES = 40
SIGNAL_MEANINGS = {
    signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV) in the runtime",
    signal.SIGABRT: "aborted (SIGABRT): the runtime hit a fatal internal error",
    signal.SIGBUS: "crashed with a bus error (SIGBUS)",
    signal.SIGFPE: "crashed with a floating-point exception (SIGFPE)",
    signal.SIGILL: "crashed on an illegal instruction (SIGILL): the build may not match this CPU",
    signal.SIGKILL: "was killed (SIGKILL), most often by the out-of-memory killer: check `dmesg` and free memory",
}


def run_in_worker(
    job: JobSpec,
    on_progress: Callable[[str], None] | None = None,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
) -> ResultRecord:
    """Measure job in a fresh worker process; never raises for what happens inside the worker.

    Interrupted itself (Ctrl-C), it kills the worker's whole process group before letting the interrupt go.
    """
    started = datetime.now(timezone.utc)
    process = subprocess.Popen(
        [python, "-m", "deploybench.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=dict(os.environ if env is None else env),
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    reader = threading.Thread(target=_drain, args=(process.stderr, tail), daemon=True)
    reader.start()
    try:
        phase, record, timed_out = _converse(process, job, on_progress, tail)
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    if timed_out:
        _kill_group(process)
    exit_code = process.wait()
    reader.join(timeout=5)
    if record is not None:
        return record
    return failed(job, _failure(phase, exit_code, timed_out, job.timeout_s, "\n".join(tail)), started)


def failed(job: JobSpec, failure: Failure, started: datetime) -> ResultRecord:
    """A failed result for job, with the provenance of this machine (the worker could not give its own)."""
    return ResultRecord(
        job_key=job.key(),
        job=job,
        status=Status.FAILED,
        failure=failure,
        provenance=provenance("unknown (the worker gave no result)", dict(job.settings), started),
    )


def _converse(
    process: subprocess.Popen[bytes],
    job: JobSpec,
    on_progress: Callable[[str], None] | None,
    tail: deque[str],
) -> tuple[str, ResultRecord | None, bool]:
    """Send the job, follow the events until the result, end of output or the deadline."""
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(job.model_dump_json().encode("utf-8"))
        process.stdin.close()
    except BrokenPipeError:
        pass  # the worker died before reading its job: its exit status tells why

    phase, record = "start", None
    deadline = time.monotonic() + job.timeout_s
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return phase, record, True
            if not selector.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                return phase, record, False
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                event = parse_line(line.decode("utf-8", errors="replace"))
                if event is None:
                    continue
                if event["event"] == PROGRESS:
                    phase = str(event.get("phase", phase))
                    if on_progress:
                        on_progress(phase)
                elif event["event"] == RESULT:
                    record = _parse_record(job, event.get("record"), tail)


def _failure(phase: str, exit_code: int, timed_out: bool, timeout_s: float, stderr: str) -> Failure:
    if timed_out:
        return Failure(
            kind="timeout",
            phase=phase,
            message=f"the worker was still in phase `{phase}` after {timeout_s:g} s and was killed; "
            "raise the job's timeout if the model needs longer",
            exit_code=exit_code,
            stderr_tail=stderr,
        )
    if exit_code < 0:
        number = -exit_code
        meaning = SIGNAL_MEANINGS.get(signal.Signals(number), f"was killed by signal {number}")
        return Failure(
            kind="killed" if number == signal.SIGKILL else "crash",
            phase=phase,
            message=f"the worker {meaning} during phase `{phase}`",
            exit_code=exit_code,
            stderr_tail=stderr,
        )
    return Failure(
        kind="protocol",
        phase=phase,
        message=f"the worker exited with status {exit_code} during phase `{phase}` without a result; see its stderr",
        exit_code=exit_code,
        stderr_tail=stderr,
    )


def _parse_record(job: JobSpec, data: object, tail: deque[str]) -> ResultRecord:
    try:
        return ResultRecord.model_validate(data)
    except ValidationError as exc:
        return failed(
            job,
            Failure(
                kind="protocol",
                phase="result",
                message=f"the worker sent a result that is not a valid record: {exc.errors()[0]['msg']}",
                stderr_tail="\n".join(tail),
            ),
            datetime.now(timezone.utc),
        )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _drain(stream: object, tail: deque[str]) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        tail.append(raw.decode("utf-8", errors="replace").rstrip("\n"))


def probe_in_worker(
    python: str = sys.executable, env: Mapping[str, str] | None = None, timeout_s: float = 120.0
) -> list[BackendStatus]:
    """The status of every registered backend, found by a worker process (runtimes stay out of the caller)."""
    found = _ask_worker(["--probe"], python, env, timeout_s, "list the backends")
    return [BackendStatus.model_validate(item) for item in found]


def support_in_worker(
    model: Path,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 900.0,
    only: Sequence[str] | None = None,
) -> list[OperatorSupport]:
    """What every backend (or each one named) that can introspect its framework says about the model's nodes,
    found by a worker."""
    arguments = ["--support", str(model.resolve()), *([",".join(only)] if only is not None else [])]
    found = _ask_worker(arguments, python, env, timeout_s, "check the operators")
    return [OperatorSupport.model_validate(item) for item in found]


def optimize_in_worker(
    request: OptimizeRequest,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3600.0,
) -> OptimizeReply:
    """The optimized model a worker made (or why it could not), from its environment's framework tools."""
    try:
        done = subprocess.run(
            [python, "-m", "deploybench.worker", "--optimize"],
            input=request.model_dump_json(),
            capture_output=True,
            text=True,
            env=dict(os.environ if env is None else env),
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return OptimizeReply(error=f"{request.framework} {request.method}: still running after {timeout_s:.0f} s")
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return OptimizeReply(
            error=f"{request.framework} {request.method}: the worker ended with status {done.returncode}: {tail}"
        )
    try:
        return OptimizeReply.model_validate_json(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise WorkerError(f"the optimizing worker wrote no valid reply: {exc}") from exc


def _ask_worker(
    arguments: list[str], python: str, env: Mapping[str, str] | None, timeout_s: float, what: str
) -> list[object]:
    """The JSON list a worker started with arguments writes; its failure quotes the end of its stderr."""
    done = subprocess.run(
        [python, "-m", "deploybench.worker", *arguments],
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise WorkerError(f"the worker could not {what} (exit status {done.returncode}): {tail}")
    found: list[object] = json.loads(done.stdout)
    return found
