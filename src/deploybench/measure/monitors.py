"""Resource monitors of the worker process: resident memory, and energy from Intel RAPL counters."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploybench.core.errors import MeasurementError

POWERCAP_ROOT = Path("/sys/class/powercap")
"""Where Linux exposes RAPL energy counters (the `intel_rapl` powercap driver, also used on recent AMD)."""

_PACKAGE_DOMAIN = re.compile(r"^intel-rapl:\d+$")


PROC_STATUS = Path("/proc/self/status")
"""Linux's per-process status file, which holds the peak resident memory (`VmHWM`)."""


def peak_rss_bytes(status_file: Path = PROC_STATUS) -> int:
    """Peak resident memory of this process since it started, bytes.

    On Linux, `VmHWM` of /proc/self/status: `ru_maxrss` would be wrong there, as it survives `exec` and so
    starts at the RSS of the parent that forked the worker. Elsewhere `ru_maxrss` (KiB on Linux, bytes on
    macOS), and where `resource` does not exist (Windows) the peak working set from psutil.
    """
    if status_file.is_file():
        for line in status_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    try:
        import resource
    except ImportError:
        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def current_rss_bytes() -> int:
    """Resident memory of this process now, bytes (to measure growth over a sampling)."""
    return int(psutil.Process().memory_info().rss)


@dataclass(frozen=True)
class _Domain:
    energy_file: Path
    max_energy_uj: int


class EnergyMeter:
    """Energy drawn by the CPU packages between `start()` and `stop()`, from RAPL counters, joules.

    Only package domains (`intel-rapl:N` whose name is `package-N`) are summed: their subdomains
    (cores, uncore, DRAM) are parts of them and `psys` covers the whole platform. A counter that
    wrapped once is corrected with `max_energy_range_uj`; a window long enough for a counter to wrap
    twice (hours at typical power) cannot be detected. The counters cover the whole package, other
    processes included. When no counter can be read, `unavailable_reason` says why and `stop()`
    returns None.
    """

    def __init__(self, root: Path = POWERCAP_ROOT) -> None:
        """Find the package domains under root (normally /sys/class/powercap) and check they can be read."""
        self._root = root
        self._domains: tuple[_Domain, ...] = ()
        self._started: tuple[int, ...] | None = None
        self.unavailable_reason: str | None = None
        try:
            self._domains = _package_domains(root)
            if not self._domains:
                self.unavailable_reason = f"no RAPL under {root} on this machine"
            else:
                self._read()
        except _Unreadable as exc:
            self.unavailable_reason = str(exc)

    @property
    def available(self) -> bool:
        """Whether energy can be measured here."""
        return self.unavailable_reason is None

    def start(self) -> None:
        """Read the counters at the start of the measured window (does nothing when unavailable)."""
        if not self.available:
            return
        try:
            self._started = self._read()
        except _Unreadable as exc:
            self.unavailable_reason = str(exc)

    def stop(self) -> float | None:
        """Energy since `start()`, joules; None when unavailable (see `unavailable_reason`)."""
        if not self.available:
            return None
        if self._started is None:
            raise MeasurementError("energy meter: stop() called before start()", hint="call start() first")
        try:
            ended = self._read()
        except _Unreadable as exc:
            self.unavailable_reason = str(exc)
            return None
        total_uj = 0
        for domain, before, after in zip(self._domains, self._started, ended, strict=True):
            total_uj += after - before if after >= before else after + domain.max_energy_uj - before
        self._started = None
        return total_uj / 1e6

    def _read(self) -> tuple[int, ...]:
        return tuple(_read_int(domain.energy_file) for domain in self._domains)


class _Unreadable(Exception):
    """A counter file exists but cannot be read; the message is the meter's unavailable reason."""


def _package_domains(root: Path) -> tuple[_Domain, ...]:
    if not root.is_dir():
        return ()
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise _Unreadable(f"cannot list {root}: {exc.strerror or exc}") from exc
    domains = []
    for directory in entries:
        if not _PACKAGE_DOMAIN.match(directory.name) or not (directory / "energy_uj").exists():
            continue
        name_file = directory / "name"
        if name_file.exists() and not _read_text(name_file).startswith("package"):
            continue
        domains.append(_Domain(directory / "energy_uj", _read_int(directory / "max_energy_range_uj")))
    return tuple(domains)


def _read_int(path: Path) -> int:
    text = _read_text(path)
    try:
        return int(text)
    except ValueError as exc:
        raise _Unreadable(f"unexpected content {text!r} in {path}: not a RAPL counter") from exc


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except PermissionError as exc:
        raise _Unreadable(
            f"permission denied reading {path}: run as root or make the counters readable "
            f"(sudo chmod a+r {path.parent.parent}/intel-rapl:*/energy_uj)"
        ) from exc
    except OSError as exc:
        raise _Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
