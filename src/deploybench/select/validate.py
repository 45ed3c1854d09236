"""`predict validate`, the cross-check of the definition: every stored (and published) measurement against
what each performance model predicts for it when the measured model is left out of every fit (leave one model
out), summarized per performance model, framework and target: share within +/-10 % and +/-20 %, median absolute
percentage error, and how often the stated 80 % interval holds the measurement."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from deploybench.catalog.schemas import Target
from deploybench.catalog.schemas.target import UnitKind
from deploybench.select.calibrated import Calibrated, CalibratedFit, fit_group, fit_key
from deploybench.select.efficiency import EfficiencyTable
from deploybench.select.efficiency_fit import fit_efficiencies
from deploybench.select.estimate import Basis, Estimate
from deploybench.select.observations import Observation
from deploybench.select.performance import Knowledge, Query
from deploybench.select.roofline import Roofline
from deploybench.select.transfer import Transfer


class Check(BaseModel):
    """One measurement and one performance model's held-out prediction of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    performance_model: str
    model: str
    framework: str
    target: str
    precision: str
    threads: int | None
    measured_ms: float
    predicted_ms: float
    low_ms: float | None
    high_ms: float | None
    source: str = Field(description="Where the measurement comes from.")

    @property
    def error(self) -> float:
        """Relative error of the prediction."""
        return (self.predicted_ms - self.measured_ms) / self.measured_ms

    @property
    def inside(self) -> bool | None:
        """Whether the interval holds the measurement; None without an interval."""
        if self.low_ms is None or self.high_ms is None:
            return None
        return self.low_ms <= self.measured_ms <= self.high_ms


class Summary(BaseModel):
    """Accuracy of one performance model on one framework and target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    performance_model: str
    framework: str
    target: str
    predictions: int
    models: int
    within_10: float
    within_20: float
    median_ape: float
    coverage: float | None = Field(description="Share of measurements inside their 80 % interval.")


def validate(
    observations: Sequence[Observation], targets: Mapping[str, Target], units: Mapping[str, tuple[UnitKind, ...]]
) -> tuple[list[Check], list[Summary]]:
    """Every held-out prediction each performance model can make, and the summaries."""
    checks: list[Check] = []
    for model_sha in dict.fromkeys(o.model_sha256 for o in observations):
        held = [o for o in observations if o.model_sha256 == model_sha]
        rest = [o for o in observations if o.model_sha256 != model_sha]
        efficiencies, _ = fit_efficiencies(rest, targets, units)
        table = EfficiencyTable(efficiencies)
        calibrated = _calibrated(held, rest)
        for o in held:
            query = Query(o.framework, units.get(o.framework, ()), o.precision, o.threads)
            others = [x for x in observations if x.target != o.target]
            models = (
                Calibrated(Knowledge(table, calibrated)),
                Transfer(Knowledge(table, observations=others, targets=targets)),
                Roofline(Knowledge(table)),
            )
            for performance_model in models:
                estimate = performance_model.predict(o.anatomy, query, targets[o.target])
                if estimate.basis is Basis.PREDICTED and estimate.value is not None:
                    checks.append(_check(performance_model.name, o, estimate))
    return checks, summarize(checks)


def _calibrated(held: Sequence[Observation], rest: Sequence[Observation]) -> dict[str, CalibratedFit]:
    """The calibrated fits of the held-out model's groups, made without it."""
    fits: dict[str, CalibratedFit] = {}
    for o in held:
        key = fit_key(o.framework, o.target, o.precision, o.threads)
        if key in fits or o.result_id is None:
            continue
        group = [
            x for x in rest if fit_key(x.framework, x.target, x.precision, x.threads) == key and x.result_id is not None
        ]
        if group:
            outcome = fit_group(group)
            if not isinstance(outcome, str):
                fits[key] = outcome
    return fits


def _check(name: str, o: Observation, estimate: Estimate) -> Check:
    return Check(
        performance_model=name,
        model=o.model,
        framework=o.framework,
        target=o.target,
        precision=o.precision,
        threads=o.threads,
        measured_ms=o.latency_ms,
        predicted_ms=estimate.value or 0.0,
        low_ms=estimate.low,
        high_ms=estimate.high,
        source=o.source,
    )


def summarize(checks: Sequence[Check]) -> list[Summary]:
    """Per performance model, framework and target: accuracy and interval coverage."""
    groups: dict[tuple[str, str, str], list[Check]] = defaultdict(list)
    for check in checks:
        groups[(check.performance_model, check.framework, check.target)].append(check)
    summaries = []
    for (performance_model, framework, target), members in sorted(groups.items()):
        errors = [abs(c.error) for c in members]
        inside = [c.inside for c in members if c.inside is not None]
        summaries.append(
            Summary(
                performance_model=performance_model,
                framework=framework,
                target=target,
                predictions=len(members),
                models=len({c.model for c in members}),
                within_10=sum(e <= 0.10 for e in errors) / len(errors),
                within_20=sum(e <= 0.20 for e in errors) / len(errors),
                median_ape=statistics.median(errors),
                coverage=sum(inside) / len(inside) if inside else None,
            )
        )
    return summaries
