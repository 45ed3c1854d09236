"""`deploybench select MODEL`: every (target, framework, precision) the catalog and this machine offer,
predicted (latency, throughput, memory, energy, each with its interval and the model that gave it), judged
against the constraints, ranked by the objective, and for every excluded combination the reason."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from deploybench.analyze.records import Anatomy
from deploybench.catalog import Catalog, Framework
from deploybench.catalog.local.detect import LOCAL_TARGET_NAME
from deploybench.catalog.schemas import Range, Target
from deploybench.catalog.schemas.framework import Optimization
from deploybench.core.errors import DeploybenchError
from deploybench.select.compliance import RANK, Compliance, Verdict
from deploybench.select.constraints import Constraints, Objective, allowed, check
from deploybench.select.estimate import Basis, Estimate
from deploybench.select.footprint import energy_estimate, memory_estimate, memory_fit, power_range
from deploybench.select.observations import Observation, architecture_of
from deploybench.select.performance import Knowledge, PerformanceModel, Query

PRECISIONS = {
    Optimization.INT8_QUANTIZATION: "int8",
    Optimization.QUANTIZATION: "int8",
    Optimization.FP16_QUANTIZATION: "fp16",
}


class NothingSelectedError(DeploybenchError):
    """Every combination was excluded by the constraints."""


class Candidate(BaseModel):
    """One (target, framework, precision): what is predicted for it and whether it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    framework: str = Field(description="Catalog framework, or the backend name on this machine.")
    precision: str
    threads: int | None
    latency: Estimate = Field(description="The estimate used: the most specific known one.")
    estimates: tuple[Estimate, ...] = Field(description="What every performance model said.")
    throughput: Estimate
    memory: Estimate
    memory_fit: str
    energy: Estimate
    price_usd: Range | None
    power_w: tuple[float, float] | None
    compliance: Verdict
    compliance_detail: str
    excluded: tuple[str, ...] = Field(default=(), description="Why it is excluded; empty when kept.")


