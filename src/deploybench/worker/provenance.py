"""What a record says about where and how it was measured: versions, settings, machine, times."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

from deploybench import __version__
from deploybench.catalog.local import detect_local_machine
from deploybench.core.records import SCHEMA_VERSION, Provenance, SettingValue
from deploybench.worker.toolchains import MAIN, TOOLCHAIN_ENV

PACKAGES = ("numpy", "scipy", "onnx", "onnxruntime")
"""Packages whose versions every record keeps, besides the framework's own."""


def provenance(
    framework_version: str, settings: dict[str, SettingValue], started: datetime, converter: str | None = None
) -> Provenance:
    """The provenance of a job that started at `started` and ends now, on this machine."""
    machine = detect_local_machine()
    return Provenance(
        deploybench_version=__version__,
        schema_version=SCHEMA_VERSION,
        framework_version=framework_version,
        settings=settings,
        converter=converter,
        environment=os.environ.get(TOOLCHAIN_ENV, MAIN),
        machine_fingerprint=machine.fingerprint,
        machine={
            "cpu": machine.cpu_model or "unknown",
            "cores": str(machine.physical_cores),
            "threads": str(machine.logical_cpus),
            "governor": ",".join(machine.governors) or "not exposed",
            "kernel": f"{machine.system} {machine.release}",
            "os": machine.distribution or machine.system,
            "python": platform.python_version(),
        },
        packages={name: v for name in PACKAGES if (v := _version(name))},
        started_at=started,
        finished_at=datetime.now(timezone.utc),
    )


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
