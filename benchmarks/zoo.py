"""Build the whole zoo from an empty cache: wall time and peak memory per model, and in all, against the issue's
goal (every model in under 15 minutes on this machine), printed and saved to results/zoo.json.

Each model is built by a fresh driver process (`deploybench.zoo.build.build_model`), whose children (the
builder in the `pytorch` toolchain, onnx2tf for .tflite) it waits for: the peak resident set of the largest of
them (getrusage RUSAGE_CHILDREN) is the build's peak memory. The cache is a fresh folder, removed afterwards.
Usage: python benchmarks/zoo.py [--models a,b] [--format onnx] [--reduced]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 15 * 60
DRIVER = """
import json, resource, sys
from deploybench.zoo.build import build_model
artifact = build_model(sys.argv[1], sys.argv[2], sys.argv[3], echo=lambda text: None)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"parameters": artifact.built.parameters, "size_bytes": artifact.size_bytes,
                  "build_s": artifact.built.build_s, "export_s": artifact.built.export_s,
                  "metrics": artifact.built.metrics, "parameter_difference": artifact.parameter_difference,
                  "peak_child_rss_bytes": peak}))
"""


def main() -> None:
    """Build each model in turn into a fresh cache and report."""
    from deploybench.zoo.recipe import recipes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated names (default: every recipe)")
    parser.add_argument("--format", default="onnx", choices=["onnx", "pt2", "tflite"])
    parser.add_argument("--reduced", action="store_true", help="the reduced variants")
    parser.add_argument("--out", type=Path, default=Path("results/zoo.json"))
    options = parser.parse_args()
    names = options.models.split(",") if options.models else sorted(recipes())
    variant = "reduced" if options.reduced else "full"
    rows = []
    with tempfile.TemporaryDirectory(prefix="deploybench-zoo-bench-") as cache:
        env = {**os.environ, "DEPLOYBENCH_ZOO": cache}
        for name in names:
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", DRIVER, name, options.format, variant],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            wall = time.perf_counter() - start
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
                row = {"model": name, "wall_s": wall, "failed": reason}
            else:
                row = {"model": name, "wall_s": wall, **json.loads(done.stdout.strip().splitlines()[-1])}
            rows.append(row)
            _print_row(row)
    total = sum(r["wall_s"] for r in rows)
    summary = {
        "format": options.format,
        "variant": variant,
        "models": rows,
        "total_s": total,
        "goal_s": GOAL_S,
        "total_over_goal": total / GOAL_S,
        "failed": [r["model"] for r in rows if "failed" in r],
        "largest_peak_rss_bytes": max((r.get("peak_child_rss_bytes", 0) for r in rows), default=0),
    }
    print(f"total {total:.0f} s for {len(rows)} models: {total / GOAL_S:.2f} x the {GOAL_S // 60}-minute goal")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"saved {options.out}")


def _print_row(row: dict[str, object]) -> None:
    if "failed" in row:
        print(f"{row['model']:<22} FAILED after {row['wall_s']:.0f} s: {row['failed']}", flush=True)
        return
    peak = int(str(row["peak_child_rss_bytes"])) / 2**20
    size = int(str(row["size_bytes"])) / 1e6
    print(
        f"{row['model']:<22} {row['wall_s']:7.1f} s  peak {peak:7.0f} MiB  {size:7.1f} MB  "
        f"{int(str(row['parameters'])):>12,} parameters  {row['metrics']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
