"""`deploybench optimize`: make an INT8, FP16 or pruned model with a framework's own tool, then measure it beside
the FP32 model on the same framework and the same evaluation rows, and say what it gained and what it cost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploybench.backends.onnx_model import onnx_inputs
from deploybench.campaign.optimization import evaluation_jobs, optimize_model, plan_data
from deploybench.campaign.plan import model_ref
from deploybench.campaign.search import Planned, judge, plan_search
from deploybench.cli.measure import execute
from deploybench.cli.output import note, print_table
from deploybench.cli.values import Database, parse_grid, split_names
from deploybench.core.errors import ConfigurationError
from deploybench.core.formats import model_format
from deploybench.core.records import SettingValue, StoppingRule
from deploybench.optimize.data import ImageLayout, load_rows, split_rows
from deploybench.optimize.space import load_space
from deploybench.report.optimization import describe, divergence_rows, fidelity_row, search_rows
from deploybench.worker.placement import Placer
from deploybench.zoo.build import build_model, held_out_data
from deploybench.zoo.records import Format

ZOO_PREFIX = "zoo:"


def optimize(
    model: Annotated[
        str | None, typer.Argument(help="FP32 ONNX model file, or zoo:NAME (its held-out rows are the default data).")
    ] = None,
    framework: Annotated[
        str, typer.Option("--framework", "-F", help="Framework whose tool optimizes.")
    ] = "onnxruntime",
    method: Annotated[str, typer.Option(help="Method, e.g. static-int8 (see --list).")] = "dynamic-int8",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Method option NAME=VALUE (repeatable).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Rows: .npz with x (and y), a folder of .npy files or of images, or package.module:function."
        ),
    ] = None,
    mean: Annotated[str, typer.Option(help="Images: per-channel mean subtracted after scaling to [0, 1].")] = "0,0,0",
    std: Annotated[str, typer.Option(help="Images: per-channel standard deviation divided by.")] = "1,1,1",
    calibration: Annotated[int, typer.Option(help="Rows drawn for calibration.")] = 100,
    evaluate: Annotated[int, typer.Option(help="Other rows drawn for evaluation (never used to calibrate).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the permutation that draws the rows.")] = 0,
    threads: Annotated[str, typer.Option(help="Threads of the deployments (a list, e.g. 1,2, with --search).")] = "1",
    reference: Annotated[
        str | None, typer.Option(help="Backend giving the FP32 reference outputs (default: the format's evaluator).")
    ] = None,
    min_samples: Annotated[int, typer.Option(help="Fewest timed samples (at least 10).", min=10)] = 100,
    max_duration: Annotated[float, typer.Option(help="Longest sampling, s (above 0).", min=0.001)] = 10.0,
    list_methods: Annotated[bool, typer.Option("--list", help="List every framework's methods and options.")] = False,
    search: Annotated[
        bool, typer.Option(help="Explore every framework x method x options x settings x batch; keep the Pareto front.")
    ] = False,
    space: Annotated[Path | None, typer.Option(help="Search space YAML (default: the built-in one).")] = None,
    frameworks: Annotated[
        str | None, typer.Option(help="Search only these frameworks, e.g. onnxruntime,openvino.")
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes searched, e.g. 1,8.")] = "1",
    min_agreement: Annotated[
        float | None, typer.Option(help="Keep points whose top-1 agreement (else cosine) with FP32 is at least this.")
    ] = None,
    max_accuracy_drop: Annotated[
        float | None, typer.Option(help="Keep points whose accuracy drop, in percentage points, is at most this.")
    ] = None,
    campaign: Annotated[str, typer.Option(help="Store the results under this campaign name.")] = "optimize",
    db: Database = None,
) -> None:
    """Optimize a model with one framework's own tool; measure it against FP32 (latency, size, memory, accuracy
    and its drop, agreement, output errors, and the tensors where divergence enters)."""
    placer = Placer()
    if list_methods:
        _list(placer)
        return
    if model is None:
        raise ConfigurationError("give the model to optimize", hint="deploybench optimize model.onnx -F onnxruntime")
    path, default_data = _model(model, framework, placer)
    rows = load_rows(data or _required(default_data, model), _image_layout(path, mean, std))
    split = split_rows(rows, calibration, evaluate, seed)
    plan = plan_data(rows, split)
    source = model_ref(path)
    stopping = StoppingRule(min_samples=min_samples, max_duration_s=max_duration)
    if search:
        planned = plan_search(
            source,
            load_space(space),
            plan,
            placer,
            _integers(threads, "--threads"),
            _integers(batch, "--batch"),
            stopping,
            reference,
            split_names(frameworks) or None,
            echo=note,
        )
        _searched(planned, campaign, db, placer, min_agreement, max_accuracy_drop)
        return
    options: dict[str, SettingValue] = {name: values[0] for name, values in parse_grid(option or []).items()}
    entry = optimize_model(source, framework, method, options, plan, placer, echo=note)
    note(f"made {entry.artifact.path}: {describe(entry.optimization)}")
    note(f"evaluation: {plan.evaluation.samples} rows ({plan.evaluation.rows}) of {plan.evaluation.source}")
    takes = placer.place(framework, model_format(path))[1].settings
    settings: dict[str, SettingValue] = {"threads": _integers(threads, "--threads")[0]} if "threads" in takes else {}
    if not settings:
        note(f"{framework} takes no `threads` setting: its deployments run without it")
    fp32_job, optimized_job = evaluation_jobs(source, entry, plan.evaluation, settings, stopping, reference)
    results = execute([fp32_job, optimized_job], campaign, retry_failed=False, db=db, placer=placer)
    (fp32_id, fp32), (optimized_id, optimized) = results
    row = {"A (FP32)": f"result {fp32_id}", "B": f"result {optimized_id}", **fidelity_row(fp32, optimized)}
    print_table("the optimized deployment (B) against FP32 (A), same framework, same rows", list(row), [row])
    layers = divergence_rows(entry.optimization.layers)
    if layers:
        print_table(
            f"where outputs drift from FP32, per tensor ({len(entry.optimization.layers)} compared)",
            list(layers[0]),
            layers,
        )


def _model(given: str, framework: str, placer: Placer) -> tuple[Path, Path | None]:
    """The model file (a zoo model in the format the framework optimizes: ONNX, else a PyTorch program), and
    the rows its zoo builder held out, if any."""
    if not given.startswith(ZOO_PREFIX):
        return Path(given), None
    fmt: Format = "onnx" if placer.place(framework, "onnx")[0] is not None else "pt2"
    artifact = build_model(given.removeprefix(ZOO_PREFIX), fmt, echo=note)
    return Path(artifact.path), held_out_data(artifact)


def _image_layout(model: Path, mean: str, std: str) -> ImageLayout | None:
    """How images become rows for an ONNX model with one RGB image input [N, 3, H, W] or [N, H, W, 3]; None for
    any other model (a folder of images is then refused with the reason)."""
    if model.suffix.lower() != ".onnx" or not model.is_file():
        return None
    inputs = onnx_inputs(model)
    dims = inputs[0].shape[1:] if len(inputs) == 1 else ()
    shape = [d for d in dims if isinstance(d, int)]
    if len(dims) != 3 or len(shape) != 3 or 3 not in (shape[0], shape[2]):
        return None
    first = shape[0] == 3
    height, width = (shape[1], shape[2]) if first else (shape[0], shape[1])
    return ImageLayout(height, width, first, _channels(mean, "--mean"), _channels(std, "--std"))


def _channels(text: str, option: str) -> tuple[float, ...]:
    values = [float(v) for v in text.split(",") if v.strip()] if text else []
    if len(values) != 3 or (option == "--std" and any(v <= 0 for v in values)):
        raise ConfigurationError(f"{option} `{text}`: give three numbers (R, G, B)", hint=f"e.g. {option} 0.5,0.5,0.5")
    return tuple(values)


def _required(default: Path | None, model: str) -> Path:
    if default is None:
        raise ConfigurationError(
            f"{model}: no data to calibrate and evaluate on", hint="give --data rows.npz (x, and labels y)"
        )
    return default


def _list(placer: Placer) -> None:
    rows = [
        {
            "framework": status.name,
            "method": method.name,
            "needs": "labelled rows" if method.labelled else ("rows" if method.calibrated else ""),
            "what": method.description,
            "options": "; ".join(f"{name}: {meaning}" for name, meaning in method.options.items()),
        }
        for status in placer.placed_statuses("onnx")
        for method in status.methods
    ]
    print_table("optimization methods, where each framework runs", list(rows[0]), rows)


def _integers(text: str, option: str) -> list[int]:
    values = [value for value in parse_grid([f"v={text}"])["v"]]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ConfigurationError(f"{option} `{text}`: give positive integers", hint=f"e.g. {option} 1,2")
    return [int(v) for v in values]


def _searched(
    planned: Planned,
    campaign: str,
    db: str | None,
    placer: Placer,
    min_agreement: float | None,
    max_accuracy_drop: float | None,
) -> None:
    """Measure the planned points (those stored already are shown, not run again) and print them with the front."""
    for line in planned.skipped:
        note(f"skipped {line}")
    for variant, reason in planned.failed:
        note(f"failed point {variant.label}: {reason}")
    jobs = [job for _, job in planned.jobs]
    results = execute(jobs, campaign, retry_failed=False, db=db, placer=placer, raise_on_failure=False) if jobs else []
    by_key = {record.job.key(): record for _, record in results}
    measured = [(variant, by_key[job.key()]) for variant, job in planned.jobs if job.key() in by_key]
    outcomes, front = judge(measured, min_agreement, max_accuracy_drop)
    rows = search_rows(outcomes, front)
    explored = len(outcomes) + len(planned.failed)
    print_table(f"{explored} point(s) explored, {len(front)} on the Pareto front", list(rows[0]), rows)
