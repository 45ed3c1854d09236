"""Eclipse Aidge's C++ export deployed on a microcontroller: the model exported by Aidge (float32, or int8 after
Aidge's own post-training quantization), cross-compiled into a Cortex-M7 firmware and run on QEMU's emulated
board. Its figures are instructions per inference and the firmware's flash and RAM, not host times; its outputs
are checked against the FP32 reference like any deployment's."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from deploybench.backends import aidge_export, aidge_quantize
from deploybench.backends.base import Method, OptimizedModel
from deploybench.backends.cortexm.backend import FirmwareBackend
from deploybench.core.errors import ConfigurationError
from deploybench.core.formats import model_format

if TYPE_CHECKING:
    from pathlib import Path

    from deploybench.backends.base import Calibration, Probe
    from deploybench.backends.cortexm.firmware import ModelCode
    from deploybench.core.records import SettingValue

PTQ = "ptq-int8"


class AidgeCortexMBackend(FirmwareBackend):
    """Aidge's C++ export, as firmware on an emulated Cortex-M7; its int8 exports are made by `optimize`."""

    name: ClassVar[str] = "aidge-cortexm"
    input_formats: ClassVar[tuple[str, ...]] = ("onnx", "aidge")

    def probe_generator(self) -> Probe:
        """Aidge's ONNX import and C++ export installed?"""
        return aidge_export.probe()

    def weight_bytes(self, model: Path) -> int:
        """The model's float32 weights, as Aidge's export stores them; for an int8 export, one byte per weight
        value (biases take four: a lower bound)."""
        if model_format(model) == "aidge":
            return aidge_quantize.manifest(model).weights
        return aidge_export.weight_bytes(model)

    def model_code(self, model: Path, folder: Path) -> ModelCode:
        """The model exported by Aidge, or the int8 export the archive holds."""
        if model_format(model) == "aidge":
            return aidge_quantize.model_code(model, folder)
        return aidge_export.model_code(model, folder)

    def optimization_methods(self) -> dict[str, Method]:
        """Aidge's post-training int8 quantization, where aidge-quantization is installed."""
        if not aidge_quantize.probe().available:
            return {}
        return {
            PTQ: Method(
                description=(
                    "Aidge's post-training quantization (aidge-quantization): int8 weights and activations, int32 "
                    "biases, MAX clipping, single-shift rescaling, float outputs; the input scaled into [-1, 1] by "
                    "the calibration rows' largest value; exported as Aidge's int8 C++"
                ),
                calibrated=True,
            )
        }

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The model quantized and exported by Aidge, as an `.aidge` archive this backend builds."""
        if method != PTQ:
            raise ConfigurationError(f"{self.name} has no optimization method `{method}`", hint=f"use {PTQ}")
        if options:
            raise ConfigurationError(f"{self.name} {PTQ} takes no options, not {', '.join(sorted(options))}")
        if calibration is None:
            raise ConfigurationError(f"{self.name} {PTQ} needs calibration rows", hint="give --data")
        archive, described = aidge_quantize.quantize(model, calibration.rows, workdir)
        return OptimizedModel(
            artifact=archive,
            options={},
            tool=described.generator,
            notes=(
                f"input taken as int8 round(x * {described.input_scale:.6g}) (the calibration rows' largest "
                f"magnitude maps to {aidge_quantize.LEVELS}), folded into the first layer",
                f"activation ranges calibrated on {described.calibration_rows} rows (MAX clipping)",
            ),
        )
