"""The selection tool's cross-check and speed, in one run, on the results store of this machine (the
reference campaign's measurements): printed and saved to results/predict.json.

- `predict fit`, then leave-one-model-out validation of every performance model: per framework and target,
  the share of latency predictions within +/-10 % and +/-20 %, the median absolute percentage error and the
  coverage of the stated 80 % interval; against the goals (for frameworks with at least 10 reference models:
  95 % within +/-10 %, coverage 75-85 %), and the performance models side by side (median APE ratios);
- the time `select` takes for each analysed zoo model over the whole catalog, against the goal of 2 s.

Usage: python benchmarks/predict.py [--db URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

GOAL_WITHIN_10 = 0.95
GOAL_COVERAGE = (0.75, 0.85)
GOAL_SELECT_S = 2.0
MIN_MODELS = 10


def main() -> None:
    """Fit, validate, time the selection; print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="results store URL (default: the usual one)")
    parser.add_argument("--out", type=Path, default=Path("results/predict.json"))
    args = parser.parse_args()

    from deploybench.catalog import load_catalog
    from deploybench.catalog.local import detect_local_machine
    from deploybench.select.constraints import Constraints, Objective
    from deploybench.select.fit import fit, framework_units, observations_from
    from deploybench.select.published import load_published
    from deploybench.select.session import Analysed, Selector
    from deploybench.select.targets import known_targets
    from deploybench.select.validate import validate
    from deploybench.store import ResultStore
    from deploybench.zoo.anatomies import zoo_anatomies

    catalog = load_catalog()
    machine = detect_local_machine()
    with ResultStore.open(args.db) as store:
        anatomies = zoo_anatomies((f.model for f in load_published()), store)
        started = time.perf_counter()
        report = fit(store, catalog, machine, anatomies)
        fit_s = time.perf_counter() - started
        targets = known_targets(catalog, machine, report.peaks)
        observations, _, _ = observations_from(store, targets, anatomies)
        started = time.perf_counter()
        checks, summaries = validate(observations, targets, framework_units(catalog))
        validate_s = time.perf_counter() - started
        selector = Selector.open(store, anatomies)
    rows = [s.model_dump(mode="json") for s in summaries]
    for row in rows:
        row["goal_applies"] = row["models"] >= MIN_MODELS
        row["meets_within_10"] = row["within_10"] >= GOAL_WITHIN_10
        row["meets_coverage"] = row["coverage"] is not None and GOAL_COVERAGE[0] <= row["coverage"] <= GOAL_COVERAGE[1]
    side_by_side = _side_by_side(summaries)
    timings = []
    by_architecture = {o.model_sha256: o for o in observations if o.result_id is not None}
    for o in by_architecture.values():
        started = time.perf_counter()
        selection = selector.select(Analysed(o.anatomy, None), Constraints(), Objective.LATENCY)
        timings.append(
            {
                "model": o.model,
                "seconds": time.perf_counter() - started,
                "combinations": len(selection.ranked) + len(selection.excluded),
            }
        )
    worst = max((t["seconds"] for t in timings), default=None)
    result: dict[str, Any] = {
        "machine": machine.cpu_model,
        "peaks": report.peaks.model_dump(mode="json"),
        "observations": len(observations),
        "fit_s": fit_s,
        "validate_s": validate_s,
        "summaries": rows,
        "side_by_side_median_ape": side_by_side,
        "select": {
            "timings": timings,
            "worst_s": worst,
            "goal_s": GOAL_SELECT_S,
            "worst_over_goal": None if worst is None else worst / GOAL_SELECT_S,
        },
        "checks": [c.model_dump(mode="json") for c in checks],
    }
    _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"saved {args.out}")


def _side_by_side(summaries: list[Any]) -> list[dict[str, Any]]:
    """Per framework and target: each performance model's median APE, and its ratio to the roofline's."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for s in summaries:
        cells.setdefault((s.framework, s.target), {})[s.performance_model] = s.median_ape
    rows = []
    for (framework, target), apes in sorted(cells.items()):
        roofline = apes.get("roofline")
        rows.append(
            {
                "framework": framework,
                "target": target,
                **{f"{k}_median_ape": v for k, v in apes.items()},
                **{f"{k}_over_roofline": v / roofline for k, v in apes.items() if roofline and k != "roofline"},
            }
        )
    return rows


def _verdict(row: dict[str, Any]) -> str:
    """Whether a row the goal applies to meets it."""
    if not row["goal_applies"]:
        return ""
    return "  goal: met" if row["meets_within_10"] and row["meets_coverage"] else "  goal: not met"


def _print(result: dict[str, Any]) -> None:
    print(
        f"{result['observations']} measurements; fit {result['fit_s']:.1f} s, validation {result['validate_s']:.1f} s"
    )
    header = (
        f"{'model':<11}{'framework':<13}{'target':<17}{'n':>4}{'mods':>5}{'<=10%':>7}{'<=20%':>7}{'MdAPE':>8}"
        f"{'cov80':>7}"
    )
    print(header)
    for r in result["summaries"]:
        coverage = "n/a" if r["coverage"] is None else f"{r['coverage']:.0%}"
        print(
            f"{r['performance_model']:<11}{r['framework']:<13}{r['target']:<17}{r['predictions']:>4}{r['models']:>5}"
            f"{r['within_10']:>7.0%}{r['within_20']:>7.0%}{r['median_ape']:>8.1%}{coverage:>7}"
            f"{_verdict(r)}"
        )
    for row in result["side_by_side_median_ape"]:
        ratios = ", ".join(
            f"{k.removesuffix('_over_roofline')}/roofline {v:.2f}"
            for k, v in row.items()
            if k.endswith("_over_roofline")
        )
        if ratios:
            print(f"median APE {row['framework']} on {row['target']}: {ratios}")
    select = result["select"]
    if select["timings"]:
        median = statistics.median(t["seconds"] for t in select["timings"])
        print(
            f"select: median {median:.3f} s, worst {select['worst_s']:.3f} s over "
            f"{select['timings'][0]['combinations']} combinations; worst / goal {select['worst_over_goal']:.3f}"
        )


if __name__ == "__main__":
    main()
