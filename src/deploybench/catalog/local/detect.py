"""Detect the local machine: CPU, frequencies, governor, memory, ISA extensions, OS, fingerprint."""

from __future__ import annotations

import platform
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field

from deploybench import __version__
from deploybench.catalog.local.isa import isa_extensions, isa_family
from deploybench.catalog.schemas import Record, Source, Target
from deploybench.catalog.schemas.target import (
    Additional,
    IsaFamily,
    MainMemory,
    OnChipMemory,
    ProcessingUnit,
    SystemOnChip,
    SystemOnModule,
    UnitKind,
)
from deploybench.core.hashing import sha256_of

SYSFS_CPU = Path("/sys/devices/system/cpu")
OS_RELEASE = Path("/etc/os-release")
PROC_CPUINFO = Path("/proc/cpuinfo")
LOCAL_TARGET_NAME = "local"


class LocalMachine(Record):
    """What deploybench found about the machine it runs on."""

    hostname: str = Field(description="Network name of the machine (not part of the fingerprint).")
    system: str = Field(description="Operating system kernel, e.g. Linux.")
    release: str = Field(description="Kernel release.")
    distribution: str | None = Field(description="Distribution name, from /etc/os-release.")
    machine: str = Field(description="Machine architecture as the OS names it, e.g. x86_64, aarch64.")
    family: IsaFamily = Field(description="Instruction-set family of the CPU.")
    cpu_vendor: str | None = Field(description="CPU vendor identifier, e.g. GenuineIntel.")
    cpu_model: str | None = Field(description="CPU model name.")
    cpu_signature: str | None = Field(description="CPU family, model and stepping (x86) when reported.")
    physical_cores: int | None = Field(description="Physical CPU cores.")
    logical_cpus: int | None = Field(description="Logical CPUs (hardware threads).")
    frequency_min_mhz: float | None = Field(description="Minimum CPU frequency, MHz, when the OS reports it.")
    frequency_max_mhz: float | None = Field(description="Maximum CPU frequency, MHz, when the OS reports it.")
    frequency_current_mhz: float | None = Field(description="CPU frequency at detection, MHz.")
    governors: tuple[str, ...] = Field(description="cpufreq scaling governors in use (empty if not exposed).")
    flags: tuple[str, ...] = Field(description="Raw CPU feature flags.")
    isa_extensions: tuple[str, ...] = Field(description="Named ISA extensions found in the flags.")
    caches: tuple[OnChipMemory, ...] = Field(description="CPU caches of one core's view, from sysfs.")
    memory_total_bytes: int = Field(description="Total main memory, bytes.")
    python: str = Field(description="Python version running deploybench.")
    detected_at: datetime = Field(description="When the detection ran (UTC).")
    fingerprint: str = Field(description="SHA-256 of the stable hardware facts (see `fingerprint_of`).")

    def to_target(self) -> Target:
        """This machine as a catalog target named `local`, its figures sourced to the detection."""
        frequency = self.frequency_max_mhz / 1000 if self.frequency_max_mhz else None
        unit = ProcessingUnit(
            kind=UnitKind.CPU,
            count=self.physical_cores,
            microarchitecture=self.cpu_model,
            family=self.family,
            isa=self.machine,
            isa_extensions=self.isa_extensions,
            frequency_ghz=frequency,
        )
        memory_gb = self.memory_total_bytes / 1e9
        return Target(
            name=LOCAL_TARGET_NAME,
            display_name=f"This machine ({self.hostname})",
            aliases=(self.hostname,),
            som=SystemOnModule(name=self.hostname, memory_gb=memory_gb),
            soc=SystemOnChip(
                name=self.cpu_model or self.machine, manufacturer=self.cpu_vendor, on_chip_memory=self.caches
            ),
            additional=Additional(os=tuple(o for o in (self.distribution or self.system,) if o)),
            processing_units=(unit,),
            memory=MainMemory(size_gb=memory_gb),
            fingerprint=self.fingerprint,
            sources=(
                Source(
                    id="detected",
                    title=f"Detected on this machine by deploybench {__version__} at {self.detected_at.isoformat()}",
                    covers=("som.memory_gb", "soc.on_chip_memory", "processing_units", "memory"),
                ),
            ),
            notes=("Detected at run time; `deploybench catalog local` shows every detected fact.",),
        )


