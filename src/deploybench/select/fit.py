"""`predict fit`: measure this machine's peaks, gather every usable measurement (stored and published), fit
the calibrated predictors and the roofline efficiencies, and keep them in the results store; and the
`Knowledge` the performance models are built from, read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploybench import __version__
from deploybench.analyze.records import Anatomy
from deploybench.catalog import Catalog
from deploybench.catalog.local.detect import LocalMachine
from deploybench.catalog.schemas import Target
from deploybench.catalog.schemas.target import UnitKind
from deploybench.measure.peaks import Peaks, measure_peaks
from deploybench.select.calibrated import CalibratedFit, fit_all
from deploybench.select.efficiency import Efficiency, load_efficiencies
from deploybench.select.efficiency_fit import fit_efficiencies
from deploybench.select.observations import Observation, gather
from deploybench.select.performance import Knowledge
from deploybench.select.published import as_observations, load_published
from deploybench.select.targets import fingerprints, known_targets
from deploybench.store import ResultStore

PEAKS = "peaks"
CALIBRATED = "calibrated"
EFFICIENCIES = "efficiencies"


@dataclass
class FitReport:
    """What one fit found, made, and could not make."""

    observations: list[Observation]
    skipped: list[str]
    peaks: Peaks
    calibrated: dict[str, CalibratedFit]
    calibrated_missing: dict[str, str]
    efficiencies: list[Efficiency]
    efficiencies_missing: dict[str, str]
    published_skipped: list[str] = field(default_factory=list)


def framework_units(catalog: Catalog) -> dict[str, tuple[UnitKind, ...]]:
    """The units each backend (and each catalog framework without one) runs on, from the framework catalog."""
    units: dict[str, tuple[UnitKind, ...]] = {}
    for framework in catalog.frameworks.values():
        units[framework.name] = framework.execution_units
        for backend in framework.backends:
            units[backend] = framework.execution_units
    return units


def observations_from(
    store: ResultStore, targets: Mapping[str, Target], anatomies: Mapping[str, Anatomy]
) -> tuple[list[Observation], list[str], list[str]]:
    """Stored and published observations; why stored results and published figures were left out."""
    stored, skipped = gather(store, fingerprints(dict(targets)))
    published, published_skipped = as_observations(load_published(), anatomies)
    published = [o for o in published if o.target in targets]
    return stored + published, skipped, published_skipped


def fit(store: ResultStore, catalog: Catalog, machine: LocalMachine, anatomies: Mapping[str, Anatomy]) -> FitReport:
    """Measure the peaks, fit every predictor the measurements allow, and store it all; what was done."""
    peaks = store_peaks(store, machine, measure_peaks())
    targets = known_targets(catalog, machine, peaks)
    observations, skipped, published_skipped = observations_from(store, targets, anatomies)
    calibrated, calibrated_missing = fit_all([o for o in observations if o.result_id is not None])
    efficiencies, efficiencies_missing = fit_efficiencies(observations, targets, framework_units(catalog))
    store.save_fits(CALIBRATED, {key: value.model_dump_json() for key, value in calibrated.items()}, __version__)
    store.save_fits(
        EFFICIENCIES,
        {f"{e.framework}|{e.unit.value}|{e.op_class.value}": e.model_dump_json() for e in efficiencies},
        __version__,
    )
    return FitReport(
        observations,
        skipped,
        peaks,
        calibrated,
        calibrated_missing,
        efficiencies,
        efficiencies_missing,
        published_skipped,
    )


def store_peaks(store: ResultStore, machine: LocalMachine, peaks: Peaks) -> Peaks:
    """Keep this machine's measured peaks, by its fingerprint."""
    store.save_fits(PEAKS, {machine.fingerprint: peaks.model_dump_json()}, __version__)
    return peaks


def stored_peaks(store: ResultStore, machine: LocalMachine) -> Peaks | None:
    """The peaks measured on this machine by the last fit, or None."""
    found = store.latest_fits(PEAKS).get(machine.fingerprint)
    return None if found is None else Peaks.model_validate_json(found)


def load_knowledge(
    store: ResultStore, catalog: Catalog, machine: LocalMachine, anatomies: Mapping[str, Anatomy] | None = None
) -> Knowledge:
    """What the last fits learned, the shipped efficiencies under the fitted ones, and every observation."""
    targets = known_targets(catalog, machine, stored_peaks(store, machine))
    fitted = [Efficiency.model_validate_json(p) for p in store.latest_fits(EFFICIENCIES).values()]
    calibrated = {
        key: CalibratedFit.model_validate_json(payload) for key, payload in store.latest_fits(CALIBRATED).items()
    }
    observations, _, _ = observations_from(store, targets, anatomies or {})
    return Knowledge(
        efficiencies=load_efficiencies().merged(fitted),
        calibrated=calibrated,
        observations=observations,
        targets=targets,
    )
