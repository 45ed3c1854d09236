"""The performance models against hand-computed cases, the interval calibration against a known noise law,
and the missing-figure answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests.support.anatomies import anatomy, observation, target

from deploybench.analyze.records import OperatorClass
from deploybench.catalog.schemas import Range, Target
from deploybench.catalog.schemas.target import UnitKind
from deploybench.core.errors import ConfigurationError
from deploybench.select.calibrated import Calibrated, fit_group
from deploybench.select.efficiency import Efficiency, EfficiencyTable, load_efficiencies
from deploybench.select.estimate import Basis, Estimate
from deploybench.select.footprint import energy_estimate, memory_estimate, memory_fit
from deploybench.select.intervals import conformal_band, coverage
from deploybench.select.observations import Observation
from deploybench.select.performance import Knowledge, Query
from deploybench.select.published import load_published
from deploybench.select.roofline import Roofline
from deploybench.select.transfer import Transfer

CPU = UnitKind.CPU


def efficiencies(conv: float, eltwise: float, band: tuple[float, float] = (-0.1, 0.2)) -> EfficiencyTable:
    return EfficiencyTable(
        [
            Efficiency(
                framework="fw", unit=CPU, op_class=OperatorClass.CONVOLUTION, efficiency=conv, band=band, source="test"
            ),
            Efficiency(
                framework="fw",
                unit=CPU,
                op_class=OperatorClass.ELEMENTWISE,
                efficiency=eltwise,
                band=band,
                source="test",
            ),
        ]
    )


MODEL = anatomy(conv_flops=2e9, conv_bytes=1e8, eltwise_flops=1e6, eltwise_bytes=4e7)
"""Convolution: 2 GFLOP over 100 MB (compute-bound on 100 GFLOP/s, 10 GB/s: 20 ms vs 10 ms); elementwise:
1 MFLOP over 40 MB (memory-bound: 4 ms)."""


def test_the_roofline_bound_is_the_sum_of_each_class_limit() -> None:
    estimate = Roofline(Knowledge(EfficiencyTable([]))).predict(MODEL, Query("fw", (), "fp32"), target())
    assert estimate.basis is Basis.BOUND
    assert estimate.value == pytest.approx(20 + 4)
    assert estimate.high is None


def test_the_roofline_divides_each_class_by_its_efficiency_and_keeps_the_band() -> None:
    estimate = Roofline(Knowledge(efficiencies(0.5, 0.25))).predict(MODEL, Query("fw", (), "fp32"), target())
    assert estimate.basis is Basis.PREDICTED
    assert estimate.value == pytest.approx(20 / 0.5 + 4 / 0.25)
    assert estimate.low == pytest.approx(56 * math.exp(-0.1))
    assert estimate.high == pytest.approx(56 * math.exp(0.2))


def test_fewer_threads_scale_a_cpu_peak_and_int8_shrinks_the_traffic() -> None:
    model = Roofline(Knowledge(EfficiencyTable([])))
    two = model.predict(MODEL, Query("fw", (), "fp32", threads=2), target())
    assert two.value == pytest.approx(40 + 4)
    int8 = model.predict(MODEL, Query("fw", (), "int8"), target())
    assert int8.value == pytest.approx(2e9 / 400e9 * 1e3 + 1e7 / 10e9 * 1e3)


@pytest.mark.parametrize(
    ("board", "missing"),
    [
        (target(fp32=None), "processing_units.0.peak.fp32_gflops"),
        (target(bandwidth=None), "memory.bandwidth_gbps"),
    ],
)
def test_a_target_without_a_figure_gives_unknown_naming_it(board: Target, missing: str) -> None:
    estimate = Roofline(Knowledge(EfficiencyTable([]))).predict(MODEL, Query("fw", (), "fp32"), board)
    assert estimate.basis is Basis.UNKNOWN
    assert estimate.value is None
    assert missing in (estimate.reason or "")


def test_a_unit_the_framework_cannot_use_is_named() -> None:
    estimate = Roofline(Knowledge(EfficiencyTable([]))).predict(MODEL, Query("fw", (UnitKind.GPU,), "fp32"), target())
    assert estimate.value is None
    assert "GPU" in (estimate.reason or "")


def test_transfer_scales_a_measurement_by_the_ratio_of_the_rooflines() -> None:
    here, there = target("here", fp32=100.0, bandwidth=10.0), target("there", fp32=25.0, bandwidth=10.0)
    measured = observation(MODEL, 30.0, target_name="here", framework="fw", threads=None)
    knowledge = Knowledge(efficiencies(0.5, 0.25), observations=[measured], targets={"here": here, "there": there})
    estimate = Transfer(knowledge).predict(MODEL, Query("fw", (), "fp32"), there)
    ratio = (80 / 0.5 + 4 / 0.25) / (20 / 0.5 + 4 / 0.25)
    assert estimate.value == pytest.approx(30.0 * ratio)
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < estimate.value < estimate.high
    elsewhere = Transfer(knowledge).predict(MODEL, Query("other-framework", (), "fp32"), there)
    assert elsewhere.value is None


def synthetic(count: int, sigma: float, seed: int) -> list[Observation]:
    """Models of random work whose latency follows a known linear law times log-normal noise of sigma."""
    rng = np.random.default_rng(seed)
    found = []
    for index in range(count):
        conv, eltwise = rng.uniform(0.05, 5) * 1e9, rng.uniform(1, 200) * 1e6
        model = anatomy(conv, conv / 20, 1e5, eltwise, nodes=int(rng.integers(5, 300)))
        true_ms = 0.5 + 4.0 * conv / 1e9 + 0.02 * eltwise / 1e6
        found.append(observation(model, true_ms * math.exp(rng.normal(0, sigma)), sha=f"{seed}-{index}"))
    return found


def test_the_conformal_band_of_a_normal_law_matches_its_quantiles() -> None:
    errors = list(np.random.default_rng(3).normal(0.0, 0.2, 4000))
    low, high = conformal_band(errors)
    assert low == pytest.approx(-1.2816 * 0.2, abs=0.02)
    assert high == pytest.approx(1.2816 * 0.2, abs=0.02)


def test_the_calibrated_80_percent_interval_holds_about_80_percent_of_new_measurements() -> None:
    fresh = synthetic(400, sigma=0.15, seed=2)
    held = []
    for seed in range(5):
        fit = fit_group(synthetic(120, sigma=0.15, seed=10 + seed))
        assert not isinstance(fit, str)
        model = Calibrated(Knowledge(EfficiencyTable([]), calibrated={"fw|local|fp32|1": fit}))
        estimates = [model.predict(o.anatomy, Query("fw", (), "fp32", 1), target("local")) for o in fresh]
        lows, highs = [e.low or 0 for e in estimates], [e.high or 0 for e in estimates]
        held.append(coverage([o.latency_ms for o in fresh], lows, highs))
    assert 0.75 <= float(np.mean(held)) <= 0.85


def test_the_calibrated_model_improves_as_measurements_accumulate() -> None:
    fresh = synthetic(300, sigma=0.1, seed=9)

    def error(count: int) -> float:
        errors = []
        for seed in range(5):
            fit = fit_group(synthetic(count, sigma=0.1, seed=100 + seed))
            assert not isinstance(fit, str)
            model = Calibrated(Knowledge(EfficiencyTable([]), calibrated={"fw|local|fp32|1": fit}))
            for o in fresh:
                value = model.predict(o.anatomy, Query("fw", (), "fp32", 1), target("local")).value or 1e-9
                errors.append(abs(math.log(value / o.latency_ms)))
        return float(np.mean(errors))

    assert error(80) < error(7)


def test_too_few_models_make_no_fit_and_say_how_many_are_needed() -> None:
    assert fit_group(synthetic(4, sigma=0.1, seed=0)) == "4 measured models, 6 needed"
    estimate = Calibrated(Knowledge(EfficiencyTable([]))).predict(MODEL, Query("fw", (), "fp32", 1), target("local"))
    assert estimate.value is None
    assert "predict fit" in (estimate.reason or "")


def test_energy_is_the_predicted_time_times_the_boards_power_range() -> None:
    board = target().model_copy(update={"som": target().som.model_copy(update={"power_w": Range(min=2, max=6)})})
    latency = Estimate(value=10.0, low=8.0, high=12.0, unit="ms", basis=Basis.PREDICTED, model="calibrated")
    energy = energy_estimate(latency, board)
    assert (energy.value, energy.low, energy.high) == pytest.approx((40.0, 16.0, 72.0))
    assert energy.unit == "mJ"
    assert "power.typical_w" in (energy_estimate(latency, target()).reason or "")


def test_a_microcontroller_needs_flash_for_the_weights_and_ram_for_the_activations() -> None:
    mcu = Target.model_validate(
        {
            "name": "mcu",
            "display_name": "mcu",
            "som": {"name": "mcu"},
            "soc": {
                "name": "mcu",
                "on_chip_memory": [{"kind": "SRAM", "size_kib": 512}, {"kind": "flash", "size_kib": 2048}],
            },
            "processing_units": [{"kind": "MCU", "count": 1}],
            "sources": [{"id": "t", "title": "test", "covers": ["soc", "processing_units"]}],
        }
    )
    small = anatomy(1e6, 1e5, 1e3, 1e4)
    heavy = small.model_copy(update={"memory": small.memory.model_copy(update={"weights_bytes": 3 * 2**20})})
    memory = memory_estimate(heavy, "fp32", "fw", [])
    assert memory.basis is Basis.BOUND
    verdict = memory_fit(heavy, "fp32", memory, mcu)
    assert verdict.fits is False and "flash 2048 KiB" in verdict.detail
    assert memory_fit(heavy, "int8", memory_estimate(heavy, "int8", "fw", []), mcu).fits is True


def test_the_shipped_data_files_load_and_a_malformed_one_names_its_field(tmp_path: Path) -> None:
    assert load_efficiencies().figures() == ()
    assert all(figure.source.url for figure in load_published())
    broken = tmp_path / "published.yaml"
    broken.write_text("figures:\n  - {id: x, model: m, target: t, framework: f, precision: fp64}\n")
    with pytest.raises(ConfigurationError, match=r"published.yaml: `figures.0.precision`"):
        load_published(broken)
