"""The lab's control plane, measured in one run on this machine (RabbitMQ on localhost, the service and the
agents as separate processes, a SQLite store): printed and saved to results/lab.json.

- overhead: trivial jobs (a tiny ONNX model, ONNX Runtime, ten samples; each with its own input seed) first
  back to back through one agent, then N at once through A local agents standing in for one board, against
  the same job run locally by run_in_worker: jobs per second, and what the lab adds per job beyond the
  measurement itself (the worker process, as the agent logs it) and between two jobs, against the goal of
  20 ms;
- the service under load from a second process on loopback (a bounded Python loop of C concurrent clients):
  requests per second, p50 and p99 latency and errors, for the results list and the catalog, side by side.

Usage: python benchmarks/lab.py [--jobs 1000] [--agents 4] [--sequential 100] [--seconds 20] [--clients 8]
       [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

BROKER = os.environ.get("DEPLOYBENCH_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
GOAL_MS = 20.0
LOCAL_RUNS = 10
LOCAL_SEEDS = 1_000_000
"""First input seed of the local runs (the lab's jobs take seeds 0, 1, ...)."""
AGENT_LINE = re.compile(r"dispatch (\S+) \w+: lab ([\d.]+) ms, worker [\d.]+ ms")
POLL_S = 1.0
"""Pause between two looks at the dispatches (one request each), light enough not to slow the agents."""


def main() -> None:
    """Run both measurements; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--sequential", type=int, default=100, help="Jobs through one agent, back to back.")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("results/lab.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from tests.support.jobs import quick_job
    from tests.support.models import tiny_classifier
    from tests.support.service import agent, serve, stand_in_board, stop

    from deploybench.catalog.local import detect_local_machine
    from deploybench.store import ResultStore
    from deploybench.store.tokens import Role, create_token
    from deploybench.worker.lab import LabClient

    folder = Path(tempfile.mkdtemp(prefix="deploybench-lab-"))
    target = stand_in_board(folder)
    db = f"sqlite:///{folder / 'lab.db'}"
    with ResultStore.open(db) as store:
        submitter = create_token(store, Role.SUBMITTER, "bench")[1]
        agent_token = create_token(store, Role.AGENT, "agents", target)[1]
    env = {**os.environ, "DEPLOYBENCH_CATALOG": str(folder / "catalog"), "DEPLOYBENCH_DB": db}
    service, url = serve(folder, env, "--broker", BROKER)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        agents.append(agent(folder, env, target, BROKER, url, agent_token, "agent-0"))
        model = tiny_classifier(folder / "m.onnx")
        job = quick_job(model, "onnxruntime", data={"count": 1, "dims": {"batch": 1}})
        job = job.model_copy(
            update={
                "stopping": job.stopping.model_copy(
                    update={
                        "min_samples": 10,
                        "max_samples": 10,
                        "min_duration_s": 0.0,
                        "max_duration_s": 0.05,
                        "warmup_max": 3,
                    }
                )
            }
        )
        client = LabClient(url, submitter)
        client.upload(model)
        local = _local(job)
        alone = _through_lab(client, target, job, args.sequential, 0, 1, folder)
        for index in range(1, args.agents):
            agents.append(agent(folder, env, target, BROKER, url, agent_token, f"agent-{index}"))
        shared = _through_lab(client, target, job, args.jobs, args.sequential, args.agents, folder)
        added = alone["agent_lab_ms_median"] + alone["between_jobs_ms_median"]
        overhead = {
            "local": local,
            "one_agent": alone,
            "agents": shared,
            "added_ms_per_job_median": added,
            "per_job_ms_one_agent_over_local": alone["per_job_ms"] / local["wall_ms"],
            "note": (
                f"local: run_in_worker here, median wall of {LOCAL_RUNS}; one_agent: jobs back to back through one "
                "agent; agents: all at once through every agent, sharing this machine's cores with the service and "
                "the broker; wall: from the first dispatch created to the last result stored (service's clock); "
                "per_job_ms = wall x agents / jobs; agent_lab_ms: the agent's own log, time from taking a job to its "
                "result sent minus the worker (counting the attempt, reading the job, fetching the model from its "
                "cache, placing it, sending and storing the result); between_jobs_ms: from one result stored to the "
                "same agent taking its next job (acknowledgement and delivery); added_ms_per_job_median = "
                "agent_lab_ms median + between_jobs_ms median, one agent"
            ),
        }
        load = {
            path: _load(url, submitter, path, args.seconds, args.clients)
            for path in ("/api/results?limit=100", "/api/catalog/targets")
        }
    finally:
        for process in agents:
            stop(process)
        stop(service)
    results_rps = load["/api/results?limit=100"]["requests_per_s"]
    catalog_rps = load["/api/catalog/targets"]["requests_per_s"]
    result = {
        "machine": detect_local_machine().cpu_model,
        "overhead": overhead,
        "added_over_goal": overhead["added_ms_per_job_median"] / GOAL_MS,
        "load": load,
        "results_over_catalog_rps": results_rps / catalog_rps if catalog_rps else None,
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"saved {args.out}")


def _local(job: Any) -> dict[str, float]:
    """The job run here by run_in_worker, LOCAL_RUNS times: its median wall time, ms."""
    from deploybench.worker.launcher import run_in_worker

    walls = []
    for seed in range(LOCAL_RUNS):
        started = time.perf_counter()
        record = run_in_worker(_variant(job, LOCAL_SEEDS + seed))
        walls.append(time.perf_counter() - started)
        if record.failure is not None:
            raise SystemExit(f"the local job failed: {record.failure.message}")
    return {"wall_ms": statistics.median(walls) * 1e3}


def _through_lab(
    client: Any, target: str, job: Any, count: int, first_seed: int, agents: int, folder: Path
) -> dict[str, Any]:
    """`count` distinct copies of the job dispatched at once to the target's `agents` agents: wall time, jobs
    per second, the time each agent logged for its own part of each job and, with one agent, the time from one
    result stored to the next job taken."""
    while len([a for a in client.agents() if a["target"] == target and a["online"]]) < agents:
        time.sleep(0.5)
    pending = {client.dispatch(_variant(job, first_seed + i), target, "overhead")["id"] for i in range(count)}
    finished = []
    while pending:
        time.sleep(POLL_S)
        for state in client.dispatches(target):
            if state["id"] in pending and state["state"] in ("done", "failed"):
                pending.discard(state["id"])
                finished.append(state)
    first = min(_at(state["created_at"]) for state in finished)
    wall = (max(_at(state["updated_at"]) for state in finished) - first).total_seconds()
    ids = {state["id"] for state in finished}
    lab_ms = [ms for dispatch_id, ms in _agent_lab_ms(folder) if dispatch_id in ids]
    taken = sorted(finished, key=lambda state: _at(state["started_at"]))
    between = [(_at(b["started_at"]) - _at(a["updated_at"])).total_seconds() * 1e3 for a, b in pairwise(taken)]
    return {
        "jobs": count,
        "agents": agents,
        "failed": sum(1 for state in finished if state["state"] != "done"),
        "wall_s": wall,
        "jobs_per_s": count / wall,
        "per_job_ms": wall * agents / count * 1e3,
        "agent_lab_ms_median": statistics.median(lab_ms),
        "agent_lab_ms_p90": _quantile(lab_ms, 0.9),
        "between_jobs_ms_median": statistics.median(between) if agents == 1 else None,
        "between_jobs_ms_p90": _quantile(between, 0.9) if agents == 1 else None,
        "between_jobs_ms_max": max(between) if agents == 1 else None,
    }


def _agent_lab_ms(folder: Path) -> list[tuple[str, float]]:
    """(dispatch id, the agent's own time on it in ms) from every agent's log."""
    found = []
    for log in folder.glob("agent-*.log"):
        found += [(m[1], float(m[2])) for m in AGENT_LINE.finditer(log.read_text(encoding="utf-8", errors="replace"))]
    return found


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _variant(job: Any, seed: int) -> Any:
    """The job with another input seed: a distinct job (the lab answers the same job twice with one dispatch)."""
    return job.model_copy(update={"data": job.data.model_copy(update={"seed": seed})})


def _load(url: str, token: str, path: str, seconds: float, clients: int) -> dict[str, Any]:
    """Hammer one endpoint from a second process with `clients` concurrent loops for `seconds`."""
    code = f"""
import json, time, httpx
from concurrent.futures import ThreadPoolExecutor
def loop(_):
    lat, err = [], 0
    with httpx.Client(base_url={url!r}, headers={{"Authorization": "Bearer {token}"}}, timeout=10) as c:
        end = time.monotonic() + {seconds}
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                ok = c.get({path!r}).status_code == 200
            except httpx.HTTPError:
                ok = False
            lat.append(time.perf_counter() - t); err += not ok
    return lat, err
with ThreadPoolExecutor({clients}) as pool:
    parts = list(pool.map(loop, range({clients})))
print(json.dumps({{"lat": [x for p in parts for x in p[0]], "errors": sum(p[1] for p in parts)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout)
    latencies = sorted(data["lat"])
    return {
        "requests": len(latencies),
        "errors": data["errors"],
        "requests_per_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
        "clients": clients,
    }


if __name__ == "__main__":
    main()
