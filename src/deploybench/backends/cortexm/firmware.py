"""Firmware for an emulated Arm Cortex-M board: a code generator's model code cross-compiled with deploybench's
start-up code and test harness (Debian's arm-none-eabi-gcc, newlib with semihosting), its flash and RAM read
from the ELF's sections, and run in QEMU with deterministic instruction counting (`-icount shift=0`), the
outputs read back. Instruction counts are what they are, not cycles: a real core's cycles per instruction differ.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from deploybench.core.data_files import read_data_file
from deploybench.core.errors import ConfigurationError, DeploybenchError

if TYPE_CHECKING:
    import numpy as np

INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
CALIBRATION_LOOPS = 1_000_000
"""Loops of the calibration (two instructions each) that turn clock ticks into instructions."""
TAIL_CHARS = 2000
TOOL_PATH = re.compile(r"^/\S+/(ld|as|cc1|cc1plus): ")
"""The install path before the name of the toolchain's program that reports an error."""
OPTIMIZATIONS = ("O0", "O1", "O2", "O3", "Os")
"""The compiler's optimization levels a firmware may be built at."""


class Board(BaseModel):
    """An emulated board: QEMU's machine, its core and where its memories lie."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str = Field(description="QEMU machine (`qemu-system-arm -M`).")
    cpu: str = Field(description="Core, as `-mcpu` names it.")
    fpu: str = Field(description="Floating-point unit, as `-mfpu` names it.")
    flash_origin: int = Field(description="Start of the code memory.")
    flash_bytes: int = Field(gt=0, description="Size of the code memory the emulator gives.")
    ram_origin: int = Field(description="Start of the data memory.")
    ram_bytes: int = Field(gt=0, description="Size of the data memory the emulator gives.")
    stack_bytes: int = Field(gt=0, description="Room kept for the stack at the top of the data memory.")
    source: str = Field(description="Where the memory map comes from.")


def board(name: str = "mps2-an500") -> Board:
    """An emulated board by name, from the package's data."""
    return read_data_file(Board, None, "deploybench.backends.cortexm", f"{name}.yaml")


@dataclass(frozen=True)
class ModelCode:
    """What a code generator made for one model: its C/C++ sources, where their headers are, and how the
    harness calls it (one input, its element type and count; each output's type, element count and the
    pointer it is returned through), with the model's own names and shapes of those tensors."""

    sources: tuple[Path, ...]
    include_dirs: tuple[Path, ...]
    header: str
    call: str
    input_type: str
    input_size: int
    outputs: tuple[tuple[str, str, int], ...]
    generator: str
    input_name: str = "input"
    input_shape: tuple[int, ...] = ()
    output_names: tuple[str, ...] = ()
    output_shapes: tuple[tuple[int, ...], ...] = ()
    input_scale: float | None = None
    """For an integer input: the firmware takes round(x * input_scale), saturated to the type's range."""

    def encode(self, rows: np.ndarray) -> np.ndarray:
        """Float input rows as the firmware takes them."""
        import numpy as np

        if self.input_scale is None:
            return np.asarray(rows, dtype=np.float32)
        limits = np.iinfo(np.dtype(_numpy_type(self.input_type)))
        return np.clip(np.round(rows * self.input_scale), -limits.max, limits.max).astype(limits.dtype)


@dataclass(frozen=True)
class MemoryUse:
    """Flash (code, constants and the initial values of data) and static RAM (data and zeroed data) of an ELF,
    with each allocated section's size."""

    flash_bytes: int
    ram_bytes: int
    sections: dict[str, int]


@dataclass(frozen=True)
class Firmware:
    """A built firmware, the same harness built without the model (so that the model's own share shows), and
    what each takes."""

    elf: Path
    harness_elf: Path
    board: Board
    memory: MemoryUse
    harness_memory: MemoryUse
    compiler: str


@dataclass(frozen=True)
class EmulatedRun:
    """One run of a firmware in the emulator: each input's outputs and instruction count, the instructions one
    clock tick stands for (the counts' resolution), and the deepest the stack went."""

    outputs: list[dict[str, np.ndarray]]
    instructions: list[int]
    instructions_per_tick: float
    stack_bytes: int
    emulator: str


class FirmwareError(DeploybenchError):
    """The firmware could not be built, or failed in the emulator."""


def tool(name: str) -> str:
    """The path of a cross-compiler or emulator program; the exact install command when it is missing."""
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"`{name}` is not installed", hint=f"install it: {INSTALL}")
    return found


