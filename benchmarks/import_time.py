"""How long `import deploybench` and a catalog load take, side by side with a bare interpreter.

Each case runs in a fresh interpreter N times; the script prints and saves (results/import_time.json)
the median, minimum and maximum wall time of each, and each median as a ratio to the bare interpreter.
Usage: python benchmarks/import_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "bare interpreter": "pass",
    "import deploybench": "import deploybench",
    "import deploybench.cli.app": "import deploybench.cli.app",
    "load built-in catalog": "from deploybench.catalog import load_catalog; load_catalog([])",
}


def time_case(code: str, runs: int) -> list[float]:
    """Wall-clock seconds of `python -c code`, once per run, in fresh interpreters."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Run every case, print the table and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("results/import_time.json"))
    args = parser.parse_args()
    time_case("pass", 2)
    results = {name: time_case(code, args.runs) for name, code in CASES.items()}
    base = statistics.median(results["bare interpreter"])
    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": args.runs,
        "cases": {
            name: {
                "median_s": statistics.median(values),
                "min_s": min(values),
                "max_s": max(values),
                "median_ratio_to_bare": statistics.median(values) / base,
                "median_minus_bare_s": statistics.median(values) - base,
            }
            for name, values in results.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'case':32} {'median s':>9} {'min s':>8} {'max s':>8} {'x bare':>7} {'+ bare s':>9}")
    for name, case in report["cases"].items():
        print(
            f"{name:32} {case['median_s']:9.3f} {case['min_s']:8.3f} {case['max_s']:8.3f} "
            f"{case['median_ratio_to_bare']:7.2f} {case['median_minus_bare_s']:9.3f}"
        )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
