"""What the firmware tests need on the machine: the Arm cross-compiler and QEMU."""

from __future__ import annotations

import os
import shutil

import pytest

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm")


def require_firmware_tools() -> None:
    """Skip without the cross-compiler or QEMU, unless DEPLOYBENCH_REQUIRE_BACKENDS is set: then fail."""
    missing = [name for name in TOOLS if shutil.which(name) is None]
    if missing:
        if os.environ.get("DEPLOYBENCH_REQUIRE_BACKENDS"):
            pytest.fail(f"{', '.join(missing)} not installed (DEPLOYBENCH_REQUIRE_BACKENDS is set)")
        pytest.skip(f"{', '.join(missing)} not installed")
