"""`python -m deploybench.worker`: read one job on stdin, measure it, write events on stdout.

`python -m deploybench.worker --probe` instead writes the status of every registered backend as JSON, and
`python -m deploybench.worker --support MODEL [NAME,...]` the operator support of every backend (or the named
ones) that can say, and `python -m deploybench.worker --optimize` reads an optimization request on stdin and
writes its reply.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from deploybench.core.records import JobSpec, OptimizeRequest
from deploybench.worker.optimizer import optimize_request
from deploybench.worker.probe import probe_all
from deploybench.worker.protocol import progress_line, result_line
from deploybench.worker.runner import run_job
from deploybench.worker.support import support_all


def main() -> None:
    """Keep stdout for the protocol alone: whatever a runtime prints goes to stderr."""
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if sys.argv[1:] == ["--probe"]:
        channel.write(json.dumps([s.model_dump(mode="json") for s in probe_all()]) + "\n")
        return
    if sys.argv[1:2] == ["--support"] and len(sys.argv) in (3, 4):
        only = frozenset(sys.argv[3].split(",")) if len(sys.argv) == 4 else None
        found = support_all(Path(sys.argv[2]), only)
        channel.write(json.dumps([s.model_dump(mode="json") for s in found]) + "\n")
        return
    if sys.argv[1:] == ["--optimize"]:
        request = OptimizeRequest.model_validate_json(sys.stdin.read())
        channel.write(optimize_request(request).model_dump_json() + "\n")
        return
    job = JobSpec.model_validate_json(sys.stdin.read())

    def announce(phase: str) -> None:
        channel.write(progress_line(phase) + "\n")

    record = run_job(job, announce)
    channel.write(result_line(record.model_dump_json()) + "\n")
    channel.flush()


main()
