"""`deploybench quickstart`: benchmark the zoo's digits CNN on every local framework, store, compare."""

from __future__ import annotations

from pathlib import Path

from deploybench.campaign.frameworks import ALL, choose_frameworks
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.cli.measure import execute
from deploybench.cli.output import note, print_table
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError
from deploybench.core.records import InputData, Scenario, StoppingRule
from deploybench.report.compare import compare, comparison_rows
from deploybench.worker.placement import Placer
from deploybench.zoo.build import build_model, held_out_data

MODEL = "digits-cnn"
CAMPAIGN = "quickstart"
BASELINE = "onnxruntime"
FIDELITY_ROWS = 64


def quickstart(db: Database = None) -> None:
    """Build the zoo's digits CNN (trained here on scikit-learn's digits, offline, seconds) as ONNX; measure it on
    every framework installed here at one thread, each checked against the ONNX reference evaluator on 64 held-out
    labelled digits; store the results and compare each framework with ONNX Runtime."""
    artifact = build_model(MODEL, "onnx", echo=note)
    data = held_out_data(artifact)
    if data is None:
        raise ConfigurationError(f"zoo: {MODEL} has no held-out digits beside it", hint=f"zoo build {MODEL} --rebuild")
    accuracy = artifact.built.metrics.get("test_accuracy", float("nan"))
    note(f"model {artifact.path} (a CNN trained here on scikit-learn's digits, test accuracy {accuracy:.4f})")
    note(f"labelled inputs {data}")
    placer = Placer()
    choice = choose_frameworks([ALL], placer.placed_statuses("onnx"), "onnx", {"threads": [1]})
    for name, reason in choice.skipped:
        note(f"{name}: {reason}")
    jobs = plan_jobs(
        [(model_ref(Path(artifact.path)), InputData(source="npz", path=str(data), count=FIDELITY_ROWS))],
        choice.chosen,
        [Scenario()],
        StoppingRule(),
    )
    results = execute(jobs, CAMPAIGN, retry_failed=False, db=db, placer=placer)
    baseline = next(((i, r) for i, r in results if r.job.framework == BASELINE), results[0])
    rows = [
        {"B": f"result {i} ({record.job.framework})", **row}
        for i, record in results
        if i != baseline[0] and record.measurements
        for row in comparison_rows(compare(baseline[1], record))
    ]
    if rows:
        print_table(
            f"each framework (B) against A = result {baseline[0]} ({baseline[1].job.framework})", list(rows[0]), rows
        )
