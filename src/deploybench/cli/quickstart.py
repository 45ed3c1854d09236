"""`deploybench quickstart`: benchmark the bundled digits classifier, store it, print the comparison."""

from __future__ import annotations

from pathlib import Path

from deploybench.campaign.example import ensure_digits_example
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.cli.measure import Database, execute
from deploybench.cli.output import note, print_table
from deploybench.core.records import InputData, ResultRecord, Scenario, StoppingRule
from deploybench.report.compare import compare, comparison_rows

EXAMPLE_FOLDER = Path(".deploybench") / "example"
CAMPAIGN = "quickstart"


def quickstart(db: Database = None) -> None:
    """Train the bundled digits classifier (scikit-learn, offline), export it to ONNX, measure it with
    ONNX Runtime at 1 and 2 threads against the ONNX reference evaluator, store and compare."""
    example = ensure_digits_example(EXAMPLE_FOLDER)
    note(
        f"model {example.model} (scikit-learn MLP on the bundled digits data, test accuracy "
        f"{example.test_accuracy:.4f}); labelled inputs {example.data}"
    )
    jobs = plan_jobs(
        [(model_ref(example.model), InputData(source="npz", path=str(example.data.resolve()), count=64))],
        [("onnxruntime", {"threads": [1, 2]})],
        [Scenario()],
        StoppingRule(),
    )
    (id_a, a), (id_b, b) = execute(jobs, CAMPAIGN, retry_failed=False, db=db)
    rows = comparison_rows(compare(a, b))
    print_table(f"B = result {id_b} ({_threads(b)}) vs A = result {id_a} ({_threads(a)})", list(rows[0]), rows)


def _threads(record: ResultRecord) -> str:
    return f"threads={record.job.settings.get('threads')}"
