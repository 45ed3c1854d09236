"""What every microcontroller backend shares: a code generator's model code built into a Cortex-M firmware and
run on QEMU's emulated board. A backend names its generator and says how it turns a model into code; the
checks of the model against the board, the build and the session that runs the firmware are the same for all."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from deploybench.backends.base import Capabilities, InferringSession, Prepared, Probe, TensorSpec
from deploybench.backends.cortexm.firmware import INSTALL, Board, Firmware, ModelCode, board, build, run
from deploybench.backends.onnx_model import check_onnx_model
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError, ConfigurationError
from deploybench.core.formats import model_format
from deploybench.core.records import Emulation, SettingValue

if TYPE_CHECKING:
    import numpy as np

DEFAULTS: dict[str, SettingValue] = {"board": "mps2-an500", "optimization": "O2"}
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm")


class FirmwareBackend:
    """A code generator's output as firmware on an emulated Cortex-M7; subclasses say which generator."""

    name: ClassVar[str]
    input_formats: ClassVar[tuple[str, ...]] = ("onnx",)
    only: ClassVar[str | None] = None
    """The one kind of model the generator is made for, if so."""

    def __init__(self) -> None:
        self._built: dict[Path, tuple[ModelCode, Firmware]] = {}

    def probe_generator(self) -> Probe:
        """Whether the code generator is installed."""
        raise NotImplementedError

    def weight_bytes(self, model: Path) -> int:
        """Bytes the model's weights take in the generated code, known before generating it."""
        raise NotImplementedError

    def model_code(self, model: Path, folder: Path) -> ModelCode:
        """The model's code, generated into folder."""
        raise NotImplementedError

    def probe(self) -> Probe:
        """The generator installed, and the cross-compiler and emulator on the PATH?"""
        found = self.probe_generator()
        if not found.available:
            return found
        missing = [name for name in TOOLS if shutil.which(name) is None]
        if missing:
            return Probe(False, reason=f"{', '.join(missing)} not installed: {INSTALL}")
        return found

    def capabilities(self) -> Capabilities:
        """Its formats in, batch one, emulated."""
        return Capabilities(
            input_formats=self.input_formats,
            settings={
                "board": "emulated board (mps2-an500: QEMU's Arm MPS2 with a Cortex-M7)",
                "optimization": "the cross-compiler's optimization: O0, O1, O2, O3 or Os",
            },
            dynamic_batch=False,
            emulated=True,
            only=self.only,
        )

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Generate the model's code and build the firmware (both timed as preparation); a model whose weights
        alone exceed the board's flash is refused before either."""
        if model_format(model) == "onnx":
            check_onnx_model(model)
        resolved = resolve_settings(self.name, settings, DEFAULTS)
        target = board(str(resolved["board"]))
        _check_flash(model, self.weight_bytes(model), target)
        started = time.perf_counter()
        code = self.model_code(model, workdir / "code")
        firmware = build(code, workdir / "firmware", target, str(resolved["optimization"]))
        self._built[firmware.elf] = (code, firmware)
        return Prepared(
            artifact=firmware.elf,
            prepare_s=time.perf_counter() - started,
            settings=resolved,
            converter=code.generator,
        )

    def open_session(self, prepared: Prepared) -> FirmwareSession:
        """The firmware this backend built, ready to run in the emulator."""
        if prepared.artifact not in self._built:
            raise BackendError(f"{prepared.artifact}: not a firmware this backend prepared")
        code, firmware = self._built[prepared.artifact]
        return FirmwareSession(code, firmware)


def _check_flash(model: Path, weights: int, target: Board) -> None:
    """Refuse a model whose weights cannot fit the board's flash, saying by how much."""
    if weights > target.flash_bytes:
        raise ConfigurationError(
            f"{model.name}: its weights alone ({weights / 2**20:.1f} MiB) exceed the {target.machine} board's "
            f"flash ({target.flash_bytes / 2**20:.1f} MiB) by {(weights - target.flash_bytes) / 2**20:.1f} MiB",
            hint="quantize or prune it first (deploybench optimize), or pick a smaller model",
        )


class FirmwareSession(InferringSession):
    """A firmware behind the session protocol: each run is one emulated inference."""

    def __init__(self, code: ModelCode, firmware: Firmware) -> None:
        self._code = code
        self._firmware = firmware
        self._feeds: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """The model's single input, at batch one."""
        return [TensorSpec(self._code.input_name, self._code.input_shape, "float32")]

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One emulated inference on feeds."""
        return self.emulate([feeds])[0][0]

    def emulate(self, feeds: list[dict[str, np.ndarray]]) -> tuple[list[dict[str, np.ndarray]], Emulation]:
        """Every input through the firmware in one emulator run: the outputs, shaped as the model's, and what
        the firmware executed and takes."""
        import numpy as np

        code, firmware = self._code, self._firmware
        rows = np.stack([np.asarray(f[code.input_name], dtype=np.float32).reshape(-1) for f in feeds])
        done = run(firmware, code, code.encode(rows))
        outputs = [
            {
                name: row[c_name].reshape(shape)
                for name, shape, (c_name, _, _) in zip(code.output_names, code.output_shapes, code.outputs, strict=True)
            }
            for row in done.outputs
        ]
        memory, alone = firmware.memory, firmware.harness_memory
        emulation = Emulation(
            emulator=done.emulator,
            core=firmware.board.cpu,
            generator=code.generator,
            compiler=firmware.compiler,
            instructions=tuple(done.instructions),
            instructions_median=float(statistics.median(done.instructions)),
            resolution_instructions=done.instructions_per_tick,
            flash_bytes=memory.flash_bytes,
            ram_bytes=memory.ram_bytes + done.stack_bytes,
            stack_peak_bytes=done.stack_bytes,
            model_flash_bytes=memory.flash_bytes - alone.flash_bytes,
            model_ram_bytes=memory.ram_bytes - alone.ram_bytes,
            sections=memory.sections,
        )
        return outputs, emulation

    def close(self) -> None:
        """Nothing to release: the emulator runs only while emulating."""
