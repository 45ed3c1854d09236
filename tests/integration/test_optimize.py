"""Optimization for real: every method of every framework's own tool on a small CNN, made in a worker of the
environment that hosts the framework, stored by recipe, and measured against FP32 on evaluation rows that the
calibration never saw; the fidelity figures against outputs computed here by hand; and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import QUICK, require_toolchain
from tests.support.onnx_models import tiny_conv_classifier

from deploybench.campaign.optimization import DataPlan, evaluation_jobs, optimize_model, plan_data
from deploybench.campaign.plan import model_ref
from deploybench.campaign.runner import run_jobs
from deploybench.core.errors import BackendError
from deploybench.core.hashing import file_sha256
from deploybench.core.records import ModelRef, ResultRecord, Status
from deploybench.optimize.data import load_rows, split_rows
from deploybench.optimize.store import Entry
from deploybench.store import ResultStore
from deploybench.worker.placement import Placer

ROWS, CALIBRATION, EVALUATION = 160, 64, 64


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny CNN and 160 seeded rows labelled by its own FP32 predictions (so FP32 accuracy is 1)."""
    import onnxruntime

    folder = tmp_path_factory.mktemp("optimize")
    path = tiny_conv_classifier(folder / "tiny_conv.onnx")
    x = np.random.default_rng(7).standard_normal((ROWS, 3, 8, 8)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = session.run(None, {"image": x})[0].argmax(axis=1)
    np.savez(folder / "rows.npz", x=x, y=y)
    return path, folder / "rows.npz"


@pytest.fixture
def plan(model: tuple[Path, Path]) -> DataPlan:
    rows = load_rows(model[1])
    return plan_data(rows, split_rows(rows, CALIBRATION, EVALUATION, seed=0))


def _evaluate(
    source: ModelRef, entry: Entry, plan: DataPlan, tmp_path: Path, reference: str | None = None
) -> tuple[ResultRecord, ResultRecord]:
    fp32, optimized = evaluation_jobs(source, entry, plan.evaluation, {"threads": 1}, QUICK, reference=reference)
    with ResultStore.open(f"sqlite:///{tmp_path / 'results.db'}") as store:
        outcome = run_jobs([fp32, optimized], store, "optimize-test")
        return store.get(outcome.stored[0]), store.get(outcome.stored[1])


METHODS = [
    ("onnxruntime", "dynamic-int8", {}, None),
    ("onnxruntime", "static-int8", {}, None),
    ("onnxruntime", "static-int8", {"format": "qoperator", "per_channel": True, "calibration": "entropy"}, None),
    ("onnxruntime", "static-int8", {"calibration": "percentile", "activation_type": "qint8"}, None),
    ("onnxruntime", "fp16", {}, None),
    ("openvino", "nncf-int8", {"preset": "mixed"}, None),
    ("openvino", "nncf-int8-accuracy", {"max_drop": 0.02}, None),
    ("openvino", "fp16", {}, None),
    ("litert", "int8", {}, "litert"),
    ("litert", "dynamic-range", {}, "litert"),
    ("litert", "fp16", {}, "litert"),
    ("torch", "prune-unstructured", {"amount": 0.3}, "pytorch"),
    ("torch", "prune-channels", {"amount": 0.25}, "pytorch"),
]


@pytest.mark.parametrize(
    ("framework", "method", "options", "toolchain"), METHODS, ids=[f"{m[0]}-{m[1]}-{len(m[2])}" for m in METHODS]
)
def test_every_method_makes_a_recorded_model_that_stays_close_to_fp32(
    framework: str,
    method: str,
    options: dict[str, str | int | float | bool],
    toolchain: str | None,
    model: tuple[Path, Path],
    plan: DataPlan,
    tmp_path: Path,
) -> None:
    if toolchain:
        require_toolchain(toolchain)
    source = model_ref(model[0])
    entry = optimize_model(source, framework, method, options, plan, Placer())
    recorded = entry.optimization
    assert recorded.source == source and recorded.framework == framework and recorded.method == method
    assert set(options.items()) <= set(recorded.options.items()) and recorded.tool
    assert file_sha256(Path(entry.artifact.path)) == entry.artifact.sha256
    if method in ("static-int8", "nncf-int8", "nncf-int8-accuracy", "int8"):
        assert recorded.calibration is not None and recorded.calibration.samples == CALIBRATION
    else:
        assert recorded.calibration is None
    if method == "prune-unstructured":  # 428 weights (4x3x3x3 + 5x64): the 30 % smallest of all of them
        assert recorded.sparsity == round(0.3 * 428) / 428
    if method == "prune-channels":  # a quarter of the convolution's 4 output channels; the classifier is kept
        assert recorded.sparsity == 27 / 428
    fp32, optimized = _evaluate(source, entry, plan, tmp_path)
    assert fp32.status is Status.OK and optimized.status is Status.OK, optimized.failure
    assert optimized.job.optimization == recorded
    fidelity = optimized.fidelity
    assert fidelity is not None and fidelity.inputs == EVALUATION and fidelity.reference_accuracy == 1.0
    floor = 0.5 if method == "prune-channels" else 0.75  # one of the 4 channels gone, without fine-tuning
    assert fidelity.top1_agreement is not None and fidelity.top1_agreement >= floor
    assert fidelity.accuracy == fidelity.top1_agreement and fidelity.accuracy_drop is not None


def test_fidelity_figures_are_those_of_the_outputs_computed_by_hand(
    model: tuple[Path, Path], plan: DataPlan, tmp_path: Path
) -> None:
    import onnxruntime

    source = model_ref(model[0])
    entry = optimize_model(source, "onnxruntime", "static-int8", {}, plan, Placer())
    _, optimized = _evaluate(source, entry, plan, tmp_path, reference="onnxruntime")
    with np.load(plan.evaluation.path) as rows:
        x, y = rows["x"], rows["y"]

    def outputs(path: str) -> np.ndarray:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(None, {"image": x[i : i + 1]})[0] for i in range(len(x))]).astype(float)

    want, got = outputs(source.path), outputs(entry.artifact.path)
    error = np.abs(got - want)
    fidelity = optimized.fidelity
    assert fidelity is not None
    (output,) = fidelity.outputs
    assert output.max_abs_error == pytest.approx(error.max(), rel=1e-6)
    assert output.mean_abs_error == pytest.approx(error.mean(), rel=1e-6)
    cosine = float(np.dot(got.ravel(), want.ravel()) / np.linalg.norm(got) / np.linalg.norm(want))
    assert output.cosine_similarity == pytest.approx(cosine, rel=1e-9)
    assert fidelity.top1_agreement == pytest.approx(np.mean(got.argmax(1) == want.argmax(1)))
    assert fidelity.accuracy == pytest.approx(np.mean(got.argmax(1) == y))
    assert output.max_abs_error > 0