class Selection(BaseModel):
    """The answer: kept combinations ranked, excluded ones with their reasons, and the Pareto front."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    objective: Objective
    constraints: tuple[str, ...]
    ranked: tuple[Candidate, ...]
    excluded: tuple[Candidate, ...]
    front: tuple[int, ...] = Field(description="Indices in `ranked` of the latency/energy/memory/price front.")
    performance_models: tuple[str, ...]


@dataclass(frozen=True)
class Combination:
    """One thing to predict: a target, a framework on it, a precision and threads."""

    target: Target
    label: str
    framework: Framework | None
    query: Query


def combinations(catalog: Catalog, knowledge: Knowledge) -> list[Combination]:
    """Every catalog framework on every target it deploys to, at every precision it offers; and on this machine
    every backend measured or fitted here, at the precisions and thread counts it was measured at."""
    found = []
    for framework in catalog.frameworks.values():
        precisions = ["fp32", *sorted({PRECISIONS[o] for o in framework.optimizations if o in PRECISIONS})]
        name = framework.backends[0] if framework.backends else framework.name
        for target_name in framework.targets:
            target = knowledge.targets.get(target_name)
            if target is None:
                continue
            for precision in precisions:
                found.append(
                    Combination(target, framework.name, framework, Query(name, framework.execution_units, precision))
                )
    local = knowledge.targets.get(LOCAL_TARGET_NAME)
    if local is not None:
        seen = {(o.framework, o.precision, o.threads) for o in knowledge.observations if o.target == LOCAL_TARGET_NAME}
        seen |= {
            (f.framework, f.precision, f.threads)
            for f in knowledge.calibrated.values()
            if f.target == LOCAL_TARGET_NAME
        }
        by_backend = {b: f for f in catalog.frameworks.values() for b in f.backends}
        for backend, precision, threads in sorted(seen, key=lambda s: (s[0], s[1], s[2] or 0)):
            hosting = by_backend.get(backend)
            units = hosting.execution_units if hosting else ()
            found.append(Combination(local, backend, hosting, Query(backend, units, precision, threads)))
    return found


def measured(anatomy: Anatomy, query: Query, target: Target, observations: Sequence[Observation]) -> Estimate | None:
    """The latency stored for this very architecture, framework, precision, threads and target, if any."""
    architecture = architecture_of(anatomy)
    hits = [
        o
        for o in observations
        if o.target == target.name
        and o.framework == query.framework
        and o.precision == query.precision
        and o.threads == query.threads
        and architecture_of(o.anatomy) == architecture
    ]
    if not hits:
        return None
    latest = hits[-1]
    return Estimate(
        value=latest.latency_ms,
        low=latest.latency_ms,
        high=latest.latency_ms,
        unit="ms",
        basis=Basis.MEASURED,
        model="measured",
        inputs={"source": latest.source},
    )


def choose(estimates: Sequence[Estimate]) -> Estimate:
    """The most specific known estimate: a measurement, else the first prediction, else a bound, else the
    most general model's unknown (the roofline's names the catalog figure that is missing)."""
    for basis in (Basis.MEASURED, Basis.PREDICTED, Basis.BOUND):
        for estimate in estimates:
            if estimate.basis is basis:
                return estimate
    return estimates[-1]


def throughput(latency: Estimate) -> Estimate:
    """Inferences per second at batch 1, from the latency."""
    if latency.value is None:
        return latency.model_copy(update={"unit": "1/s"})
    return Estimate(
        value=1e3 / latency.value,
        low=None if latency.high is None else 1e3 / latency.high,
        high=None if latency.low is None else 1e3 / latency.low,
        unit="1/s",
        basis=latency.basis,
        model=latency.model,
        inputs={"latency": f"{latency.value:.4g} ms"},
    )


def verdict_of(compliance: Compliance | None, combination: Combination) -> tuple[Verdict, str]:
    """The compliance verdict of the framework on the model, and the first refused operator when refused."""
    if compliance is None:
        return Verdict.UNKNOWN, "not checked: run `deploybench analyze MODEL --compliance`"
    rows = [
        row
        for row in compliance.frameworks
        if (combination.framework is not None and row.catalog == combination.framework.name)
        or row.framework == combination.query.framework
    ]
    if not rows:
        return Verdict.UNKNOWN, f"no verdict for {combination.label} in the stored compliance report"
    best = min(rows, key=lambda row: RANK[row.verdict])
    if best.verdict is Verdict.NOT_DEPLOYABLE:
        operator, reason = next(iter(best.unsupported.items()), ("?", "not supported"))
        return best.verdict, f"operator {operator} not supported by {best.framework} ({reason})"
    return best.verdict, f"{best.verdict.value} ({best.source})"


def candidate(
    anatomy: Anatomy,
    combination: Combination,
    models: Sequence[PerformanceModel],
    knowledge: Knowledge,
    compliance: Compliance | None,
) -> Candidate:
    """Every prediction for one combination, before the constraints."""
    query, target = combination.query, combination.target
    direct = measured(anatomy, query, target, knowledge.observations)
    estimates = ([direct] if direct else []) + [model.predict(anatomy, query, target) for model in models]
    latency = choose(estimates)
    memory = memory_estimate(anatomy, query.precision, query.framework, knowledge.observations)
    verdict, detail = verdict_of(compliance, combination)
    return Candidate(
        target=target.name,
        framework=combination.label,
        precision=query.precision,
        threads=query.threads,
        latency=latency,
        estimates=tuple(estimates),
        throughput=throughput(latency),
        memory=memory,
        memory_fit=memory_fit(anatomy, query.precision, memory, target).detail,
        energy=energy_estimate(latency, target),
        price_usd=target.som.price_usd,
        power_w=power_range(target),
        compliance=verdict,
        compliance_detail=detail,
    )


def reasons(
    item: Candidate,
    anatomy: Anatomy,
    combination: Combination,
    constraints: Constraints,
    conditions: list[tuple[object, str, set[str]]],
    knowledge: Knowledge,
) -> list[str]:
    """Why a combination is excluded, one reason per failed constraint (empty when it is kept)."""
    found = []
    if item.compliance is Verdict.NOT_DEPLOYABLE:
        found.append(item.compliance_detail)
    fit = memory_fit(anatomy, item.precision, item.memory, combination.target)
    if fit.fits is False:
        found.append(f"does not fit in memory: {fit.detail}")
    if constraints.precision and item.precision != constraints.precision:
        found.append(f"precision {item.precision}, not {constraints.precision}")
    if constraints.max_latency_ms is not None:
        if item.latency.value is None:
            found.append(f"latency unknown ({item.latency.reason})")
        elif item.latency.value > constraints.max_latency_ms:
            found.append(f"over budget: latency {item.latency.value:.3g} ms > {constraints.max_latency_ms:g} ms")
    if constraints.max_memory_mb is not None and (item.memory.value or 0) > constraints.max_memory_mb:
        found.append(f"over budget: memory {item.memory.value:.3g} MB > {constraints.max_memory_mb:g} MB")
    if constraints.max_power_w is not None:
        if item.power_w is None:
            found.append(f"power unknown (target `{item.target}` has no power figure)")
        elif item.power_w[1] > constraints.max_power_w:
            found.append(f"over budget: power up to {item.power_w[1]:g} W > {constraints.max_power_w:g} W")
    if constraints.max_price is not None:
        if item.price_usd is None:
            found.append(f"price unknown (target `{item.target}` has no som.price_usd)")
        elif item.price_usd.min > constraints.max_price:
            found.append(f"over budget: price {item.price_usd} USD > {constraints.max_price:g} USD")
    if constraints.determinism and not _deterministic(anatomy, combination, knowledge.observations):
        found.append("no measurement shows deterministic timing for it")
    for condition, kind, names in conditions:
        name = (
            combination.target.name
            if kind == "targets"
            else (combination.framework.name if combination.framework else None)
        )
        if name not in names:
            found.append(f"where {condition}: not met by {kind[:-1]} `{name or combination.label}`")
    return found


def _deterministic(anatomy: Anatomy, combination: Combination, observations: Sequence[Observation]) -> bool:
    """Whether a stored measurement of this architecture and combination had a deterministic verdict."""
    architecture = architecture_of(anatomy)
    query = combination.query
    return any(
        o.deterministic
        for o in observations
        if o.target == combination.target.name
        and o.framework == query.framework
        and o.precision == query.precision
        and architecture_of(o.anatomy) == architecture
    )


def objective_value(item: Candidate, objective: Objective) -> float:
    """The figure the ranking sorts by (unknown figures sort last)."""
    value = {
        Objective.LATENCY: item.latency.value,
        Objective.ENERGY: item.energy.value,
        Objective.PRICE: item.price_usd.min if item.price_usd else None,
    }[objective]
    return math.inf if value is None else value


def pareto(items: Sequence[Candidate]) -> tuple[int, ...]:
    """Indices of the candidates no other beats on every one of latency, energy, memory and price (unknown
    figures count as the worst)."""

    def figures(item: Candidate) -> tuple[float, ...]:
        price = item.price_usd.min if item.price_usd else None
        return tuple(
            math.inf if v is None else v for v in (item.latency.value, item.energy.value, item.memory.value, price)
        )

    points = [figures(item) for item in items]
    front = []
    for i, p in enumerate(points):
        if math.isinf(p[0]):
            continue
        dominated = any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for q in points)
        if not dominated:
            front.append(i)
    return tuple(front)


def recommend(
    anatomy: Anatomy,
    compliance: Compliance | None,
    catalog: Catalog,
    knowledge: Knowledge,
    models: Sequence[PerformanceModel],
    constraints: Constraints,
    objective: Objective,
) -> Selection:
    """The ranked, explained answer for one model (possibly empty: see `nothing_selected`)."""
    check(constraints)
    local = knowledge.targets.get(LOCAL_TARGET_NAME)
    conditions = allowed(constraints.where, catalog.with_target(local, "detected") if local else catalog)
    kept: list[Candidate] = []
    dropped: list[Candidate] = []
    for combination in combinations(catalog, knowledge):
        item = candidate(anatomy, combination, models, knowledge, compliance)
        why = reasons(item, anatomy, combination, constraints, conditions, knowledge)  # type: ignore[arg-type]
        if why:
            dropped.append(item.model_copy(update={"excluded": tuple(why)}))
        else:
            kept.append(item)
    kept.sort(key=lambda item: (objective_value(item, objective), item.target, item.framework))
    return Selection(
        model=anatomy.path,
        objective=objective,
        constraints=tuple(constraints.describe()),
        ranked=tuple(kept),
        excluded=tuple(dropped),
        front=pareto(kept),
        performance_models=tuple(model.name for model in models),
    )


def nothing_selected(selection: Selection) -> NothingSelectedError:
    """The error for an empty answer, naming the constraint that excluded the most combinations."""
    counts = Counter(reason.split(":")[0].split(" (")[0] for item in selection.excluded for reason in item.excluded)
    worst, count = counts.most_common(1)[0] if counts else ("nothing to choose from", 0)
    return NothingSelectedError(
        f"no combination meets the constraints: `{worst}` excluded the most ({count} of {len(selection.excluded)})",
        hint="relax that constraint (every reason is listed above)",
    )
