"""The harness against MLPerf LoadGen, the reference load generator, on the same deployment in one run: the
MobileNetV2-like model of benchmarks/frameworks.py on ONNX Runtime (1 thread), single-stream, measured by
deploybench and then, in the same worker and on the same bound session, driven by LoadGen; their median and p90
as ratios (goal: within 2 %), and LoadGen's offline throughput beside deploybench's. Printed and saved to
results/loadgen.json.
Usage: python benchmarks/loadgen.py [--framework onnxruntime] [--samples 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from deploybench.campaign.plan import model_ref
from deploybench.core.records import InputData, JobSpec, ModelRef, Scenario, ScenarioKind, StoppingRule
from deploybench.worker.launcher import run_in_worker

sys.path.insert(0, str(Path(__file__).parent))
from frameworks import mobilenet_like

GOAL = 0.02


def main() -> None:
    """Each round: one single-stream job and one offline job, both with LoadGen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="onnxruntime")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/loadgen.json"))
    options = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as folder:
        model = model_ref(mobilenet_like(Path(folder) / "mobilenet_like.onnx"))
        for index in range(options.rounds):
            rounds.append(_round(model, options.framework, options.samples))
            print(json.dumps({"round": index + 1, **rounds[-1]}), flush=True)
    median_ratio = statistics.median(r["median_ratio"] for r in rounds)
    p90_ratio = statistics.median(r["p90_ratio"] for r in rounds)
    summary = {
        "framework": options.framework,
        "samples": options.samples,
        "rounds": rounds,
        "median_ratio_loadgen_over_deploybench": median_ratio,
        "p90_ratio_loadgen_over_deploybench": p90_ratio,
        "within_goal": abs(median_ratio - 1) <= GOAL and abs(p90_ratio - 1) <= GOAL,
    }
    print(
        f"LoadGen / deploybench, median of {options.rounds} rounds: median {median_ratio:.4f}, p90 {p90_ratio:.4f} "
        f"(goal: within {GOAL:.0%})"
    )
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"saved {options.out}")


def _round(model: ModelRef, framework: str, samples: int) -> dict[str, float]:
    stopping = StoppingRule(min_samples=samples, max_samples=samples, min_duration_s=0.0, max_duration_s=600.0)
    figures: dict[str, float] = {}
    for kind in (ScenarioKind.SINGLE_STREAM, ScenarioKind.OFFLINE):
        job = JobSpec(
            model=model,
            framework=framework,
            settings={"threads": 1},
            scenario=Scenario(kind=kind),
            stopping=stopping,
            data=InputData(count=1),
            loadgen=True,
        )
        record = run_in_worker(job)
        if record.failure is not None or record.loadgen is None:
            raise SystemExit(f"{kind.value}: {record.failure.message if record.failure else 'no LoadGen run'}")
        ours, theirs = record.measurements[0], record.loadgen
        if kind is ScenarioKind.SINGLE_STREAM:
            assert theirs.median_us is not None and theirs.p90_us is not None
            figures |= {
                "deploybench_median_us": ours.summary.median_us,
                "loadgen_median_us": theirs.median_us,
                "median_ratio": theirs.median_us / ours.summary.median_us,
                "deploybench_p90_us": ours.summary.p90_us,
                "loadgen_p90_us": theirs.p90_us,
                "p90_ratio": theirs.p90_us / ours.summary.p90_us,
            }
        else:
            figures |= {
                "deploybench_offline_per_s": ours.throughput_per_s,
                "loadgen_offline_samples_per_s": theirs.samples_per_s or 0.0,
            }
    return figures


if __name__ == "__main__":
    main()
