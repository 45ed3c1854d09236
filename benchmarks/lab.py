"""The lab's control plane, measured in one run on this machine (RabbitMQ on localhost, the service and the
agents as separate processes, a SQLite store): printed and saved to results/lab.json.

- overhead: N trivial jobs (a tiny ONNX model, ONNX Runtime, ten samples) through A local agents standing in
  for one board, against the same job run locally: jobs per second, and what the lab adds per job (agent's
  time from taking the job to its stored result, minus the local time), against the goal of 20 ms;
- the service under load from a second process on loopback (a bounded Python loop of C concurrent clients):
  requests per second, p50 and p99 latency and errors, for the results list and the catalog, side by side.

Usage: python benchmarks/lab.py [--jobs 1000] [--agents 4] [--seconds 20] [--clients 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

BROKER = os.environ.get("DEPLOYBENCH_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
GOAL_MS = 20.0
LOCAL_RUNS = 10


def main() -> None:
    """Run both measurements; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
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
        for index in range(args.agents):
            agents.append(agent(folder, env, target, BROKER, url, agent_token, f"agent-{index}"))
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
        overhead = _overhead(url, submitter, target, model, job, args.jobs, args.agents)
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
        "overhead_median_over_goal": overhead["overhead_ms_median"] / GOAL_MS,
        "load": load,
        "results_over_catalog_rps": results_rps / catalog_rps if catalog_rps else None,
    }
    print(
        json.dumps(
            {k: v for k, v in result.items() if k != "overhead"}
            | {"overhead": {k: v for k, v in overhead.items() if k != "per_job_overhead_ms"}},
            indent=2,
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"saved {args.out}")


def _overhead(url: str, token: str, target: str, model: Path, job: Any, count: int, agents: int) -> dict[str, Any]:
    """The same trivial job run locally (run_in_worker, one after another) and through the lab (`count` copies
    dispatched at once to `agents` agents): time per job each way, and what the lab adds."""
    from deploybench.worker.lab import LabClient
    from deploybench.worker.launcher import run_in_worker

    local = []
    for _ in range(LOCAL_RUNS):
        started = time.perf_counter()
        run_in_worker(job)
        local.append(time.perf_counter() - started)
    local_s = statistics.median(local)
    client = LabClient(url, token)
    client.upload(model)
    deadline = time.monotonic() + 120
    while len([a for a in client.agents() if a["online"]]) < agents:
        if time.monotonic() > deadline:
            raise SystemExit("the agents did not come online (see their logs)")
        time.sleep(0.5)
    started = time.monotonic()
    pending = {client.dispatch(job, target, "overhead")["id"] for _ in range(count)}
    taken = []
    while pending:
        for dispatch_id in list(pending):
            state = client.dispatch_state(dispatch_id)
            if state["state"] in ("done", "failed"):
                pending.discard(dispatch_id)
                begun = datetime.fromisoformat(state["started_at"])
                taken.append((datetime.fromisoformat(state["updated_at"]) - begun).total_seconds())
        time.sleep(0.2)
    wall = time.monotonic() - started
    per_job_s = wall * agents / count
    return {
        "jobs": count,
        "agents": agents,
        "wall_s": wall,
        "jobs_per_s": count / wall,
        "local_per_job_ms": local_s * 1e3,
        "lab_per_job_ms": per_job_s * 1e3,
        "overhead_ms_median": (statistics.median(taken) - local_s) * 1e3,
        "overhead_ms_throughput": (per_job_s - local_s) * 1e3,
        "agent_ms_median": statistics.median(taken) * 1e3,
        "note": (
            "local: the job by run_in_worker in this process (worker start included), median of "
            f"{LOCAL_RUNS}; agent: from the agent taking the job (start) to its result stored, median; "
            "overhead_ms_median = agent - local; overhead_ms_throughput = wall x agents / jobs - local "
            "(queue and dispatch included; agents share this machine's cores)"
        ),
    }


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
