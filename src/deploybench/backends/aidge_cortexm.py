"""Eclipse Aidge's C++ export deployed on a microcontroller: the model exported by Aidge, cross-compiled into a
Cortex-M7 firmware and run on QEMU's emulated board. Its figures are instructions per inference and the
firmware's flash and RAM, not host times; its outputs are checked against the reference like any deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from deploybench.backends import aidge_export
from deploybench.backends.cortexm.backend import FirmwareBackend

if TYPE_CHECKING:
    from pathlib import Path

    from deploybench.backends.base import Probe
    from deploybench.backends.cortexm.firmware import ModelCode


class AidgeCortexMBackend(FirmwareBackend):
    """Aidge's C++ export, as firmware on an emulated Cortex-M7."""

    name: ClassVar[str] = "aidge-cortexm"

    def probe_generator(self) -> Probe:
        """Aidge's ONNX import and C++ export installed?"""
        return aidge_export.probe()

    def weight_bytes(self, model: Path) -> int:
        """The model's float32 weights, as Aidge's export stores them."""
        return aidge_export.weight_bytes(model)

    def model_code(self, model: Path, folder: Path) -> ModelCode:
        """The model exported by Aidge."""
        return aidge_export.model_code(model, folder)
