"""`deploybench run`, `campaign run` and `results ...`: measured, stored, resumed, compared, exported."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.models import tiny_classifier

QUICK = ["--min-samples", "20", "--min-duration", "0.05", "--max-duration", "1", "--count", "4"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_classifier(tmp_path / "tiny.onnx")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'results.db'}"


def campaign_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


CAMPAIGN = """
    name: tiny
    models:
      - path: tiny.onnx
        data: {count: 4}
    frameworks:
      - name: onnxruntime
        settings: {threads: [1, 2]}
    scenarios:
      - {kind: single-stream}
    stopping: {min_samples: 20, min_duration_s: 0.05, max_duration_s: 1.0, warmup_max: 50}
"""


def test_run_stores_and_lists_results(cli: Run, model: Path, db: str) -> None:
    status, out, _ = cli("run", str(model), "--threads", "1,2", "--db", db, *QUICK)
    assert status == 0
    assert "onnxruntime" in out and "threads=1" in out and "threads=2" in out
    status, out, _ = cli("results", "list", "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["settings"] for r in rows) == ["threads=1", "threads=2"]
    assert all(r["status"] == "ok" and float(r["median_us"]) > 0 for r in rows)


def test_show_compare_and_export(cli: Run, model: Path, db: str, tmp_path: Path) -> None:
    cli("run", str(model), "--threads", "1,2", "--db", db, *QUICK)
    status, out, _ = cli("results", "show", "1", "--db", db)
    record = json.loads(out)
    assert status == 0 and record["id"] == 1 and record["provenance"]["framework_version"]
    assert record["measurements"][0]["samples_us"].endswith("samples (use --samples)")
    status, out, _ = cli("results", "compare", "1", "2", "--db", db)
    assert status == 0 and "B/A" in out and "Mann-Whitney" in out
    target = tmp_path / "export.json"
    status, _, _ = cli("results", "export", "--db", db, "--output", str(target))
    exported = json.loads(target.read_text())
    assert status == 0 and [r["id"] for r in exported] == [2, 1]
    assert len(exported[0]["measurements"][0]["samples_us"]) >= 20


def test_run_again_skips_what_is_stored(cli: Run, model: Path, db: str) -> None:
    cli("run", str(model), "--threads", "1", "--db", db, *QUICK)
    status, _, err = cli("run", str(model), "--threads", "1,2", "--db", db, *QUICK)
    assert status == 0 and "1 job(s) already stored" in err
    status, out, _ = cli("results", "list", "--db", db, "--format", "json")
    assert len(json.loads(out)) == 2


def test_a_bad_model_fails_with_one_line_and_is_stored(cli: Run, tmp_path: Path, db: str) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07garbage")
    status, _, err = cli("run", str(path), "--db", db, *QUICK)
    assert status == 1
    assert "failed in phase `prepare`" in err and "ONNX model" in err
    assert "Traceback" not in err
    status, out, _ = cli("results", "list", "--db", db, "--status", "failed", "--format", "json")
    assert len(json.loads(out)) == 1


def test_campaign_runs_and_resumes(cli: Run, model: Path, db: str, tmp_path: Path) -> None:
    path = campaign_file(tmp_path, CAMPAIGN)
    status, out, _ = cli("campaign", "run", str(path), "--db", db)
    assert status == 0
    status, _, err = cli("campaign", "run", str(path), "--db", db)
    assert status == 0 and "2 job(s) already stored" in err
    status, out, _ = cli("results", "list", "--db", db, "--campaign", "tiny", "--format", "json")
    assert len(json.loads(out)) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("scenarios:", "colour: red\n    scenarios:"), "campaign.yaml:8: `colour`: is not a field here"),
        (("name: onnxruntime", "name: tensorflow-magic"), "campaign.yaml:6: `frameworks.0.name`: unknown framework"),
        (("path: tiny.onnx", "path: missing.onnx"), "missing.onnx: no such model file"),
        (("{kind: single-stream}", "{kind: batchy}"), "campaign.yaml:9: `scenarios.0.kind`"),
        (("scenarios:", "targets: [local, mars-rover]\n    scenarios:"), "`targets.1`: unknown target `mars-rover`"),
    ],
)
def test_bad_campaign_files(
    cli: Run, model: Path, db: str, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = campaign_file(tmp_path, CAMPAIGN.replace(*change))
    status, _, err = cli("campaign", "run", str(path), "--db", db)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_resume_after_the_controller_is_killed(model: Path, tmp_path: Path) -> None:
    database, command = slow_campaign(tmp_path)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _await_first_result(database)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = _stored(database)
    assert 1 <= first < 3
    assert sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{first} job(s) already stored" in done.stderr
    assert _stored(database) == 3


def slow_campaign(tmp_path: Path) -> tuple[Path, list[str]]:
    """A three-job campaign whose jobs each sample for about 2.5 s, and the command that runs it."""
    body = CAMPAIGN.replace("threads: [1, 2]", "threads: [1, 2, 3]").replace(
        "max_duration_s: 1.0", "max_duration_s: 3.0"
    )
    path = campaign_file(tmp_path, body.replace("min_duration_s: 0.05", "min_duration_s: 2.5"))
    database = tmp_path / "results.db"
    return database, [
        sys.executable,
        "-m",
        "deploybench.cli",
        "campaign",
        "run",
        str(path),
        "--db",
        f"sqlite:///{database}",
    ]


def _interruptible() -> None:
    """Ctrl-C's default action in the child, even when this test runs in a shell's background job, which starts
    with SIGINT ignored (POSIX), which its children inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _await_first_result(database: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _stored(database) < 1:
        time.sleep(0.1)


def _stored(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        return int(sqlite3.connect(database).execute("SELECT count(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_quickstart_runs_every_local_framework(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deploybench.worker.placement import Placer

    statuses = Placer().placed_statuses("onnx")
    local = {s.name for s in statuses if s.available and s.deployment and not s.only and "onnx" in s.input_formats}
    specialised = {s.name for s in statuses if s.available and s.only}
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEPLOYBENCH_DB")
    status, out, err = cli("quickstart")
    assert status == 0, err
    assert "onnx-reference: a reference evaluator" in err
    assert all(f"{name}: made for " in err and "name it to run it" in err for name in specialised)
    assert (tmp_path / ".deploybench" / "results.db").is_file()
    status, out_list, _ = cli("results", "list", "--format", "json")
    records = json.loads(out_list)
    assert {r["job"]["framework"] for r in records} == local
    for record in records:
        fidelity = record["fidelity"]
        assert fidelity["accuracy"] == fidelity["reference_accuracy"] > 0.9
        assert fidelity["top1_agreement"] == 1.0
    if len(local) > 1:
        assert "B/A" in out and "Mann-Whitney" in out


def test_framework_all_runs_what_is_installed_and_says_what_is_not(cli: Run, model: Path, db: str) -> None:
    status, out, err = cli("run", str(model), "--framework", "all", "--threads", "1", "--db", db, *QUICK)
    assert status == 0, err
    assert "onnx-reference: a reference evaluator" in err
    status, out, _ = cli("results", "list", "--db", db, "--format", "json")
    frameworks = {r["job"]["framework"] for r in json.loads(out)}
    assert "onnxruntime" in frameworks and "onnx-reference" not in frameworks


def test_ctrl_c_stops_the_worker_and_the_campaign_resumes(model: Path, tmp_path: Path) -> None:
    import psutil

    database, command = slow_campaign(tmp_path)
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )
    _await_first_result(database)
    time.sleep(0.5)
    workers = psutil.Process(process.pid).children(recursive=True)
    assert workers, "a worker is measuring the second job"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted: every finished job is stored" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
    first = _stored(database)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{first} job(s) already stored" in done.stderr and _stored(database) == 3
