"""`optimize --search`: for each framework installed here, the FP32 model and every method and option set of the
search space, crossed with threads, the framework's settings and batch sizes; every point measured on the same
evaluation rows and stored (a second run resumes), then filtered by the user's constraints and reduced to its
Pareto front of latency, memory, size and fidelity."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploybench.campaign.optimization import DataPlan, optimize_model
from deploybench.core.errors import DeploybenchError
from deploybench.core.formats import model_format
from deploybench.core.records import (
    InputData,
    JobSpec,
    ModelRef,
    Optimization,
    ResultRecord,
    Scenario,
    ScenarioKind,
    SettingValue,
    Status,
    StoppingRule,
)
from deploybench.optimize.pareto import Outcome, Point, Variant, pareto_front
from deploybench.optimize.space import SearchSpace
from deploybench.worker.placement import Placer


@dataclass(frozen=True)
class Planned:
    """The jobs of a search, and the variants that could not be made, with why."""

    jobs: list[tuple[Variant, JobSpec]]
    failed: list[tuple[Variant, str]]
    skipped: list[str]


def plan_search(
    model: ModelRef,
    space: SearchSpace,
    data: DataPlan,
    placer: Placer,
    threads: Sequence[int],
    batches: Sequence[int],
    stopping: StoppingRule,
    reference: str | None = None,
    only: Sequence[str] | None = None,
    echo: Callable[[str], None] = lambda line: None,
) -> Planned:
    """Make every optimized variant of the space (a failure becomes a failed point with its reason) and plan one
    job per variant and combination of settings, all on the evaluation rows."""
    jobs: list[tuple[Variant, JobSpec]] = []
    failed: list[tuple[Variant, str]] = []
    skipped: list[str] = []
    fmt = model_format(Path(model.path))
    inputs = InputData(source="npz", path=data.evaluation.path, count=data.evaluation.samples)
    scenario = Scenario() if tuple(batches) == (1,) else Scenario(kind=ScenarioKind.OFFLINE, batch_sizes=tuple(batches))
    for framework, part in space.frameworks.items():
        if only is not None and framework not in only:
            continue
        environment, status = placer.place(framework, fmt)
        if environment is None:
            skipped.append(f"{framework}: {status.reason}")
            continue
        offered = {method.name for method in status.methods}
        grid: dict[str, list[SettingValue]] = {"threads": list(threads), **part.settings}
        combinations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
        variants: list[tuple[Variant, ModelRef, Optimization | None]] = [(Variant(framework), model, None)]
        for method, option_sets in part.methods.items():
            if method not in offered:
                skipped.append(f"{framework} {method}: not offered here (its methods: {', '.join(sorted(offered))})")
                continue
            for options in option_sets:
                variant = Variant(framework, method, dict(options))
                try:
                    entry = optimize_model(model, framework, method, options, data, placer, echo)
                except DeploybenchError as exc:
                    failed.append((variant, str(exc)))
                    continue
                variants.append((variant, entry.artifact, entry.optimization))
        for (variant, artifact, optimization), settings in itertools.product(variants, combinations):
            job = JobSpec(
                model=artifact,
                framework=framework,
                settings=settings,
                scenario=scenario,
                stopping=stopping,
                data=inputs,
                reference=reference,
                optimization=optimization,
            )
            jobs.append((variant, job))
    return Planned(jobs, failed, skipped)


def judge(
    measured: Sequence[tuple[Variant, ResultRecord]],
    min_agreement: float | None = None,
    max_accuracy_drop: float | None = None,
) -> tuple[list[Outcome], list[Point]]:
    """Every measured point with the constraint it breaks, if any, and the Pareto front of those that keep them
    all. Fidelity is top-1 agreement with FP32 for a classifier, else the worst output's cosine similarity; the
    accuracy drop is in percentage points and needs labelled rows."""
    outcomes = []
    for variant, record in measured:
        for measurement in record.measurements or ():
            point = _point(variant, record, measurement.batch_size)
            refused = _refusal(record, min_agreement, max_accuracy_drop)
            outcomes.append(Outcome(variant, record, measurement.batch_size, point, refused))
        if record.status is not Status.OK:
            reason = record.failure.message if record.failure else "failed"
            outcomes.append(Outcome(variant, record, 1, None, reason))
    kept = [o.point for o in outcomes if o.point is not None and o.refused is None]
    return outcomes, pareto_front(kept)


def _point(variant: Variant, record: ResultRecord, batch: int) -> Point | None:
    measurement = next(m for m in record.measurements if m.batch_size == batch)
    if record.resources is None or record.fidelity is None:
        return None
    fidelity = record.fidelity.top1_agreement
    if fidelity is None:
        fidelity = min(o.cosine_similarity for o in record.fidelity.outputs)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(record.job.settings.items()))
    return Point(
        label=f"{variant.label} [{settings}] batch {batch}",
        latency_us=measurement.summary.median_us / batch,
        memory_bytes=float(record.resources.peak_rss_bytes),
        size_bytes=float(record.resources.artifact_size_bytes),
        fidelity=fidelity,
    )


def _refusal(record: ResultRecord, min_agreement: float | None, max_drop: float | None) -> str | None:
    fidelity = record.fidelity
    if fidelity is None:
        return "fidelity was not checked" if min_agreement is not None or max_drop is not None else None
    agreement = fidelity.top1_agreement
    if min_agreement is not None:
        if agreement is None:
            agreement = min(o.cosine_similarity for o in fidelity.outputs)
        if agreement < min_agreement:
            return f"agreement {agreement:.4f} < {min_agreement}"
    if max_drop is not None:
        if fidelity.accuracy_drop is None:
            return "no accuracy drop: the rows have no labels"
        if fidelity.accuracy_drop.value * 100 > max_drop:
            return f"accuracy drop {fidelity.accuracy_drop.value * 100:.2f} pt > {max_drop}"
    return None
