"""Detection of the local machine, checked against what the OS itself reports."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from deploybench.catalog.local import LocalMachine, detect_local_machine, fingerprint_of
from deploybench.catalog.local.detect import cpu_info_from_proc
from deploybench.catalog.local.isa import isa_extensions, isa_family
from deploybench.catalog.schemas.target import IsaFamily, UnitKind


@pytest.fixture(scope="module")
def machine() -> LocalMachine:
    return detect_local_machine()


def test_detected_facts_agree_with_the_os(machine: LocalMachine) -> None:
    assert machine.logical_cpus == os.cpu_count()
    assert machine.machine == platform.machine()
    assert machine.system == platform.system()
    assert machine.family is isa_family(platform.machine())
    assert machine.physical_cores is None or 1 <= machine.physical_cores <= machine.logical_cpus


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux /proc/meminfo")
def test_memory_matches_proc_meminfo(machine: LocalMachine) -> None:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal:"))
    assert machine.memory_total_bytes == int(line.split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo")
def test_isa_extensions_match_proc_cpuinfo(machine: LocalMachine) -> None:
    text = Path("/proc/cpuinfo").read_text()
    flags = next((x.split(":", 1)[1].split() for x in text.splitlines() if x.startswith(("flags", "Features"))), [])
    assert machine.isa_extensions == isa_extensions(flags)
    assert ("AVX2" in machine.isa_extensions) == ("avx2" in flags)


def test_fingerprint_is_stable_across_detections(machine: LocalMachine) -> None:
    assert detect_local_machine().fingerprint == machine.fingerprint
    assert len(machine.fingerprint) == 64


def test_fingerprint_ignores_hostname_and_clock_but_not_hardware(machine: LocalMachine) -> None:
    facts = machine.model_dump()
    base = fingerprint_of(facts)
    assert fingerprint_of({**facts, "hostname": "elsewhere", "frequency_current_mhz": 1.0}) == base
    assert fingerprint_of({**facts, "physical_cores": (facts["physical_cores"] or 0) + 1}) != base
    assert fingerprint_of({**facts, "memory_total_bytes": facts["memory_total_bytes"] * 2}) != base
    assert fingerprint_of({**facts, "flags": [*facts["flags"], "sve"]}) != base


def test_local_machine_as_target(machine: LocalMachine) -> None:
    target = machine.to_target()
    assert target.name == "local"
    (cpu,) = target.processing_units
    assert cpu.kind is UnitKind.CPU and cpu.count == machine.physical_cores
    assert cpu.isa_extensions == machine.isa_extensions
    assert target.memory.size_gb == machine.memory_total_bytes / 1e9
    assert target.fingerprint == machine.fingerprint
    assert target.sources[0].id == "detected"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"],
            ("AVX2", "FMA", "AVX-512F", "AVX-512 VNNI", "AVX-512 BF16"),
        ),
        (["fp", "asimd", "asimddp", "i8mm", "bf16", "sve"], ("NEON", "ASIMD-DP", "BF16", "I8MM", "SVE")),
        (["neon", "vfpv4"], ("NEON",)),
        ([], ()),
    ],
)
def test_isa_extension_names(flags: list[str], expected: tuple[str, ...]) -> None:
    assert isa_extensions(flags) == expected


@pytest.mark.parametrize(
    ("machine_name", "family"),
    [
        ("x86_64", IsaFamily.X86),
        ("AMD64", IsaFamily.X86),
        ("aarch64", IsaFamily.ARM),
        ("riscv64", IsaFamily.RISC_V),
        ("s390x", IsaFamily.OTHER),
    ],
)
def test_isa_family(machine_name: str, family: IsaFamily) -> None:
    assert isa_family(machine_name) is family


RASPBERRY_PI_4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 1
Features\t: fp asimd evtstrm crc32 cpuid
CPU part\t: 0xd08

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 167
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 8
flags\t\t: fpu sse4_2 avx2 avx512f
"""


def test_cpu_facts_from_an_arm_proc_cpuinfo() -> None:
    facts = cpu_info_from_proc(RASPBERRY_PI_4_CPUINFO)
    assert facts == {
        "vendor": "0x41",
        "model": "ARM implementer 0x41 part 0xd08",
        "signature": "0x41/0x0/0xd08/3",
        "flags": ["fp", "asimd", "evtstrm", "crc32", "cpuid"],
    }
    assert isa_extensions(facts["flags"]) == ("NEON",)


def test_cpu_facts_from_an_x86_proc_cpuinfo() -> None:
    facts = cpu_info_from_proc(X86_CPUINFO)
    assert facts["vendor"] == "GenuineIntel" and facts["signature"] == "6/167/8"
    assert facts["model"] == "Intel(R) Xeon(R) Processor"
    assert isa_extensions(facts["flags"]) == ("SSE4.2", "AVX2", "AVX-512F")