def fingerprint_of(facts: dict[str, object]) -> str:
    """SHA-256 of the hardware facts that stay the same across reboots and identical boards."""
    stable = ("machine", "cpu_vendor", "cpu_model", "cpu_signature", "physical_cores", "logical_cpus", "flags")
    data = {key: facts.get(key) for key in stable}
    data["flags"] = sorted(facts.get("flags") or ())  # type: ignore[call-overload]
    data["memory_gib"] = round(int(facts["memory_total_bytes"]) / 2**30)  # type: ignore[call-overload]
    return sha256_of(data)


def detect_local_machine() -> LocalMachine:
    """Detect the machine deploybench runs on."""
    import psutil

    info = _cpu_info()
    frequency = psutil.cpu_freq()
    machine = platform.machine()
    flags = tuple(sorted(info["flags"]))
    facts: dict[str, object] = {
        "hostname": socket.gethostname(),
        "system": platform.system(),
        "release": platform.release(),
        "distribution": _distribution(),
        "machine": machine,
        "family": isa_family(machine),
        "cpu_vendor": info["vendor"],
        "cpu_model": info["model"],
        "cpu_signature": info["signature"],
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cpus": psutil.cpu_count(logical=True),
        "frequency_min_mhz": (frequency.min or None) if frequency else None,
        "frequency_max_mhz": (frequency.max or None) if frequency else None,
        "frequency_current_mhz": (frequency.current or None) if frequency else None,
        "governors": _governors(),
        "flags": flags,
        "isa_extensions": isa_extensions(flags),
        "caches": _caches(),
        "memory_total_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "detected_at": datetime.now(timezone.utc),
    }
    return LocalMachine.model_validate({**facts, "fingerprint": fingerprint_of(facts)})


def _cpu_info() -> dict[str, Any]:
    """Vendor, model name, signature and flags: from /proc/cpuinfo on Linux (instant), else py-cpuinfo
    (about a second, as it probes the CPU in a subprocess)."""
    if PROC_CPUINFO.is_file():
        return cpu_info_from_proc(PROC_CPUINFO.read_text(encoding="utf-8", errors="replace"))
    import cpuinfo

    info = cpuinfo.get_cpu_info()
    parts = [info.get(key) for key in ("family", "model", "stepping")]
    signature = None if all(p is None for p in parts) else "/".join("?" if p is None else str(p) for p in parts)
    return {
        "vendor": info.get("vendor_id_raw") or None,
        "model": info.get("brand_raw") or None,
        "signature": signature,
        "flags": info.get("flags", []),
    }


def cpu_info_from_proc(text: str) -> dict[str, Any]:
    """The CPU facts of the first processor block of a /proc/cpuinfo text (x86 or ARM)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    x86 = ("cpu family", "model", "stepping")
    arm = ("CPU implementer", "CPU variant", "CPU part", "CPU revision")
    keys = x86 if "cpu family" in fields else arm
    signature = "/".join(fields.get(k, "?") for k in keys) if any(k in fields for k in keys) else None
    model = fields.get("model name") or fields.get("Model") or fields.get("Hardware")
    if model is None and "CPU part" in fields:
        model = f"ARM implementer {fields.get('CPU implementer', '?')} part {fields['CPU part']}"
    return {
        "vendor": fields.get("vendor_id") or fields.get("CPU implementer"),
        "model": model,
        "signature": signature,
        "flags": (fields.get("flags") or fields.get("Features") or "").split(),
    }


def _distribution() -> str | None:
    try:
        lines = OS_RELEASE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"') or None
    return None


def _governors() -> tuple[str, ...]:
    found = set()
    for path in SYSFS_CPU.glob("cpu[0-9]*/cpufreq/scaling_governor"):
        try:
            found.add(path.read_text(encoding="utf-8").strip())
        except OSError:
            continue
    return tuple(sorted(found))


def _caches() -> tuple[OnChipMemory, ...]:
    caches = []
    for index in sorted((SYSFS_CPU / "cpu0" / "cache").glob("index[0-9]*")):
        try:
            level = (index / "level").read_text(encoding="utf-8").strip()
            kind = (index / "type").read_text(encoding="utf-8").strip()
            size = (index / "size").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        kib = _kib(size)
        if kib is not None:
            caches.append(OnChipMemory(kind=f"L{level} {kind.lower()} cache", size_kib=kib))
    return tuple(caches)


def _kib(size: str) -> float | None:
    units = {"K": 1.0, "M": 1024.0, "G": 1024.0 * 1024.0}
    if size[:-1].isdigit() and size[-1] in units:
        return int(size[:-1]) * units[size[-1]]
    return float(size) / 1024 if size.isdigit() else None
