"""Fitting roofline efficiencies on measurements: per framework and kind of unit, the share of the roofline
bound reached on dense operators, depthwise convolutions and the rest (non-negative regression of the
measured time on each group's bound, a group the data cannot separate taking the pooled figure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from deploybench.analyze.records import OperatorClass
from deploybench.catalog.schemas import Target
from deploybench.catalog.schemas.target import UnitKind
from deploybench.select.efficiency import Efficiency
from deploybench.select.hardware import Hardware, Missing, hardware_for
from deploybench.select.intervals import conformal_band, log_errors
from deploybench.select.observations import Observation
from deploybench.select.roofline import class_bounds

GROUPS: dict[str, frozenset[OperatorClass]] = {
    "dense": frozenset({OperatorClass.CONVOLUTION, OperatorClass.GEMM, OperatorClass.ATTENTION}),
    "depthwise": frozenset({OperatorClass.DEPTHWISE_CONVOLUTION}),
    "rest": frozenset(
        set(OperatorClass)
        - {OperatorClass.CONVOLUTION, OperatorClass.GEMM, OperatorClass.ATTENTION}
        - {OperatorClass.DEPTHWISE_CONVOLUTION}
    ),
}
MIN_MODELS = 6


def group_bounds(observation: Observation, hardware: Hardware) -> list[float]:
    """The roofline bound of each group of the observation's model, seconds, in GROUPS order."""
    bounds = class_bounds(observation.anatomy, hardware)
    return [sum(b.seconds for b in bounds if b.op_class in members) for members in GROUPS.values()]


def solve(rows: Sequence[Sequence[float]], seconds: Sequence[float]) -> list[float]:
    """Inverse efficiency of each group (time per bound second), all positive: non-negative least squares on
    relative error, a group left at zero falling back to the pooled figure."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    x = np.asarray(rows, dtype=float)
    y = np.asarray(seconds, dtype=float)
    weights = 1.0 / y**2
    pooled = float(
        LinearRegression(positive=True, fit_intercept=False)
        .fit(x.sum(axis=1, keepdims=True), y, sample_weight=weights)
        .coef_[0]
    )
    coef = LinearRegression(positive=True, fit_intercept=False).fit(x, y, sample_weight=weights).coef_
    fixed = [i for i, c in enumerate(coef) if c <= 0]
    if not fixed or pooled <= 0:
        return [float(c) if c > 0 else pooled for c in coef]
    free = [i for i in range(x.shape[1]) if i not in fixed]
    rest = y - pooled * x[:, fixed].sum(axis=1)
    result = [pooled] * x.shape[1]
    if free:
        refit = LinearRegression(positive=True, fit_intercept=False).fit(x[:, free], rest, sample_weight=weights)
        for i, c in zip(free, refit.coef_, strict=True):
            result[i] = float(c) if c > 0 else pooled
    return result


def fit_efficiencies(
    observations: Sequence[Observation], targets: Mapping[str, Target], units: Mapping[str, tuple[UnitKind, ...]]
) -> tuple[list[Efficiency], dict[str, str]]:
    """Efficiencies per framework and unit kind with enough measured models, and why the others have none."""
    groups: dict[tuple[str, UnitKind], list[tuple[Observation, Hardware]]] = defaultdict(list)
    for o in observations:
        hardware = hardware_for(targets[o.target], units.get(o.framework, ()), o.precision, o.threads)
        if not isinstance(hardware, Missing):
            groups[(o.framework, hardware.unit)].append((o, hardware))
    figures: list[Efficiency] = []
    reasons: dict[str, str] = {}
    for (framework, unit), members in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1].value)):
        models = {o.model_sha256 for o, _ in members}
        if len(models) < MIN_MODELS:
            reasons[f"{framework}|{unit.value}"] = f"{len(models)} measured models, {MIN_MODELS} needed"
            continue
        rows = [group_bounds(o, hw) for o, hw in members]
        seconds = [o.latency_ms / 1e3 for o, _ in members]
        inverse = solve(rows, seconds)
        held_out = []
        for index in range(len(members)):
            keep = [
                i
                for i in range(len(members))
                if i != index and members[i][0].model_sha256 != members[index][0].model_sha256
            ]
            fitted = solve([rows[i] for i in keep], [seconds[i] for i in keep])
            held_out.append(sum(c * b for c, b in zip(fitted, rows[index], strict=True)))
        band = conformal_band(log_errors(seconds, held_out))
        targets_used = sorted({o.target for o, _ in members})
        source = (
            f"fitted by deploybench predict fit on {len(members)} measurements of {len(models)} models "
            f"({', '.join(targets_used)})"
        )
        for (group, members_of_group), inv in zip(GROUPS.items(), inverse, strict=True):
            for op_class in sorted(members_of_group, key=lambda c: c.value):
                figures.append(
                    Efficiency(
                        framework=framework,
                        unit=unit,
                        op_class=op_class,
                        efficiency=1.0 / inv,
                        band=band,
                        source=f"{source}; group `{group}`",
                    )
                )
    return figures, reasons
