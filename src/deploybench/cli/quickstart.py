"""`deploybench quickstart`: benchmark the bundled digits classifier on every local framework, store, compare."""

from __future__ import annotations

from pathlib import Path

from deploybench.campaign.example import ensure_digits_example
from deploybench.campaign.frameworks import ALL, choose_frameworks
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.cli.measure import execute
from deploybench.cli.output import note, print_table
from deploybench.cli.values import Database
from deploybench.core.records import InputData, Scenario, StoppingRule
from deploybench.report.compare import compare, comparison_rows
from deploybench.worker.placement import Placer

EXAMPLE_FOLDER = Path(".deploybench") / "example"
CAMPAIGN = "quickstart"
BASELINE = "onnxruntime"


def quickstart(db: Database = None) -> None:
    """Train the bundled digits classifier (scikit-learn, offline) and export it to ONNX; measure it on every
    framework installed here at one thread, each checked against the ONNX reference evaluator on 64 labelled
    digits; store the results and compare each framework with ONNX Runtime."""
    example = ensure_digits_example(EXAMPLE_FOLDER)
    note(
        f"model {example.model} (scikit-learn MLP on the bundled digits data, test accuracy "
        f"{example.test_accuracy:.4f}); labelled inputs {example.data}"
    )
    placer = Placer()
    choice = choose_frameworks([ALL], placer.placed_statuses("onnx"), "onnx", {"threads": [1]})
    for name, reason in choice.skipped:
        note(f"{name}: {reason}")
    jobs = plan_jobs(
        [(model_ref(example.model), InputData(source="npz", path=str(example.data.resolve()), count=64))],
        choice.chosen,
        [Scenario()],
        StoppingRule(),
    )
    results = execute(jobs, CAMPAIGN, retry_failed=False, db=db, placer=placer)
    baseline = next(((i, r) for i, r in results if r.job.framework == BASELINE), results[0])
    rows = [
        {"B": f"result {i} ({record.job.framework})", **row}
        for i, record in results
        if i != baseline[0]
        for row in comparison_rows(compare(baseline[1], record))
    ]
    if rows:
        print_table(
            f"each framework (B) against A = result {baseline[0]} ({baseline[1].job.framework})", list(rows[0]), rows
        )
