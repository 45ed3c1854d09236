"""AMD Quark, the quantizer of AMD's Vitis AI and Ryzen AI flows, on ONNX models: each of its named default
configurations (XINT8, the power-of-two int8 of AMD's DPUs; A8W8; A16W8) calibrated on the rows given, and the
quantized model run by ONNX Runtime on the CPU, like the FP32 model, so that what the quantization costs shows.
Quark needs its own toolchain environment (`deploybench toolchain install quark`)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import ClassVar

from deploybench.backends.base import Calibration, Capabilities, Method, OptimizedModel, Probe, installed_package
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.onnxruntime import SETTINGS, OnnxRuntimeBackend
from deploybench.backends.onnxruntime_optimize import CalibrationReader, single_input_name
from deploybench.core.errors import BackendError, ConfigurationError
from deploybench.core.records import SettingValue

CONFIGURATIONS = {
    "xint8": ("XINT8", "int8 with power-of-two scales, as AMD's DPUs (Vitis AI) compute"),
    "a8w8": ("A8W8", "int8 activations and weights, float scales"),
    "a16w8": ("A16W8", "int16 activations, int8 weights"),
}
"""Method name -> Quark's default configuration and what it quantizes to."""


class QuarkBackend(OnnxRuntimeBackend):
    """ONNX Runtime (CPU) on models quantized by AMD Quark."""

    name: ClassVar[str] = "quark"

    def probe(self) -> Probe:
        """Quark and ONNX Runtime installed? The version is Quark's."""
        runtime = super().probe()
        if not runtime.available:
            return runtime
        found = installed_package("quark", "amd-quark", "quark")
        if not found.available:
            return Probe(False, reason="amd-quark is not installed: deploybench toolchain install quark")
        return found

    def capabilities(self) -> Capabilities:
        """As ONNX Runtime, for Quark's models."""
        return Capabilities(
            input_formats=("onnx",),
            concurrent_sessions=True,
            settings=SETTINGS,
            only="models quantized by AMD Quark (as a runtime it is ONNX Runtime)",
        )

    def optimization_methods(self) -> dict[str, Method]:
        """Quark's default configurations, each calibrated on rows."""
        return {
            name: Method(description=f"AMD Quark {config}: {what}", calibrated=True)
            for name, (config, what) in CONFIGURATIONS.items()
        }

    def optimize(
        self,
        model: Path,
        method: str,
        options: dict[str, SettingValue],
        calibration: Calibration | None,
        workdir: Path,
    ) -> OptimizedModel:
        """The model quantized by Quark's ONNX quantizer with the method's default configuration."""
        from quark.onnx import ModelQuantizer
        from quark.onnx.quantization.config.config import QConfig

        check_onnx_model(model)
        if method not in CONFIGURATIONS:
            raise ConfigurationError(f"quark has no method `{method}`", hint=f"use one of {', '.join(CONFIGURATIONS)}")
        if options:
            raise ConfigurationError(f"quark {method} takes no options, not {', '.join(sorted(options))}")
        if calibration is None:
            raise ConfigurationError(f"quark {method} needs calibration rows", hint="give --data")
        config_name = CONFIGURATIONS[method][0]
        model, output = model.resolve(), workdir.resolve() / f"{model.stem}-quark-{method}.onnx"
        reader = CalibrationReader(single_input_name(model), calibration)
        here = Path.cwd()
        os.chdir(workdir)  # Quark writes its quantized_info.csv into the working directory
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                ModelQuantizer(QConfig.get_default_config(config_name)).quantize_model(str(model), str(output), reader)
        except Exception as exc:  # Quark's own exceptions: the first line names what it met
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise BackendError(f"quark {method} cannot quantize {model.name}: {first}") from exc
        finally:
            os.chdir(here)
        return OptimizedModel(
            artifact=output,
            options={},
            tool=f"amd-quark {self.probe().version} ({config_name})",
            notes=(f"Quark's default {config_name} configuration: {CONFIGURATIONS[method][1]}",),
        )
