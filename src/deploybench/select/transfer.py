"""The transfer model: a latency measured (or published) for the same architecture with the same framework
and precision on another target predicts this one through the ratio of the two targets' rooflines; its
interval widens by both rooflines' uncertainty."""

from __future__ import annotations

import math
import statistics

from deploybench.analyze.records import Anatomy
from deploybench.catalog.schemas import Target
from deploybench.select.estimate import Basis, Estimate, unknown
from deploybench.select.observations import Observation, architecture_of
from deploybench.select.performance import Knowledge, Query
from deploybench.select.roofline import Roofline

NAME = "transfer"


class Transfer:
    """Predicts a target from a measurement of the same architecture elsewhere."""

    name = NAME

    def __init__(self, knowledge: Knowledge) -> None:
        self.roofline = Roofline(knowledge)
        self.targets = knowledge.targets
        self.by_architecture: dict[str, list[Observation]] = {}
        for observation in knowledge.observations:
            self.by_architecture.setdefault(architecture_of(observation.anatomy), []).append(observation)

    def predict(self, anatomy: Anatomy, query: Query, target: Target) -> Estimate:
        """Latency in ms: each usable measurement elsewhere scaled by the roofline ratio, their median."""
        sources = [
            o
            for o in self.by_architecture.get(architecture_of(anatomy), [])
            if o.framework == query.framework
            and o.precision == query.precision
            and o.target != target.name
            and o.target in self.targets
        ]
        if not sources:
            return unknown(
                "ms",
                NAME,
                f"no measurement of this architecture with {query.framework} at {query.precision} on another target",
            )
        here = self.roofline.predict(anatomy, query, target)
        if here.value is None:
            return unknown("ms", NAME, here.reason or "no roofline for the target")
        scaled: list[tuple[float, float | None, Observation]] = []
        for source in sources:
            there = self.roofline.predict(
                anatomy,
                Query(query.framework, query.units, query.precision, source.threads),
                self.targets[source.target],
            )
            if there.value is None or there.basis is not here.basis:
                continue
            scaled.append((source.latency_ms * here.value / there.value, _spread(there), source))
        if not scaled:
            return unknown("ms", NAME, "no source target has the roofline figures this one has")
        value = statistics.median(v for v, _, _ in scaled)
        inputs = {
            "measured on": "; ".join(f"{s.target} ({s.source}, {s.latency_ms:.4g} ms)" for _, _, s in scaled),
            "roofline here": f"{here.value:.4g} ms ({here.basis.value})",
        }
        spreads = [s for _, s, _ in scaled if s is not None]
        own = _spread(here)
        if own is None or not spreads:
            inputs["interval"] = "unknown: no fitted roofline spread for this framework and unit"
            return Estimate(value=value, unit="ms", basis=Basis.PREDICTED, model=NAME, inputs=inputs)
        half = math.sqrt(own**2 + max(spreads) ** 2)
        return Estimate(
            value=value,
            low=value * math.exp(-half),
            high=value * math.exp(half),
            unit="ms",
            basis=Basis.PREDICTED,
            model=NAME,
            inputs=inputs,
        )


def _spread(estimate: Estimate) -> float | None:
    """Half-width of an estimate's interval in log units; None without one."""
    if estimate.value is None or estimate.low is None or estimate.high is None or estimate.basis is not Basis.PREDICTED:
        return None
    return math.log(estimate.high / estimate.low) / 2
