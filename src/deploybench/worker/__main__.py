"""`python -m deploybench.worker`: read one job on stdin, measure it, write events on stdout."""

from __future__ import annotations

import os
import sys

from deploybench.core.records import JobSpec
from deploybench.worker.protocol import progress_line, result_line
from deploybench.worker.runner import run_job


def main() -> None:
    """Keep stdout for the protocol alone: whatever a runtime prints goes to stderr."""
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    job = JobSpec.model_validate_json(sys.stdin.read())

    def announce(phase: str) -> None:
        channel.write(progress_line(phase) + "\n")

    record = run_job(job, announce)
    channel.write(result_line(record.model_dump_json()) + "\n")
    channel.flush()


main()