def test_onnxruntime_says_where_the_quantized_model_drifts_per_tensor(model: tuple[Path, Path], plan: DataPlan) -> None:
    entry = optimize_model(model_ref(model[0]), "onnxruntime", "static-int8", {}, plan, Placer())
    layers = entry.optimization.layers
    # The quantizer folds the Relu into the convolution's QuantizeLinear: `conv` itself is not computed.
    assert [layer.tensor for layer in layers][:3] == ["relu", "pool", "flat"]
    assert [layer.op_type for layer in layers][:3] == ["Relu", "MaxPool", "Flatten"]
    assert all(layer.sqnr_db is not None and 10 < layer.sqnr_db < 80 for layer in layers)


def test_the_same_recipe_is_reused_and_a_damaged_artifact_made_again(model: tuple[Path, Path], plan: DataPlan) -> None:
    source = model_ref(model[0])
    first = optimize_model(source, "onnxruntime", "dynamic-int8", {}, plan, Placer())
    said: list[str] = []
    again = optimize_model(source, "onnxruntime", "dynamic-int8", {}, plan, Placer(), echo=said.append)
    assert again == first and said == [f"onnxruntime dynamic-int8: reusing {first.artifact.path}"]
    Path(first.artifact.path).write_bytes(b"damaged")
    said.clear()
    remade = optimize_model(source, "onnxruntime", "dynamic-int8", {}, plan, Placer(), echo=said.append)
    assert "no longer matches its SHA-256" in said[0] and remade.artifact.sha256 == first.artifact.sha256


def test_a_model_with_no_float_weights_is_refused(model: tuple[Path, Path], plan: DataPlan) -> None:
    from deploybench.backends.onnxruntime_optimize import optimize

    quantized = optimize_model(model_ref(model[0]), "onnxruntime", "static-int8", {}, plan, Placer())
    with pytest.raises(BackendError, match="no float weights to quantize"):
        optimize(Path(quantized.artifact.path), "dynamic-int8", {}, None, Path(plan.evaluation.path).parent)


