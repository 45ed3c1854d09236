"""Optimize a model with one framework's own tool and plan its evaluation against the FP32 model.

The optimized model is made by a worker in the environment that hosts the framework, stored by its recipe
(so a second run reuses it), and measured like any deployment, on evaluation rows that the calibration never
saw, beside the FP32 model on the same framework and the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deploybench.core.errors import BackendError, ConfigurationError
from deploybench.core.formats import model_format
from deploybench.core.records import (
    BackendStatus,
    DataSplit,
    InputData,
    JobSpec,
    ModelRef,
    Optimization,
    OptimizationMethod,
    OptimizeRequest,
    Scenario,
    SettingValue,
    StoppingRule,
)
from deploybench.optimize.data import Rows, Split, write_rows
from deploybench.optimize.store import Entry, Recipe, fresh_folder, lookup, save, store_root
from deploybench.worker.launcher import optimize_in_worker
from deploybench.worker.placement import Environment, Placer


@dataclass(frozen=True)
class DataPlan:
    """The calibration and evaluation rows of one optimization, written as files of their own."""

    calibration: DataSplit | None
    evaluation: DataSplit


def plan_data(rows: Rows, split: Split) -> DataPlan:
    """Write the split's calibration rows (when there are any) and evaluation rows beside the optimized models."""
    folder = store_root() / "data"
    calibration = (
        write_rows(rows, split.calibration, folder, "calibration", split.seed, 0) if len(split.calibration) else None
    )
    evaluation = write_rows(rows, split.evaluation, folder, "evaluation", split.seed, len(split.calibration))
    return DataPlan(calibration, evaluation)


def _placed(
    placer: Placer, model: ModelRef, framework: str, method: str
) -> tuple[Environment, BackendStatus, OptimizationMethod]:
    """Where the framework optimizes this model, its status there, and the method as it offers it; an error
    names what is offered."""
    environment, status = placer.place(framework, model_format(Path(model.path)))
    if environment is None:
        raise ConfigurationError(f"framework `{framework}` cannot optimize here: {status.reason}")
    offered = {m.name: m for m in status.methods}
    if method not in offered:
        raise ConfigurationError(
            f"{framework} has no optimization method `{method}`",
            hint=f"its methods here: {', '.join(sorted(offered)) or 'none'}",
        )
    return environment, status, offered[method]


def optimize_model(
    model: ModelRef,
    framework: str,
    method: str,
    options: Mapping[str, SettingValue],
    data: DataPlan,
    placer: Placer,
    echo: Callable[[str], None] = lambda line: None,
) -> Entry:
    """The optimized model, from the store when the same recipe made it before, else made now by a worker."""
    environment, status, offered = _placed(placer, model, framework, method)
    if offered.calibrated and data.calibration is None:
        raise ConfigurationError(f"{framework} {method} needs calibration rows", hint="give --calibration N > 0")
    calibration = data.calibration if offered.calibrated else None
    recipe = Recipe(
        source_sha256=model.sha256,
        framework=framework,
        framework_version=status.version,
        method=method,
        options=dict(options),
        calibration_sha256=calibration.sha256 if calibration else None,
    )
    entry, why = lookup(recipe)
    if entry is not None:
        echo(f"{framework} {method}: reusing {entry.artifact.path}")
        return entry
    if why:
        echo(f"{framework} {method}: making it again: {why}")
    request = OptimizeRequest(
        model=model,
        framework=framework,
        method=method,
        options=dict(options),
        calibration=calibration.path if calibration else None,
        divergence=data.evaluation.path,
        output=str(fresh_folder(recipe)),
    )
    reply = optimize_in_worker(request, environment.python, environment.worker_env())
    if reply.error is not None or reply.artifact is None or reply.tool is None:
        raise BackendError(reply.error or f"{framework} {method}: the worker made no model")
    optimization = Optimization(
        source=model,
        framework=framework,
        method=method,
        options=reply.options,
        tool=reply.tool,
        calibration=calibration,
        sparsity=reply.sparsity,
        layers=reply.layers,
        notes=reply.notes,
    )
    return save(recipe, Path(reply.artifact), optimization)


def evaluation_jobs(
    model: ModelRef,
    entry: Entry,
    evaluation: DataSplit,
    settings: Mapping[str, SettingValue],
    stopping: StoppingRule,
    reference: str | None = None,
    scenario: Scenario | None = None,
) -> tuple[JobSpec, JobSpec]:
    """The FP32 model and its optimized model on the optimizing framework, with the same settings, on the same
    evaluation rows; both are checked against the FP32 reference outputs."""
    data = InputData(source="npz", path=evaluation.path, count=evaluation.samples)
    common = {
        "framework": entry.optimization.framework,
        "settings": dict(settings),
        "stopping": stopping,
        "data": data,
        "reference": reference,
        "scenario": scenario or Scenario(),
    }
    return JobSpec(model=model, **common), JobSpec(model=entry.artifact, optimization=entry.optimization, **common)
