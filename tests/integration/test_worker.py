"""The process boundary: a worker measures for real, and every way it can die becomes a failed result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.fake_backends import fake_backend_env
from tests.support.jobs import QUICK, quick_job
from tests.support.models import tiny_classifier, with_external_data

from deploybench.core.records import InputData, JobSpec, Scenario, ScenarioKind, Status, Timing
from deploybench.worker.launcher import run_in_worker


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_classifier(tmp_path / "tiny.onnx")


def job(model: Path, framework: str = "onnxruntime", **changes: object) -> JobSpec:
    defaults: dict[str, object] = {"settings": {"threads": 1} if framework == "onnxruntime" else {}, "timeout_s": 60}
    return quick_job(model, framework, **{**defaults, **changes})


def test_a_real_measurement(model: Path) -> None:
    phases: list[str] = []
    record = run_in_worker(job(model), on_progress=phases.append)
    assert record.status is Status.OK, record.failure
    (measurement,) = record.measurements
    assert measurement.summary.count == len(measurement.samples_us) >= QUICK.min_samples
    assert measurement.summary.min_us <= measurement.summary.median_us <= measurement.summary.max_us
    assert record.fidelity is not None and record.fidelity.inputs == 4
    (output,) = record.fidelity.outputs
    assert output.name == "probabilities" and output.cosine_similarity > 0.9999 and output.max_abs_error < 1e-5
    assert record.fidelity.top1_agreement == 1.0
    assert record.resources is not None and record.resources.load_s > 0 and record.resources.peak_rss_bytes > 0
    assert record.provenance is not None and record.provenance.settings["threads"] == 1
    assert record.provenance.settings["graph_optimization"] == "all"
    assert "prepare" in phases and "sample batch 1" in phases


def test_offline_batches_and_end_to_end_timing(model: Path) -> None:
    scenario = Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=(1, 4))
    record = run_in_worker(job(model, scenario=scenario, timing=Timing.END_TO_END))
    assert record.status is Status.OK, record.failure
    assert [m.batch_size for m in record.measurements] == [1, 4]
    assert all(m.throughput_per_s > 0 for m in record.measurements)


def test_server_scenario(model: Path) -> None:
    scenario = Scenario(kind=ScenarioKind.SERVER, target_qps=500, concurrency=2)
    record = run_in_worker(job(model, scenario=scenario))
    assert record.status is Status.OK, record.failure
    (measurement,) = record.measurements
    assert measurement.target_qps == 500 and measurement.summary.count >= QUICK.min_samples


def test_labelled_data_gives_accuracy(model: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(1).standard_normal((12, 8)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(12) % 4)
    data = InputData(source="npz", path=str(tmp_path / "data.npz"), count=12)
    record = run_in_worker(job(model, data=data))
    assert record.status is Status.OK, record.failure
    assert record.fidelity is not None and record.fidelity.accuracy == record.fidelity.reference_accuracy


@pytest.mark.parametrize(
    ("framework", "kind", "phase", "words"),
    [
        ("fake-segfault", "crash", "load", "segmentation fault"),
        ("fake-killed", "killed", "load", "out-of-memory"),
        ("fake-raise", "error", "prepare", "unsupported operator `Frobnicate`"),
    ],
)
def test_worker_deaths_become_failed_results(model: Path, framework: str, kind: str, phase: str, words: str) -> None:
    record = run_in_worker(job(model, framework), env=fake_backend_env())
    assert record.status is Status.FAILED and record.failure is not None
    assert (record.failure.kind, record.failure.phase) == (kind, phase)
    assert words in record.failure.message
    if framework == "fake-killed":
        assert "allocating a lot of memory" in record.failure.stderr_tail


def test_a_hanging_worker_is_killed_at_its_timeout(model: Path) -> None:
    record = run_in_worker(job(model, "fake-hang", timeout_s=3), env=fake_backend_env())
    assert record.failure is not None
    assert (record.failure.kind, record.failure.phase) == ("timeout", "load")
    assert "after 3 s" in record.failure.message


def test_stdout_chatter_does_not_break_the_protocol(model: Path) -> None:
    record = run_in_worker(job(model, "fake-noisy", settings={"threads": 1}), env=fake_backend_env())
    assert record.status is Status.OK, record.failure


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("these are my notes, not a model\n")
    record = run_in_worker(job(path))
    assert record.failure is not None and record.failure.phase == "prepare"
    assert "not a readable ONNX model" in record.failure.message


def test_truncated_model(model: Path) -> None:
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    record = run_in_worker(job(model))
    assert record.failure is not None and record.failure.phase == "prepare"
    assert "ONNX model" in record.failure.message


def test_external_data_outside_the_model_folder(tmp_path: Path) -> None:
    inner = tmp_path / "models"
    inner.mkdir()
    path = with_external_data(tiny_classifier(inner / "tiny.onnx"), "weights.bin")
    (tmp_path / "weights.bin").write_bytes((inner / "weights.bin").read_bytes())
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    onnx.save(model, str(path))
    record = run_in_worker(job(path))
    assert record.failure is not None
    assert "points outside the model's folder (`../weights.bin`)" in record.failure.message


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((4, 7), dtype=np.float32), "rows have shape (7,), input `input` takes (8,)"),
        (np.zeros((4, 8), dtype=np.float64), "`x` is float64, input `input` takes float32"),
    ],
)
def test_inputs_of_the_wrong_shape_or_type(model: Path, tmp_path: Path, x: np.ndarray, message: str) -> None:
    np.savez(tmp_path / "bad.npz", x=x)
    record = run_in_worker(job(model, data=InputData(source="npz", path=str(tmp_path / "bad.npz"))))
    assert record.failure is not None and record.failure.phase == "inputs"
    assert message in record.failure.message


def test_an_empty_data_file_is_named(model: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.npz").write_bytes(b"")
    record = run_in_worker(job(model, data=InputData(source="npz", path=str(tmp_path / "empty.npz"))))
    assert record.failure is not None and record.failure.phase == "inputs"
    assert f"{tmp_path / 'empty.npz'}: cannot read the input data" in record.failure.message


def test_unknown_setting_is_refused(model: Path) -> None:
    record = run_in_worker(job(model, settings={"thread": 2}))
    assert record.failure is not None
    assert "unknown setting `thread`" in record.failure.message


def test_the_model_changed_since_planning(model: Path) -> None:
    planned = job(model)
    tiny_classifier(model, seed=7)
    record = run_in_worker(planned)
    assert record.failure is not None and "changed since the job was planned" in record.failure.message