def build(code: ModelCode, folder: Path, target: Board, optimization: str = "O2") -> Firmware:
    """Compile the model's code at `-<optimization>` with the start-up code and the harness, link it for the
    board, and measure its memory (and the harness's alone)."""
    if optimization not in OPTIMIZATIONS:
        raise ConfigurationError(
            f"optimization `{optimization}` is not one of {', '.join(OPTIMIZATIONS)}", hint="e.g. O2 or Os"
        )
    folder.mkdir(parents=True, exist_ok=True)
    flags = [f"-mcpu={target.cpu}", "-mthumb", f"-mfpu={target.fpu}", "-mfloat-abi=hard", f"-{optimization}"]
    flags += ["-ffunction-sections", "-fdata-sections"]
    script = _data("link.ld").read_text(encoding="utf-8")
    for key, value in {
        "FLASH_ORIGIN": target.flash_origin,
        "FLASH_LENGTH": target.flash_bytes,
        "RAM_ORIGIN": target.ram_origin,
        "RAM_LENGTH": target.ram_bytes,
        "STACK_SIZE": target.stack_bytes,
    }.items():
        script = script.replace(f"@{key}@", hex(value))
    (folder / "link.ld").write_text(script, encoding="utf-8")
    includes = [f"-I{path}" for path in code.include_dirs]
    common = [_compile(_data(name), folder, flags, includes) for name in ("startup.c", "clock.c")]
    model = [_compile(source, folder, flags, includes) for source in code.sources]
    with_model = _harness(code, folder / "harness.cpp", code.call)
    alone = _harness(code, folder / "harness_alone.cpp", "(void)0")
    elf = _link([*common, *model, _compile(with_model, folder, flags, includes)], folder / "firmware.elf", flags)
    harness_elf = _link([*common, _compile(alone, folder, flags, includes)], folder / "harness.elf", flags)
    version = subprocess.run([tool("arm-none-eabi-gcc"), "-dumpversion"], capture_output=True, text=True).stdout
    compiler = f"arm-none-eabi-gcc {version.strip()} {' '.join(flags)}"
    memory, harness_memory = memory_use(elf, target), memory_use(harness_elf, target)
    return Firmware(elf, harness_elf, target, memory, harness_memory, compiler)


def memory_use(elf: Path, target: Board) -> MemoryUse:
    """The flash and static RAM an ELF takes on the board, from its allocated sections' addresses and sizes."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    sections: dict[str, int] = {}
    flash = ram = 0
    with elf.open("rb") as handle:
        for section in ELFFile(handle).iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
                continue
            size, address = int(section["sh_size"]), int(section["sh_addr"])
            sections[section.name] = size
            in_ram = target.ram_origin <= address < target.ram_origin + target.ram_bytes
            loaded = section["sh_type"] != "SHT_NOBITS"
            ram += size if in_ram else 0
            flash += size if loaded else 0
    return MemoryUse(flash_bytes=flash, ram_bytes=ram, sections=sections)


def run(firmware: Firmware, code: ModelCode, inputs: np.ndarray, timeout_s: float = 120.0) -> EmulatedRun:
    """Run the firmware on each row of inputs in QEMU with one instruction per virtual nanosecond; a firmware
    that faults, exits with an error or hangs past timeout_s is a FirmwareError with the emulator's output."""
    import numpy as np

    qemu = tool("qemu-system-arm")
    with tempfile.TemporaryDirectory(prefix="deploybench-qemu-") as scratch:
        work = Path(scratch)
        np.ascontiguousarray(inputs, dtype=np.dtype(_numpy_type(code.input_type))).tofile(work / "inputs.bin")
        command = [
            qemu,
            "-M",
            firmware.board.machine,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0",
            "-kernel",
            str(firmware.elf),
        ]
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            tail = ((exc.stdout or "") + (exc.stderr or ""))[-TAIL_CHARS:] if isinstance(exc.stdout, str) else ""
            raise FirmwareError(f"the firmware did not finish within {timeout_s:g} s in QEMU (hung?): {tail}") from exc
        if done.returncode != 0:
            meaning = {3: "a fault (HardFault, bus or usage fault)", 10: "could not open its files"}
            raise FirmwareError(
                f"the firmware exited with status {done.returncode} in QEMU"
                f" ({meaning.get(done.returncode, 'an error')}): {(done.stdout + done.stderr)[-TAIL_CHARS:]}"
            )
        report = _report((work / "report.txt").read_text(encoding="utf-8"))
        raw = (work / "outputs.bin").read_bytes()
    if len(report["inference"]) != len(inputs):
        raise FirmwareError(f"the firmware ran {len(report['inference'])} of the {len(inputs)} inputs it was given")
    per_tick = 2 * report["calibration"][0] / report["calibration"][1]
    outputs, offset = [], 0
    for _ in range(len(inputs)):
        row = {}
        for name, kind, size in code.outputs:
            dtype = np.dtype(_numpy_type(kind))
            row[name] = np.frombuffer(raw, dtype=dtype, count=size, offset=offset).copy()
            offset += size * dtype.itemsize
        outputs.append(row)
    return EmulatedRun(
        outputs=outputs,
        instructions=[round(ticks * per_tick) for ticks in report["inference"]],
        instructions_per_tick=per_tick,
        stack_bytes=report["stack"][0],
        emulator=f"{_qemu_version(qemu)} -M {firmware.board.machine} -icount shift=0",
    )


