"""The `Target` schema: one hardware platform, with every attribute of Table 1 of the definition."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from deploybench.catalog.schemas.base import CatalogEntry, Range, Record


class UnitKind(str, Enum):
    """What a processing unit is, as the performance models need to know it."""

    CPU = "CPU"
    GPU = "GPU"
    NPU = "NPU"
    DSP = "DSP"
    FPGA = "FPGA"
    MCU = "MCU"


class IsaFamily(str, Enum):
    """Instruction-set family of a programmable unit."""

    ARM = "ARM"
    RISC_V = "RISC-V"
    X86 = "x86"
    TRICORE = "TriCore"
    KVX = "KVX"
    OTHER = "other"


class General(Record):
    """GEN attributes: managing the platform inside the benchmarking environment."""

    deployment_year: int | None = Field(
        default=None, description="Year the platform is deployed in the benchmarking environment."
    )
    location: str | None = Field(default=None, description="Site holding the platform, e.g. Toulouse, Paris, Sophia.")
    responsible: str | None = Field(default=None, description="Person in charge of the platform.")
    availability: str | None = Field(default=None, description="Availability for integration in the environment.")
    provisioning_delay: str | None = Field(default=None, description="Delay to obtain the platform.")


class SystemOnModule(Record):
    """SOM attributes: the development board that carries the chip."""

    name: str = Field(min_length=1, description="Name of the development board, e.g. ZCU104.")
    price_usd: Range | None = Field(default=None, description="Price of the board, US dollars.")
    power_w: Range | None = Field(default=None, description="Power consumption of the board, watts.")
    memory_gb: float | None = Field(default=None, ge=0, description="Main memory (RAM) on the board, GB.")
    memory: str | None = Field(default=None, description="Memory and storage as the source words them.")
    country_of_manufacturing: str | None = Field(default=None, description="Country where the board is made.")
    weight_g: float | None = Field(default=None, ge=0, description="Weight of the board, grams.")
    operating_temperature_c: Range | None = Field(
        default=None, description="Operating temperature range, degrees Celsius."
    )


class OnChipMemory(Record):
    """One kind of memory embedded in the SoC (SRAM, flash, cache, BRAM, ...)."""

    kind: str = Field(min_length=1, description="Kind of memory, e.g. SRAM, flash, L2 cache, BRAM, TCM.")
    size_kib: float | None = Field(default=None, ge=0, description="Size, KiB.")
    bandwidth_gbps: float | None = Field(default=None, ge=0, description="Bandwidth, GB/s.")


class SystemOnChip(Record):
    """SOC attributes: the die that holds the processing resources used for inference."""

    name: str = Field(min_length=1, description="Name of the SoC, e.g. Zynq UltraScale+.")
    interfaces: tuple[str, ...] = Field(default=(), description="Interfaces of the SoC (PCIe, USB, CAN, ...).")
    price_usd: Range | None = Field(default=None, description="Price of the SoC, US dollars.")
    architecture: str | None = Field(
        default=None, description="Architecture and frequencies as the definition words them."
    )
    manufacturer: str | None = Field(default=None, description="Company that designs and sells the SoC.")
    manufacturer_country: str | None = Field(
        default=None, description="Country of the manufacturer's headquarters (the sovereignty criterion)."
    )
    country_of_manufacturing: str | None = Field(default=None, description="Country where the die is made.")
    power_w: Range | None = Field(default=None, description="Power consumption of the SoC, watts.")
    on_chip_memory: tuple[OnChipMemory, ...] = Field(
        default=(), description="Memory embedded in the SoC: flash, SRAM, caches, BRAM."
    )


class Additional(Record):
    """The "+" attributes: performance, grade, software."""

    performance: str | None = Field(default=None, description="Raw performance as the definition words it.")
    grade: str | None = Field(default=None, description="Grade: commercial, industrial, automotive, space, ...")
    os: tuple[str, ...] = Field(default=(), description="Operating systems the board runs.")
    supported_frameworks: tuple[str, ...] = Field(
        default=(), description="ML frameworks the definition lists for the board, as it words them."
    )


class PeakCompute(Record):
    """Peak arithmetic throughput of a group of processing units, per precision."""

    fp32_gflops: float | None = Field(default=None, ge=0, description="Peak FP32 throughput, GFLOP/s.")
    fp16_gflops: float | None = Field(default=None, ge=0, description="Peak FP16 throughput, GFLOP/s.")
    int8_gops: float | None = Field(default=None, ge=0, description="Peak INT8 throughput, GOP/s.")


class ProcessingUnit(Record):
    """A group of identical processing units: what the performance models map work onto."""

    kind: UnitKind = Field(description="CPU, GPU, NPU, DSP, FPGA or MCU.")
    count: int | None = Field(default=None, ge=1, description="Number of identical units (cores, SMs, ...).")
    microarchitecture: str | None = Field(default=None, description="Core or block name, e.g. Cortex-A72.")
    family: IsaFamily | None = Field(default=None, description="Instruction-set family: ARM, RISC-V, x86, ...")
    isa: str | None = Field(default=None, description="Instruction-set version, e.g. ARMv8-A.")
    isa_extensions: tuple[str, ...] = Field(default=(), description="SIMD and ML extensions, e.g. NEON, AVX2.")
    frequency_ghz: float | None = Field(default=None, gt=0, description="Maximum clock frequency, GHz.")
    peak: PeakCompute = Field(
        default_factory=PeakCompute, description="Peak throughput per precision of the whole group (all `count` units)."
    )
    resources: str | None = Field(
        default=None, description="Fabric resources of an FPGA (LUTs, DSPs, BRAM) as the source words them."
    )


class MainMemory(Record):
    """Main memory the processing units share, as the performance models need it."""

    size_gb: float | None = Field(default=None, ge=0, description="Size, GB.")
    type: str | None = Field(default=None, description="Technology, e.g. LPDDR4-3200.")
    bandwidth_gbps: float | None = Field(default=None, ge=0, description="Peak bandwidth, GB/s.")


class PowerEnvelope(Record):
    """Power draw of the whole board in three operating points, watts."""

    idle_w: float | None = Field(default=None, ge=0, description="Power at idle, watts.")
    typical_w: float | None = Field(default=None, ge=0, description="Typical power under load, watts.")
    max_w: float | None = Field(default=None, ge=0, description="Maximum power, watts.")


class Target(CatalogEntry):
    """A hardware platform on which models are deployed and measured (Table 1 of the definition)."""

    kind: ClassVar[str] = "target"

    general: General = Field(default_factory=General, description="GEN attributes.")
    som: SystemOnModule = Field(description="SOM attributes: the development board.")
    soc: SystemOnChip = Field(description="SOC attributes: the chip.")
    additional: Additional = Field(default_factory=Additional, description='The "+" attributes.')
    processing_units: tuple[ProcessingUnit, ...] = Field(
        default=(), description="Processing units of the SoC, for the performance models."
    )
    memory: MainMemory = Field(default_factory=MainMemory, description="Main memory size and bandwidth.")
    power: PowerEnvelope = Field(default_factory=PowerEnvelope, description="Power envelope of the board.")
    fingerprint: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 hardware fingerprint of the board, to check that an agent runs on it.",
    )
