"""What `select`, `predict` and the selection report share: the model's stored analysis (refused, with what
to do, when it was never analysed), and the performance models built on the last fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploybench.analyze.records import Anatomy
from deploybench.catalog import Catalog, load_catalog
from deploybench.catalog.local import detect_local_machine
from deploybench.core.errors import ConfigurationError
from deploybench.select.analysis_store import latest_anatomy, latest_compliance
from deploybench.select.compliance import Compliance
from deploybench.select.constraints import Constraints, Objective
from deploybench.select.fit import load_knowledge
from deploybench.select.performance import Knowledge
from deploybench.select.recommend import Selection, recommend
from deploybench.select.registry import performance_models
from deploybench.store import ResultStore


@dataclass(frozen=True)
class Analysed:
    """A model's stored anatomy and, when checked, its layer compliance."""

    anatomy: Anatomy
    compliance: Compliance | None


def analysed(model: Path, store: ResultStore) -> Analysed:
    """The stored analysis of the model; a one-line error saying how to make it when there is none."""
    if not model.is_file():
        raise ConfigurationError(
            f"{model}: no such model file", hint="give an .onnx, .tflite or .pt2 file, or zoo:NAME"
        )
    anatomy = latest_anatomy(model, store)
    if anatomy is None:
        raise ConfigurationError(
            f"{model} was never analysed",
            hint=f"run `deploybench analyze {model} --compliance` first (it stores the anatomy and the verdicts)",
        )
    if anatomy.uncounted_nodes:
        raise ConfigurationError(
            f"{model}: the work of {anatomy.uncounted_nodes} nodes is unknown in its stored anatomy",
            hint=f"analyse it again with every dynamic dimension given: deploybench analyze {model} --dim NAME=VALUE",
        )
    return Analysed(anatomy, latest_compliance(model, store))


@dataclass(frozen=True)
class Selector:
    """The catalog and the performance models, built once on the last fit."""

    catalog: Catalog
    knowledge: Knowledge
    names: tuple[str, ...] = ()

    @classmethod
    def open(cls, store: ResultStore, anatomies: Mapping[str, Anatomy], names: Sequence[str] = ()) -> Selector:
        """The selector on what the store holds (the catalog, this machine, the last fit)."""
        catalog = load_catalog()
        knowledge = load_knowledge(store, catalog, detect_local_machine(), anatomies)
        return cls(catalog, knowledge, tuple(names))

    def select(self, analysis: Analysed, constraints: Constraints, objective: Objective) -> Selection:
        """The ranked answer for one analysed model."""
        models = performance_models(self.knowledge, list(self.names) or None)
        return recommend(
            analysis.anatomy, analysis.compliance, self.catalog, self.knowledge, models, constraints, objective
        )
