"""PyTorch on ONNX models for real: `torch` and `torchscript` run from the `pytorch` toolchain environment
(onnx2torch with its torch and torchvision), placed there by the model's format, and checked against
`onnx-reference` through the ONNX model's own input and output names; what onnx2torch cannot convert, or a trace
cannot hold, is a failed result saying so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.jobs import assert_faithful_single_stream, quick_job, require_toolchain
from tests.support.models import tiny_classifier
from tests.support.onnx_models import pooled_batch_norm, shape_flatten, single_operator, tiny_conv_classifier

from deploybench.core.hashing import file_sha256
from deploybench.core.records import ResultRecord, Scenario, ScenarioKind, Status
from deploybench.worker.launcher import run_in_worker
from deploybench.worker.placement import Placer
from deploybench.worker.toolchains import Installed

FEATURES, CLASSES = 8, 4
FRAMEWORKS = ["torch", "torchscript"]
OFFLINE = Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=(1, 3))


@pytest.fixture(scope="module")
def toolchain() -> Installed:
    """The installed `pytorch` toolchain environment (`make test` installs it); a skip without it, a failure
    when DEPLOYBENCH_REQUIRE_BACKENDS says it must be there."""
    return require_toolchain("pytorch")


@pytest.fixture(scope="module")
def placer(toolchain: Installed) -> Placer:
    """One placer for the module: each environment is probed once."""
    return Placer()


def measure(placer: Placer, model: Path, framework: str, **changes: object) -> ResultRecord:
    """Run a quick job of framework on the ONNX model in a worker of the environment it is placed in, which
    must be the `pytorch` toolchain's."""
    environment, status = placer.place(framework, "onnx")
    assert environment is not None and environment.name == "pytorch", status.reason
    assert status.input_formats == ("pytorch", "onnx")
    job = quick_job(model, framework, **changes)
    return run_in_worker(job, python=environment.python, env=environment.worker_env())


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_onnx_classifier_runs_converted_in_the_pytorch_environment(
    framework: str, placer: Placer, toolchain: Installed, tmp_path: Path
) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    record = measure(placer, model, framework)
    assert_faithful_single_stream(record)
    assert record.provenance is not None and record.provenance.environment == "pytorch"
    assert record.provenance.converter == "onnx2torch 1.5.15" and "converter" not in record.provenance.settings
    assert record.provenance.settings["threads"] == 1
    assert f"torch=={record.provenance.framework_version}" in toolchain.spec.requirements
    assert record.resources is not None and record.resources.prepare_s is not None and record.resources.prepare_s > 0
    assert record.fidelity is not None and record.fidelity.reference.startswith("onnx-reference ")
    assert file_sha256(model) == record.job.model.sha256, "the conversion must leave the user's file alone"