def test_the_cli_optimizes_and_reports_against_fp32(cli: Run, model: tuple[Path, Path]) -> None:
    status, out, err = cli(
        "optimize", str(model[0]), "-F", "onnxruntime", "--method", "static-int8", "--data", str(model[1]),
        "--calibration", "40", "--evaluate", "50", "--min-samples", "20", "--max-duration", "1",
    )  # fmt: skip
    assert status == 0, err
    assert "the optimized deployment (B) against FP32 (A)" in out and "static-int8" in out
    assert "where outputs drift from FP32" in out and "50 rows (rows 40 to 89" in err


def test_the_cli_lists_every_method(cli: Run) -> None:
    status, out, _ = cli("optimize", "--list")
    assert status == 0
    for method in ("dynamic-int8", "static-int8", "nncf-int8-accuracy"):
        assert method in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--method", "magic"], "onnxruntime has no optimization method `magic`; its methods here: dynamic-int8"),
        (["-F", "tvm", "--method", "int8"], "tvm has no optimization method `int8`; its methods here: none"),
        (["--method", "static-int8", "--calibration", "0"], "needs calibration rows"),
        (["--method", "static-int8", "-o", "calibration=guess"], "`calibration` = 'guess'"),
        (["--method", "static-int8", "-o", "colour=red"], "unknown setting `colour`"),
        (["--evaluate", "500"], "40 calibration + 500 evaluation rows asked, it holds 160"),
    ],
)
def test_bad_requests_are_one_line_errors(
    cli: Run, model: tuple[Path, Path], arguments: list[str], message: str
) -> None:
    rows = ["--data", str(model[1]), "--calibration", "40", "--evaluate", "50"]
    status, out, err = cli("optimize", str(model[0]), *rows, *arguments)
    assert status != 0 and message in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_rows_that_do_not_fit_the_model_are_named(cli: Run, model: tuple[Path, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "wide.npz", x=np.zeros((300, 3, 9, 9), np.float32))
    status, _, err = cli("optimize", str(model[0]), "--method", "static-int8", "--data", str(tmp_path / "wide.npz"))
    assert status != 0 and "rows have shape (3, 9, 9), input `image` of tiny_conv.onnx takes (3, 8, 8)" in err
    np.savez(tmp_path / "ints.npz", x=np.zeros((300, 3, 8, 8), np.int64))
    status, _, err = cli("optimize", str(model[0]), "--method", "static-int8", "--data", str(tmp_path / "ints.npz"))
    assert status != 0 and "rows are int64, input `image` of tiny_conv.onnx takes float32" in err
    (tmp_path / "empty").mkdir()
    status, _, err = cli("optimize", str(model[0]), "--data", str(tmp_path / "empty"))
    assert status != 0 and "holds no .npy file" in err


def test_a_pruning_ratio_outside_zero_to_one_is_refused(cli: Run, model: tuple[Path, Path]) -> None:
    require_toolchain("pytorch")
    status, _, err = cli(
        "optimize", str(model[0]), "--data", str(model[1]), "--evaluate", "50", "-F", "torch",
        "--method", "prune-channels", "-o", "amount=1.0",
    )  # fmt: skip
    assert status != 0 and "`amount` = 1.0 is outside [0, 1)" in err


def test_a_search_stores_every_point_resumes_and_keeps_the_pareto_front(
    cli: Run, model: tuple[Path, Path], tmp_path: Path
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        "frameworks:\n  onnxruntime:\n    settings: {graph_optimization: [basic, all]}\n"
        "    methods: {dynamic-int8: [{}], fp16: [{}], static-int8: [{calibration: guess}]}\n",
        encoding="utf-8",
    )
    arguments = [
        "optimize", str(model[0]), "--data", str(model[1]), "--calibration", "40", "--evaluate", "50", "--search",
        "--space", str(space), "--min-agreement", "0.9", "--min-samples", "20", "--max-duration", "0.5",
    ]  # fmt: skip
    status, out, err = cli(*arguments)
    assert status == 0, err
    assert "7 point(s) explored" in out and "on the Pareto front" in out
    assert "failed point onnxruntime static-int8 (calibration=guess): onnxruntime: `calibration` = 'guess'" in err
    assert out.count("onnxruntime fp32") == 2 and out.count("onnxruntime dynamic-int8") == 2
    status, out, err = cli(*arguments)
    assert status == 0 and "6 job(s) already stored" in err and "7 point(s) explored" in out


def test_a_malformed_search_space_is_named(cli: Run, model: tuple[Path, Path], tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("frameworks:\n  onnxruntime:\n    methods: {fp16: {}}\n", encoding="utf-8")
    status, _, err = cli(
        "optimize", str(model[0]), "--data", str(model[1]), "--evaluate", "50", "--search", "--space", str(space)
    )
    assert status != 0 and "space.yaml: `frameworks.onnxruntime.methods.fp16`" in err


def test_results_compare_puts_each_optimized_result_beside_fp32_and_plots_the_front(
    cli: Run, model: tuple[Path, Path], tmp_path: Path
) -> None:
    base = ["--data", str(model[1]), "--calibration", "40", "--evaluate", "50", "--min-samples", "20"]
    for method in ("dynamic-int8", "fp16"):
        status, _, err = cli("optimize", str(model[0]), "--method", method, "--max-duration", "0.5", *base)
        assert status == 0, err
    plot = tmp_path / "front.png"
    status, out, err = cli("results", "compare", "--optimized", "--plot", str(plot))
    assert status == 0, err
    assert "dynamic-int8" in out and "fp16" in out and "latency B/A" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page, document = tmp_path / "optimize.html", tmp_path / "optimize.md"
    status, _, err = cli("report", "optimize", "--markdown", str(document), "--html", str(page))
    assert status == 0, err
    assert "<h2>Optimized deployments against FP32: the Pareto front</h2>" in page.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page.read_text(encoding="utf-8")
    assert not page.with_suffix(".pareto.png").exists()
    status, _, err = cli("results", "compare", "--optimized", "--campaign", "nothing-here")
    assert status != 0 and "no optimized result with its FP32 result is stored in campaign `nothing-here`" in err


def test_pt2e_int8_for_xnnpack_through_executorch(tmp_path: Path) -> None:
    from tests.support.jobs import require
    from tests.support.pytorch_models import tiny_conv_program

    from deploybench.backends.executorch import ExecuTorchBackend

    require(ExecuTorchBackend())
    program, module = tiny_conv_program(tmp_path / "tiny_conv.pt2")
    import torch

    x = np.random.default_rng(3).standard_normal((120, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x)).argmax(dim=1).numpy()
    np.savez(tmp_path / "rows.npz", x=x, y=y)
    rows = load_rows(tmp_path / "rows.npz")
    plan = plan_data(rows, split_rows(rows, 40, 50, seed=0))
    source = model_ref(program)
    entry = optimize_model(source, "executorch", "pt2e-int8", {}, plan, Placer())
    assert entry.artifact.path.endswith(".pte") and Path(entry.artifact.path).with_suffix(".signature.json").is_file()
    assert "XNNPACKQuantizer" in entry.optimization.tool and entry.optimization.options == {"per_channel": True}
    fp32, optimized = _evaluate(source, entry, plan, tmp_path)
    assert fp32.status is Status.OK and optimized.status is Status.OK, (fp32.failure, optimized.failure)
    assert fp32.provenance is not None and "XnnpackPartitioner" in (fp32.provenance.converter or "")
    assert optimized.fidelity is not None and optimized.fidelity.reference.startswith("torch-reference")
    assert optimized.fidelity.top1_agreement is not None and optimized.fidelity.top1_agreement >= 0.9


def test_a_folder_of_photographs_calibrates_and_evaluates(cli: Run, model: tuple[Path, Path], tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for index in range(30):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"{index:02}.png")
    status, out, err = cli(
        "optimize", str(model[0]), "--data", str(folder), "--method", "static-int8", "--calibration", "10",
        "--evaluate", "20", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--min-samples", "20",
        "--max-duration", "0.5",
    )  # fmt: skip
    assert status == 0, err
    assert "20 rows (rows 10 to 29 of a permutation of all 30" in err and "static-int8" in out
    status, _, err = cli("optimize", str(model[0]), "--data", str(folder), "--std", "0,1,1")
    assert status != 0 and "--std `0,1,1`: give three numbers" in err
