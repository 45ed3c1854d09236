"""Resource monitors (memory, RAPL energy) and stability warnings, on fake sysfs trees and injected inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from deploybench.core.errors import MeasurementError
from deploybench.core.records import LatencySummary
from deploybench.measure.monitors import EnergyMeter, current_rss_bytes, peak_rss_bytes
from deploybench.measure.stability import (
    EnvironmentSnapshot,
    environment_warnings,
    read_environment,
    series_warnings,
)

MIB = 1024 * 1024
MAX_RANGE_UJ = 262_143_328_850


def test_peak_rss_grows_after_allocating() -> None:
    before = peak_rss_bytes()
    # Enough to rise 50 MiB above the earlier peak, whatever this process allocated before.
    size = max(before - current_rss_bytes(), 0) + 50 * MIB
    block = np.ones(size, dtype=np.uint8)
    assert current_rss_bytes() >= size
    after = peak_rss_bytes()
    assert after >= before + 40 * MIB
    assert after >= current_rss_bytes() - MIB
    del block


def _fake_powercap(root: Path, domains: dict[str, tuple[str, int]]) -> Path:
    """A fake /sys/class/powercap: {directory: (name, energy_uj)}."""
    for directory, (name, energy_uj) in domains.items():
        path = root / directory
        path.mkdir(parents=True)
        (path / "name").write_text(f"{name}\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        (path / "max_energy_range_uj").write_text(f"{MAX_RANGE_UJ}\n")
    return root


def _set_energy(root: Path, directory: str, energy_uj: int) -> None:
    (root / directory / "energy_uj").write_text(f"{energy_uj}\n")


def test_energy_sums_package_domains_only_and_handles_wrap_around(tmp_path: Path) -> None:
    root = _fake_powercap(
        tmp_path / "fake-powercap",
        {
            "intel-rapl:0": ("package-0", 1_000_000),
            "intel-rapl:0:0": ("core", 500_000),
            "intel-rapl:1": ("package-1", MAX_RANGE_UJ - 1_000_000),
            "intel-rapl:2": ("psys", 7_000_000),
            "intel-rapl-mmio:0": ("package-0", 0),
        },
    )
    meter = EnergyMeter(root)
    assert meter.available and meter.unavailable_reason is None
    meter.start()
    _set_energy(root, "intel-rapl:0", 3_500_000)  # +2.5 J
    _set_energy(root, "intel-rapl:1", 500_000)  # wrapped: +1.5 J
    _set_energy(root, "intel-rapl:0:0", 99_000_000)  # subdomain: ignored
    _set_energy(root, "intel-rapl:2", 99_000_000)  # platform: ignored
    _set_energy(root, "intel-rapl-mmio:0", 99_000_000)  # not an intel-rapl package: ignored
    assert meter.stop() == pytest.approx(4.0)


def test_energy_meter_can_measure_again_and_refuses_stop_before_start(tmp_path: Path) -> None:
    root = _fake_powercap(tmp_path / "fake-powercap", {"intel-rapl:0": ("package-0", 0)})
    meter = EnergyMeter(root)
    with pytest.raises(MeasurementError, match="before start"):
        meter.stop()
    meter.start()
    _set_energy(root, "intel-rapl:0", 2_000_000)
    assert meter.stop() == pytest.approx(2.0)
    meter.start()
    _set_energy(root, "intel-rapl:0", 2_250_000)
    assert meter.stop() == pytest.approx(0.25)


def test_missing_powercap_tree_gives_the_reason(tmp_path: Path) -> None:
    meter = EnergyMeter(tmp_path / "no-powercap")
    assert not meter.available
    assert meter.unavailable_reason == f"no RAPL under {tmp_path / 'no-powercap'} on this machine"
    meter.start()
    assert meter.stop() is None


def test_tree_without_package_domain_gives_the_reason(tmp_path: Path) -> None:
    root = _fake_powercap(tmp_path / "fake-powercap", {"intel-rapl:0": ("psys", 0)})
    assert EnergyMeter(root).unavailable_reason == f"no RAPL under {root} on this machine"


def test_unreadable_counter_says_to_run_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_powercap(tmp_path / "fake-powercap", {"intel-rapl:0": ("package-0", 0)})
    read_text = Path.read_text

    def denied(path: Path, *args: object, **kwargs: object) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", denied)
    meter = EnergyMeter(root)
    assert meter.unavailable_reason is not None
    assert meter.unavailable_reason.startswith(f"permission denied reading {root / 'intel-rapl:0' / 'energy_uj'}")
    assert "run as root" in meter.unavailable_reason
    meter.start()
    assert meter.stop() is None


def test_counter_lost_during_measurement_makes_energy_unavailable(tmp_path: Path) -> None:
    root = _fake_powercap(tmp_path / "fake-powercap", {"intel-rapl:0": ("package-0", 0)})
    meter = EnergyMeter(root)
    meter.start()
    (root / "intel-rapl:0" / "energy_uj").write_text("garbage\n")
    assert meter.stop() is None
    assert meter.unavailable_reason is not None and "not a RAPL counter" in meter.unavailable_reason


def _snapshot(**changes: object) -> EnvironmentSnapshot:
    quiet: dict[str, object] = {
        "governors": ("performance", "performance"),
        "logical_cpus": 8,
        "load_average_1min": 0.5,
        "cpu_busy_percent": 3.0,
        "busy_interval_s": 0.2,
        "cpu_root": Path("/fake/cpu"),
    }
    return EnvironmentSnapshot(**{**quiet, **changes})  # type: ignore[arg-type]


def test_quiet_machine_with_performance_governor_gives_no_warning() -> None:
    assert environment_warnings(_snapshot()) == []


def test_governor_not_performance_says_how_to_set_it() -> None:
    (warning,) = environment_warnings(_snapshot(governors=("performance", "powersave", "schedutil")))
    assert "powersave, schedutil, not performance" in warning
    assert "cpupower frequency-set -g performance" in warning


def test_no_cpufreq_says_scaling_could_not_be_checked() -> None:
    (warning,) = environment_warnings(_snapshot(governors=None))
    assert warning.startswith("CPU frequency scaling could not be checked (no cpufreq governor under /fake/cpu)")


def test_busy_machine_says_to_stop_other_work() -> None:
    (by_use,) = environment_warnings(_snapshot(cpu_busy_percent=80.0))
    (by_load,) = environment_warnings(_snapshot(load_average_1min=9.5))
    (by_both,) = environment_warnings(_snapshot(cpu_busy_percent=80.0, load_average_1min=9.5))
    assert "80 % CPU in use over 0.2 s" in by_use and "load average" not in by_use
    assert "load average 9.50 on 8 logical CPUs" in by_load
    assert "80 % CPU" in by_both and "load average 9.50" in by_both
    assert all("stop other processes" in w for w in (by_use, by_load, by_both))
    assert environment_warnings(_snapshot(cpu_busy_percent=None, load_average_1min=8.0)) == []


def test_read_environment_reads_governors_from_a_fake_cpu_tree(tmp_path: Path) -> None:
    root = tmp_path / "fake-cpu"
    for cpu, governor in (("cpu0", "performance"), ("cpu1", "powersave")):
        (root / cpu / "cpufreq").mkdir(parents=True)
        (root / cpu / "cpufreq" / "scaling_governor").write_text(f"{governor}\n")
    (root / "cpufreq").mkdir()
    snapshot = read_environment(root, busy_interval_s=0.0)
    assert snapshot.governors == ("performance", "powersave")
    assert snapshot.logical_cpus >= 1
    assert snapshot.cpu_root == root
    assert read_environment(tmp_path / "empty", busy_interval_s=0.0).governors is None


def _summary(median_us: float, cv: float) -> LatencySummary:
    values = dict.fromkeys(
        (
            "min_us",
            "mean_us",
            "p90_us",
            "p95_us",
            "p99_us",
            "p999_us",
            "max_us",
            "std_us",
            "jitter_p99_p50_us",
            "jitter_range_us",
            "median_ci_low_us",
            "median_ci_high_us",
        ),
        median_us,
    )
    return LatencySummary(count=100, median_us=median_us, cv=cv, ci_confidence=0.95, **values)


def test_steady_long_samples_give_no_warning() -> None:
    assert series_warnings(_summary(median_us=500.0, cv=0.01), timer_resolution_ns=1.0) == []


def test_samples_too_short_for_the_timer() -> None:
    (warning,) = series_warnings(_summary(median_us=50.0, cv=0.01), timer_resolution_ns=100.0)
    assert "under 1000 x the timer resolution (100 ns)" in warning
    assert "at least 100 µs" in warning
    assert series_warnings(_summary(median_us=100.0, cv=0.01), timer_resolution_ns=100.0) == []


def test_large_variation_says_what_to_do() -> None:
    (warning,) = series_warnings(_summary(median_us=500.0, cv=0.2), timer_resolution_ns=1.0)
    assert "coefficient of variation 0.200 > 0.05" in warning
    assert "pin threads" in warning and "stop other work" in warning and "sample count" in warning
    assert series_warnings(_summary(median_us=500.0, cv=0.05), timer_resolution_ns=1.0) == []


def test_timer_resolution_must_be_positive() -> None:
    with pytest.raises(MeasurementError, match="timer resolution must be positive"):
        series_warnings(_summary(median_us=1.0, cv=0.0), timer_resolution_ns=0.0)


def test_a_child_process_does_not_inherit_the_parents_peak() -> None:
    import subprocess

    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    parent_peak = peak_rss_bytes()
    code = "from deploybench.measure.monitors import peak_rss_bytes; print(peak_rss_bytes())"
    child_peak = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert child_peak < parent_peak - 200 * 1024 * 1024
    del ballast
