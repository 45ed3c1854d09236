"""The calibrated performance model: per framework, target, precision and thread count, a linear model of
latency on the work of each kind of operator (dense and depthwise operations, the rest, memory traffic,
node count), fitted on the stored measurements with scikit-learn (non-negative coefficients, relative error),
in the spirit of nn-Meter's kernel-level predictors but learned from whole models. It improves as results
accumulate: `deploybench predict fit` refits it."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from deploybench.analyze.records import Anatomy, OperatorClass
from deploybench.catalog.schemas import Target
from deploybench.select.estimate import Basis, Estimate, unknown
from deploybench.select.hardware import BYTES_PER_ELEMENT
from deploybench.select.intervals import conformal_band, log_errors
from deploybench.select.observations import Observation
from deploybench.select.performance import Knowledge, Query

NAME = "calibrated"
FEATURES = ("dense GFLOP", "depthwise GFLOP", "other GFLOP", "traffic GB", "kilo-nodes")
DENSE = {OperatorClass.CONVOLUTION, OperatorClass.GEMM, OperatorClass.ATTENTION}
MIN_MODELS = 6
"""Fewest distinct models a fit needs (it has six coefficients)."""


class CalibratedFit(BaseModel):
    """One fitted latency model and the measurements it was fitted on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str
    target: str
    precision: str
    threads: int | None
    coefficients: tuple[float, ...] = Field(description="ms per unit of each feature, in FEATURES order.")
    intercept_ms: float = Field(description="Fixed cost of one inference, ms.")
    log_band: tuple[float, float] = Field(description="80 % band of log(measured / predicted), leave-one-out.")
    models: tuple[str, ...] = Field(description="The models it was fitted on.")
    results: tuple[int, ...] = Field(description="Ids of the stored results it was fitted on.")


def fit_key(framework: str, target: str, precision: str, threads: int | None) -> str:
    """The key a fit is stored and found by."""
    return f"{framework}|{target}|{precision}|{threads if threads is not None else 'any'}"


def features(anatomy: Anatomy, precision: str) -> list[float]:
    """The model's work as the calibrated model reads it, in FEATURES order."""
    by_class = {totals.op_class: totals for totals in anatomy.classes}
    dense = sum(by_class[c].flops for c in DENSE if c in by_class)
    depthwise = (
        by_class[OperatorClass.DEPTHWISE_CONVOLUTION].flops if OperatorClass.DEPTHWISE_CONVOLUTION in by_class else 0
    )
    other = anatomy.flops - dense - depthwise
    traffic = anatomy.bytes_moved * BYTES_PER_ELEMENT[precision] / BYTES_PER_ELEMENT["fp32"]
    nodes = sum(totals.nodes for totals in anatomy.classes)
    return [dense / 1e9, depthwise / 1e9, other / 1e9, traffic / 1e9, nodes / 1e3]


def regress(rows: Sequence[Sequence[float]], latencies: Sequence[float]) -> tuple[tuple[float, ...], float]:
    """Non-negative least squares on relative error (each row weighted by 1 / latency^2), the fixed cost of an
    inference (the intercept) non-negative too."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    y = np.asarray(latencies, dtype=float)
    x = np.hstack([np.asarray(rows, dtype=float), np.ones((len(rows), 1))])
    fitted = LinearRegression(positive=True, fit_intercept=False).fit(x, y, sample_weight=1.0 / y**2)
    return tuple(float(c) for c in fitted.coef_[:-1]), float(fitted.coef_[-1])


def evaluate(coefficients: Sequence[float], intercept: float, row: Sequence[float]) -> float:
    """The latency a fit predicts for one feature row, ms."""
    return intercept + sum(c * x for c, x in zip(coefficients, row, strict=True))


def fit_group(observations: Sequence[Observation]) -> CalibratedFit | str:
    """The fit of one (framework, target, precision, threads) group, or why it cannot be made."""
    first = observations[0]
    by_model: dict[str, Observation] = {}
    for observation in observations:
        by_model[observation.model_sha256] = observation
    chosen = list(by_model.values())
    if len(chosen) < MIN_MODELS:
        return f"{len(chosen)} measured models, {MIN_MODELS} needed"
    rows = [features(o.anatomy, o.precision) for o in chosen]
    latencies = [o.latency_ms for o in chosen]
    coefficients, intercept = regress(rows, latencies)
    held_out = []
    for index in range(len(chosen)):
        rest = [i for i in range(len(chosen)) if i != index]
        c, b = regress([rows[i] for i in rest], [latencies[i] for i in rest])
        held_out.append(evaluate(c, b, rows[index]))
    return CalibratedFit(
        framework=first.framework,
        target=first.target,
        precision=first.precision,
        threads=first.threads,
        coefficients=coefficients,
        intercept_ms=intercept,
        log_band=conformal_band(log_errors(latencies, held_out)),
        models=tuple(o.model for o in chosen),
        results=tuple(o.result_id for o in chosen),
    )


def fit_all(observations: Sequence[Observation]) -> tuple[dict[str, CalibratedFit], dict[str, str]]:
    """A fit per group with enough models, and why each other group has none."""
    groups: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        groups[fit_key(o.framework, o.target, o.precision, o.threads)].append(o)
    fits: dict[str, CalibratedFit] = {}
    reasons: dict[str, str] = {}
    for key, members in sorted(groups.items()):
        outcome = fit_group(members)
        if isinstance(outcome, str):
            reasons[key] = outcome
        else:
            fits[key] = outcome
    return fits, reasons


class Calibrated:
    """The calibrated performance model over the stored fits."""

    name = NAME

    def __init__(self, knowledge: Knowledge) -> None:
        self.fits = knowledge.calibrated

    def predict(self, anatomy: Anatomy, query: Query, target: Target) -> Estimate:
        """Latency in ms with its leave-one-out 80 % interval; unknown when no fit covers the question."""
        key = fit_key(query.framework, target.name, query.precision, query.threads)
        fit = self.fits.get(key)
        if fit is None:
            return unknown(
                "ms",
                NAME,
                f"no calibrated fit for {query.framework} on {target.name} at {query.precision}"
                f"{f', {query.threads} threads' if query.threads else ''}: measure at least {MIN_MODELS} models "
                "there, then run `deploybench predict fit`",
            )
        value = evaluate(fit.coefficients, fit.intercept_ms, features(anatomy, query.precision))
        if value <= 0:
            return unknown("ms", NAME, f"the fit for {key} predicts no time for this model")
        low, high = fit.log_band
        inputs = {
            "fit": key,
            "fitted on": f"{len(fit.models)} models ({', '.join(fit.models)})",
            "model": anatomy.path,
        }
        return Estimate(
            value=value,
            low=value * math.exp(low),
            high=value * math.exp(high),
            unit="ms",
            basis=Basis.PREDICTED,
            model=NAME,
            inputs=inputs,
        )