def test_sessions_keep_the_onnx_names_and_dynamic_dimensions(toolchain: Installed, tmp_path: Path) -> None:
    """onnx2torch calls the input `input_1` and the output after its node: the sessions must not."""
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    code = (
        "import json, sys, numpy as np; from pathlib import Path\n"
        "from deploybench.backends.registry import load_backend\n"
        "rows = {}\n"
        "for name in ('torch', 'torchscript'):\n"
        "    backend = load_backend(name); work = Path(sys.argv[2], name); work.mkdir()\n"
        "    session = backend.open_session(backend.prepare(Path(sys.argv[1]), {'threads': 1}, work))\n"
        "    x = np.ones((3, 8), dtype=np.float32)\n"
        "    outputs = session.infer({'input': x})\n"
        "    rows[name] = {'inputs': [[i.name, list(i.shape), i.dtype] for i in session.inputs()],\n"
        "                  'outputs': {k: [list(v.shape), v.dtype.name] for k, v in outputs.items()}}\n"
        "    session.close()\n"
        "print(json.dumps(rows))"
    )
    done = subprocess.run(
        [toolchain.python, "-c", code, str(model), str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    for name in FRAMEWORKS:
        assert rows[name] == {
            "inputs": [["input", ["batch", FEATURES], "float32"]],
            "outputs": {"probabilities": [[3, CLASSES], "float32"]},
        }


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_conv_net_on_nchw_images_is_faithful_and_takes_other_batches(
    framework: str, placer: Placer, tmp_path: Path
) -> None:
    model = tiny_conv_classifier(tmp_path / "conv.onnx")
    record = measure(placer, model, framework, scenario=OFFLINE)
    assert record.status is Status.OK, record.failure
    assert [m.batch_size for m in record.measurements] == [1, 3]
    assert record.fidelity is not None and record.fidelity.reference.startswith("onnx-reference ")
    (output,) = record.fidelity.outputs
    assert output.name == "probabilities" and output.cosine_similarity > 0.9999 and output.max_abs_error < 1e-5
    assert record.fidelity.top1_agreement == 1.0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_batch_normalization_uses_the_models_statistics_not_the_batchs(
    framework: str, placer: Placer, tmp_path: Path
) -> None:
    record = measure(placer, pooled_batch_norm(tmp_path / "bn.onnx"), framework)
    assert record.status is Status.OK, record.failure
    assert record.fidelity is not None
    (output,) = record.fidelity.outputs
    assert output.name == "normalized" and output.max_abs_error < 1e-5


@pytest.mark.parametrize(
    ("operator", "domain", "version", "framework"),
    [("Frobnicate", "com.example", 1, "torch"), ("Hardmax", "", 13, "torchscript")],
    ids=["custom-domain", "standard"],
)
def test_an_operator_onnx2torch_cannot_convert_is_a_failed_result_naming_it(
    operator: str, domain: str, version: int, framework: str, placer: Placer, tmp_path: Path
) -> None:
    model = single_operator(tmp_path / "unconvertible.onnx", operator, domain)
    record = measure(placer, model, framework)
    assert record.status is Status.FAILED and record.failure is not None
    assert record.failure.phase == "prepare" and record.failure.error_type == "BackendError"
    assert record.failure.message == (
        f"{framework}: onnx2torch cannot convert unconvertible.onnx: Converter is not implemented "
        f"(OperationDescription(domain='{domain}', operation_type='{operator}', version={version}))"
    )


def test_a_trace_that_fixes_the_batch_is_refused_and_eager_runs_the_model(placer: Placer, tmp_path: Path) -> None:
    """onnx2torch's Shape gives the batch size as a constant to a trace: torchscript's check at a larger batch
    refuses that trace; eager PyTorch reads the shape at every call."""
    model = shape_flatten(tmp_path / "flatten.onnx")
    record = measure(placer, model, "torchscript")
    assert record.status is Status.FAILED and record.failure is not None and record.failure.phase == "prepare"
    assert "does not hold at other sizes of its dynamic dimensions" in record.failure.message
    assert "use the `torch` backend" in record.failure.message
    record = measure(placer, model, "torch", scenario=OFFLINE)
    assert record.status is Status.OK, record.failure
    assert record.fidelity is not None
    (output,) = record.fidelity.outputs
    assert output.name == "flat" and output.max_abs_error == 0


def test_pytorch_programs_and_the_reference_stay_in_the_main_environment(placer: Placer) -> None:
    for framework in ("torch", "torchscript", "torch-reference"):
        environment, _ = placer.place(framework, "pytorch")
        assert environment is not None and environment.name == "main"
    environment, status = placer.place("torch-reference", "onnx")
    assert environment is None and status.input_formats == ("pytorch",)


def test_the_cli_runs_torch_and_torchscript_on_an_onnx_model(toolchain: Installed, cli: Run, tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx", features=FEATURES, classes=CLASSES)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    quick = ["--min-samples", "20", "--min-duration", "0.05", "--max-duration", "0.5", "--count", "4"]
    status, out, err = cli("run", str(model), "-F", "torch", "-F", "torchscript", "--threads", "1", "--db", db, *quick)
    assert status == 0, err
    assert "│ torch " in out and "│ torchscript " in out
    status, out, err = cli("backends", "--format", "json")
    assert status == 0, err
    rows = {(row["name"], row["environment"]): row for row in json.loads(out)}
    assert rows["torch", "pytorch"]["input_formats"] == rows["torchscript", "pytorch"]["input_formats"]
    assert rows["torch", "pytorch"]["input_formats"] == ["pytorch", "onnx"] and rows["torch", "pytorch"]["available"]
    assert rows["torch", "main"]["input_formats"] == ["pytorch"]
