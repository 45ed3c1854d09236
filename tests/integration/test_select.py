"""`predict fit|validate`, `select` and the selection report on real ONNX Runtime measurements of models of
several sizes, stored in a real SQLite results store; and each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier

from deploybench.store import ResultStore
from deploybench.worker.launcher import run_in_worker

SIZES = [(64, 8), (256, 16), (512, 64), (1024, 64), (1024, 256), (2048, 128), (2048, 512)]
"""Input features and classes of the measured MatMul classifiers: work from 0.5 kFLOP to 2 MFLOP."""


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path]]:
    """A results store holding one ONNX Runtime single-stream measurement of each model size."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("select")
    url = f"sqlite:///{folder / 'results.db'}"
    models = [tiny_classifier(folder / f"mlp-{f}x{c}.onnx", features=f, classes=c) for f, c in SIZES]
    with ResultStore.open(url) as store:
        for model in models:
            record = run_in_worker(quick_job(model, "onnxruntime"))
            assert record.status.value == "ok", record.failure
            store.save(record)
    return url, models


def test_fit_validate_select_and_report_work_on_stored_measurements(
    cli: Run, measured: tuple[str, list[Path]], tmp_path: Path
) -> None:
    url, models = measured
    db = f"sqlite:///{tmp_path / 'copy.db'}"
    Path(db.removeprefix("sqlite:///")).write_bytes(Path(url.removeprefix("sqlite:///")).read_bytes())

    status, out, err = cli("predict", "fit", "--db", db)
    assert status == 0, err
    assert "onnxruntime|local|fp32|1" in out
    assert "7 measurements used" in err or "8 measurements used" in err

    status, out, err = cli("predict", "validate", "--db", db, "--format", "json", "--checks")
    assert status == 0, err
    report = json.loads(out)
    calibrated = [s for s in report["summaries"] if s["performance_model"] == "calibrated"]
    assert calibrated and calibrated[0]["framework"] == "onnxruntime" and calibrated[0]["target"] == "local"
    assert calibrated[0]["predictions"] == len(SIZES)
    assert all(c["measured_ms"] > 0 and c["predicted_ms"] > 0 for c in report["checks"])

    fresh = tiny_classifier(tmp_path / "unmeasured.onnx", features=1536, classes=100)
    assert cli("analyze", str(fresh), "--dim", "batch=1", "--db", db)[0] == 0
    status, out, err = cli("select", str(fresh), "--db", db, "--format", "json", "--plot", str(tmp_path / "f.svg"))
    assert status == 0, err
    selection = json.loads(out)
    local = [c for c in selection["ranked"] if c["target"] == "local" and c["framework"] == "onnxruntime"]
    assert local, "this machine's measured framework is a candidate"
    latency = local[0]["latency"]
    assert latency["model"] == "calibrated" and latency["basis"] == "predicted"
    assert latency["low"] < latency["value"] < latency["high"]
    assert "fitted on" in latency["inputs"]
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    assert any(c["target"] == "stm32-cortex-m7" for c in selection["ranked"] + selection["excluded"])

    assert cli("analyze", str(models[2]), "--dim", "batch=1", "--db", db)[0] == 0
    status, out, _ = cli("select", str(models[2]), "--db", db, "--format", "json")
    chosen = next(c for c in json.loads(out)["ranked"] if c["target"] == "local")
    assert chosen["latency"]["basis"] == "measured"

    html_file = tmp_path / "report" / "selection.html"
    status, _, err = cli("report", str(fresh), "--html", str(html_file), "--db", db)
    assert status == 0, err
    page = html_file.read_text()
    assert "<svg" in page and "Ranked combinations" in page and "leave one model out" in page
    data = json.loads(html_file.with_suffix(".json").read_text())
    assert data["selection"]["ranked"] and data["validation"]["summaries"]


def test_a_model_never_analysed_is_refused_with_what_to_do(cli: Run, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    status, _, err = cli("select", str(model))
    assert status == 2
    assert "was never analysed" in err and "deploybench analyze" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--precision", "fp64"], "--precision fp64: unknown precision"),
        (["--where", "country=France", "--where", "country=Germany"], "asked to equal france and germany at once"),
        (["--max-power-w", "0"], "--max-power-w 0: a budget must be positive"),
        (["--where", "colour=red"], "unknown field `colour`"),
    ],
)
def test_bad_constraints_are_one_line_errors(cli: Run, tmp_path: Path, options: list[str], message: str) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    assert cli("analyze", str(model), "--dim", "batch=1")[0] == 0
    status, _, err = cli("select", str(model), *options)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_an_empty_answer_names_the_constraint_that_excluded_the_most(cli: Run, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    assert cli("analyze", str(model), "--dim", "batch=1")[0] == 0
    status, out, err = cli("select", str(model), "--max-price", "1")
    assert status == 1
    assert "no combination meets the constraints" in err and "excluded the most" in err
    assert "over budget: price" in out or "price unknown" in out


def test_validate_before_any_fit_says_to_fit_first(cli: Run) -> None:
    status, _, err = cli("predict", "validate")
    assert status == 2
    assert "predict fit" in err