def _data(name: str) -> Path:
    """A file shipped with this package: start-up code, clock, linker script, harness."""
    return Path(str(files("deploybench.backends.cortexm").joinpath("data").joinpath(name)))


def _compile(source: Path, folder: Path, flags: list[str], includes: list[str]) -> Path:
    """One object file; a compiler error is a FirmwareError with the compiler's output."""
    cpp = source.suffix in (".cpp", ".cc", ".cxx")
    compiler = tool("arm-none-eabi-g++" if cpp else "arm-none-eabi-gcc")
    extra = ["-std=c++17", "-fno-exceptions", "-fno-rtti"] if cpp else ["-std=c11"]
    target = folder / "obj" / f"{source.parent.name}-{source.stem}.o"
    target.parent.mkdir(exist_ok=True)
    _call([compiler, *flags, *extra, *includes, "-c", str(source), "-o", str(target)], f"compiling {source.name}")
    return target


def _link(objects: list[Path], elf: Path, flags: list[str]) -> Path:
    """The ELF of the objects, with newlib over semihosting and the board's linker script."""
    script = elf.parent / "link.ld"
    command = [tool("arm-none-eabi-g++"), *flags, "-specs=rdimon.specs", "-nostartfiles", "-T", str(script)]
    _call([*command, "-Wl,--gc-sections", *map(str, objects), "-o", str(elf)], f"linking {elf.name}")
    return elf


def _call(command: list[str], what: str) -> None:
    """Run a compiler or linker; its first error line (or its last line) in a FirmwareError when it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and "collect2" not in line]
        first = next((line for line in lines if "overflowed" in line or "error" in line), (lines or ["no output"])[-1])
        reason = TOOL_PATH.sub(r"\1: ", first.strip())
        raise FirmwareError(f"{what} failed: {reason}")


def _harness(code: ModelCode, path: Path, call: str) -> Path:
    """The harness's source for this model, with the model's call (or none)."""
    template = (
        files("deploybench.backends.cortexm").joinpath("data").joinpath("harness.cpp").read_text(encoding="utf-8")
    )
    declarations = "\n".join(f"        {kind}* {name} = nullptr;" for name, kind, _ in code.outputs)
    writes = "\n".join(f"        fwrite({name}, sizeof({kind}), {size}, out);" for name, kind, size in code.outputs)
    values = {
        "HEADER": code.header,
        "INPUT_TYPE": code.input_type,
        "INPUT_SIZE": str(code.input_size),
        "CALIBRATION": str(CALIBRATION_LOOPS),
        "OUTPUT_DECLARATIONS": declarations,
        "OUTPUT_WRITES": writes,
        "CALL": call,
    }
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    path.write_text(template, encoding="utf-8")
    return path


def _report(text: str) -> dict[str, list[int]]:
    """The harness's report: calibration loops and ticks, each inference's ticks, the stack's peak."""
    report: dict[str, list[int]] = {"inference": []}
    for line in text.splitlines():
        key, *values = line.split()
        if key == "inference":
            report["inference"].append(int(values[1]))
        else:
            report[key] = [int(value) for value in values]
    return report


def _numpy_type(kind: str) -> str:
    """The NumPy type of a C element type."""
    types = {"float": "float32", "int8_t": "int8", "uint8_t": "uint8", "int32_t": "int32", "int16_t": "int16"}
    if kind not in types:
        raise FirmwareError(f"element type `{kind}` is not handled by the firmware harness")
    return types[kind]


def _qemu_version(qemu: str) -> str:
    """`QEMU x.y.z` of the emulator."""
    first = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()
    return first[0].replace("emulator version ", "") if first else "QEMU"
