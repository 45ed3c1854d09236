"""The versioned job and result records: what a worker is asked to measure and what it answers.

The same JSON travels through the worker's pipes, into the results store and, later, over the
network to board agents. `SCHEMA_VERSION` changes whenever a field changes meaning.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deploybench.core.hashing import sha256_of

SCHEMA_VERSION = 3
"""Version of the job and result records; stored with every record (2: `emulation`; 3: `simulation`)."""

SettingValue = str | int | float | bool


class Frozen(BaseModel):
    """A frozen, strict record."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelRef(Frozen):
    """The model to deploy: a file and its content hash."""

    path: str = Field(description="Path of the model file (ONNX), as the worker must open it.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the model file (and its external data).")
    size_bytes: int = Field(ge=0, description="Size of the model file and its external data, bytes.")


class DataSplit(Frozen):
    """The rows of a data file set aside for one purpose (calibration or evaluation), written as a file of its own."""

    path: str = Field(description="The `.npz` file holding these rows (`x`, and `y` when labelled).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of that file.")
    samples: int = Field(ge=1, description="Number of rows.")
    source: str = Field(description="The data the rows were drawn from, as the user gave it.")
    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the source's rows.")
    rows: str = Field(description="Which rows of the source, in words (a seeded permutation's slice).")


class LayerDivergence(Frozen):
    """How far one intermediate tensor of an optimized model drifts from the FP32 model's, on the same inputs."""

    tensor: str = Field(description="Tensor name, as in the FP32 model.")
    op_type: str = Field(description="Operator that produces it.")
    sqnr_db: float | None = Field(
        description="Signal to quantization noise ratio, dB (higher is closer); None when there is no noise at all."
    )
    cosine_similarity: float = Field(description="Cosine similarity of the flattened tensors.")


class Optimization(Frozen):
    """How an optimized artifact was made from its FP32 model: the recipe, kept with every result of it."""

    source: ModelRef = Field(description="The FP32 model it was made from; fidelity is checked against it.")
    framework: str = Field(description="Backend whose tool made it.")
    method: str = Field(description="Method, e.g. `static-int8`.")
    options: dict[str, SettingValue] = Field(description="Every option of the method, defaults resolved.")
    tool: str = Field(description="The tool that made it, with its version.")
    calibration: DataSplit | None = Field(default=None, description="The calibration rows, for calibrated methods.")
    sparsity: float | None = Field(default=None, description="Share of zero weights reached (pruning).")
    layers: tuple[LayerDivergence, ...] = Field(
        default=(), description="Per-tensor divergence on evaluation rows, where the framework exposes tensors."
    )
    notes: tuple[str, ...] = Field(default=(), description="What the tool did, in words.")


class InputData(Frozen):
    """Where the inputs come from: generated from a seed, or read from a labelled `.npz` file."""

    source: Literal["random", "npz"] = Field(default="random", description="`random` (seeded) or `npz` (a file).")
    path: str | None = Field(default=None, description="The `.npz` file with array `x` (and labels `y`), for `npz`.")
    sha256: str | None = Field(
        default=None, description="SHA-256 of that file, set when it travels to a remote target as an artifact."
    )
    seed: int = Field(default=0, description="Seed of the random inputs.")
    count: int = Field(default=16, ge=1, description="Distinct inputs cycled through and used for fidelity.")
    dims: dict[str, int] = Field(default_factory=dict, description="Values of the model's dynamic dimensions.")


class StoppingRule(Frozen):
    """When sampling stops: the median's confidence interval is tight enough, within count and time bounds.

    Sampling stops as soon as the CI holds and both minimums are met, or when either maximum is reached.
    """

    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of the median's interval.")
    relative_half_width: float = Field(
        default=0.01, gt=0, description="Target half-width of that interval, relative to the median (0.01 = 1 %)."
    )
    min_samples: int = Field(default=100, ge=10, description="Fewest timed samples.")
    max_samples: int = Field(default=100_000, ge=10, description="Most timed samples.")
    min_duration_s: float = Field(default=1.0, ge=0, description="Shortest sampling time, seconds.")
    max_duration_s: float = Field(default=30.0, gt=0, description="Longest sampling time, seconds.")
    warmup_window: int = Field(default=10, ge=3, description="Warm-up runs compared window against window.")
    warmup_tolerance: float = Field(
        default=0.05, gt=0, description="Warm-up ends when two successive windows' medians differ by less than this."
    )
    warmup_max: int = Field(default=1000, ge=1, description="Most warm-up runs, stable or not.")


class ScenarioKind(str, Enum):
    """MLPerf-like scenarios."""

    SINGLE_STREAM = "single-stream"
    OFFLINE = "offline"
    SERVER = "server"


class Scenario(Frozen):
    """How inferences are issued: one after another, in batches, or at a target arrival rate."""

    kind: ScenarioKind = Field(default=ScenarioKind.SINGLE_STREAM, description="single-stream, offline or server.")
    batch_sizes: tuple[int, ...] = Field(default=(1,), min_length=1, description="Batch sizes (offline).")
    target_qps: float | None = Field(default=None, gt=0, description="Poisson arrival rate, queries/s (server).")
    concurrency: int = Field(default=2, ge=1, description="Requests served at once (server).")


class Timing(str, Enum):
    """What the timed region holds."""

    BOUND = "bound"
    END_TO_END = "end-to-end"


class JobSpec(Frozen):
    """One deployment to measure: model x framework x settings x scenario."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this record's schema.")
    model: ModelRef = Field(description="The model.")
    framework: str = Field(min_length=1, description="Registered backend name, e.g. `onnxruntime`.")
    settings: dict[str, SettingValue] = Field(default_factory=dict, description="Backend settings, e.g. threads.")
    scenario: Scenario = Field(default_factory=Scenario, description="How inferences are issued.")
    stopping: StoppingRule = Field(default_factory=StoppingRule, description="When sampling stops.")
    data: InputData = Field(default_factory=InputData, description="Inputs.")
    timing: Timing = Field(
        default=Timing.BOUND,
        description="`bound`: inputs bound to the runtime before timing; `end-to-end`: copies are timed too.",
    )
    reference: str | None = Field(
        default=None,
        description="Backend that gives the FP32 reference outputs; None: the reference evaluator for the model's "
        "format in the environment the job runs in.",
    )
    timeout_s: float = Field(default=900.0, gt=0, description="The worker is killed after this many seconds.")
    loadgen: bool = Field(
        default=False, description="Also drive the deployment through MLPerf LoadGen, in the job's scenario."
    )
    optimization: Optimization | None = Field(
        default=None,
        description="How the model was optimized from an FP32 one; fidelity is then checked against the FP32 model.",
    )

    def key(self) -> str:
        """SHA-256 of the whole spec: the identity campaigns resume by (`loadgen`, `optimization` and the data
        file's hash count only when set, so the jobs stored before they existed keep their keys)."""
        unset: dict[str, Any] = {name: True for name in ("loadgen", "optimization") if not getattr(self, name)}
        if self.data.sha256 is None:
            unset["data"] = {"sha256"}
        return sha256_of(self.model_dump(mode="json", exclude=unset or None))


class Status(str, Enum):
    """Outcome of a job."""

    OK = "ok"
    FAILED = "failed"


class Failure(Frozen):
    """Why a job failed, and where."""

    kind: Literal["error", "crash", "timeout", "killed", "protocol"] = Field(
        description="error (raised), crash (signal), timeout, killed (e.g. out of memory), protocol (bad output)."
    )
    phase: str = Field(description="Phase that failed: start, prepare, load, bind, warmup, sample, fidelity, ...")
    message: str = Field(description="What went wrong and what to do.")
    error_type: str | None = Field(default=None, description="Exception class, when one was raised.")
    exit_code: int | None = Field(default=None, description="Worker exit status; negative: killed by that signal.")
    stderr_tail: str = Field(default="", description="Last lines the worker wrote on stderr.")


class LatencySummary(Frozen):
    """Statistics of one series of latencies, microseconds."""

    count: int = Field(description="Number of samples.")
    min_us: float = Field(description="Minimum, µs.")
    mean_us: float = Field(description="Mean, µs.")
    median_us: float = Field(description="Median, µs.")
    p90_us: float = Field(description="90th percentile, µs.")
    p95_us: float = Field(description="95th percentile, µs.")
    p99_us: float = Field(description="99th percentile, µs.")
    p999_us: float = Field(description="99.9th percentile, µs.")
    max_us: float = Field(description="Maximum, µs.")
    std_us: float = Field(description="Standard deviation, µs.")
    cv: float = Field(description="Coefficient of variation (std / mean).")
    jitter_p99_p50_us: float = Field(description="p99 - median, µs.")
    jitter_range_us: float = Field(description="max - min, µs.")
    median_ci_low_us: float = Field(description="Lower bound of the median's confidence interval, µs.")
    median_ci_high_us: float = Field(description="Upper bound of the median's confidence interval, µs.")
    ci_confidence: float = Field(description="Confidence level of that interval.")


class Determinism(Frozen):
    """A verdict on timing determinism and the rule that gave it."""

    verdict: Literal["deterministic", "jittery", "unbounded"] = Field(description="The verdict.")
    rule: str = Field(description="The rule applied, in words, with its thresholds.")


class Measurement(Frozen):
    """One timed series: a scenario at one batch size (or arrival rate)."""

    scenario: ScenarioKind = Field(description="Scenario.")
    batch_size: int = Field(description="Inputs per inference.")
    target_qps: float | None = Field(default=None, description="Arrival rate asked for (server).")
    samples_us: tuple[float, ...] = Field(description="Every timed latency, µs, in order.")
    summary: LatencySummary = Field(description="Statistics of the samples.")
    determinism: Determinism = Field(description="Timing determinism verdict.")
    throughput_per_s: float = Field(description="Inputs processed per second over the sampling.")
    warmup_runs: int = Field(description="Runs before sampling started.")
    warmup_stable: bool = Field(description="Whether warm-up reached stability (else it hit its maximum).")
    stopped_by: str = Field(description="Which condition ended sampling.")
    sampling_s: float = Field(description="Wall time of the sampling, seconds.")


class Resources(Frozen):
    """Time, memory, size and energy of the deployment."""

    prepare_s: float | None = Field(default=None, description="Conversion or compilation time, seconds.")
    load_s: float = Field(description="Time to load the prepared model into a session, seconds.")
    first_inference_s: float = Field(description="Time of the first inference, seconds.")
    peak_rss_bytes: int = Field(
        description="Peak resident memory of the worker up to the end of sampling (the reference runs after), bytes."
    )
    rss_growth_bytes: int = Field(description="Resident memory at the end of sampling minus at its start, bytes.")
    artifact_size_bytes: int = Field(description="Size of the deployed artifact, bytes.")
    energy_per_inference_j: float | None = Field(default=None, description="Energy per inference, joules (RAPL).")
    energy_unavailable: str | None = Field(default=None, description="Why energy is null.")


class OutputFidelity(Frozen):
    """How far one output is from the reference's."""

    name: str = Field(description="Output name.")
    max_abs_error: float = Field(description="Largest absolute difference.")
    mean_abs_error: float = Field(description="Mean absolute difference.")
    max_rel_error: float = Field(description="Largest difference relative to the reference's magnitude.")
    cosine_similarity: float = Field(description="Cosine similarity of the flattened outputs.")
    nonfinite_mismatches: int = Field(
        default=0, description="Values that are NaN or infinite in one output but not the same in the other."
    )


class Interval(Frozen):
    """An estimate with its confidence interval."""

    value: float = Field(description="The point estimate.")
    low: float = Field(description="Lower bound.")
    high: float = Field(description="Upper bound.")
    confidence: float = Field(gt=0, lt=1, description="Confidence level.")
    method: str = Field(description="How the interval was computed.")


class Fidelity(Frozen):
    """Semantic preservation: the deployment's outputs against the FP32 reference on the same inputs."""

    reference: str = Field(description="Backend and version that gave the reference outputs.")
    inputs: int = Field(description="Number of inputs compared.")
    outputs: tuple[OutputFidelity, ...] = Field(description="Per output.")
    top1_agreement: float | None = Field(
        default=None, description="Share of inputs with the same argmax (classifiers)."
    )
    accuracy: float | None = Field(default=None, description="Top-1 accuracy against the labels, when given.")
    reference_accuracy: float | None = Field(default=None, description="The reference's accuracy on the same labels.")
    accuracy_drop: Interval | None = Field(
        default=None,
        description="Reference accuracy minus accuracy, paired on the same rows, with its confidence interval.",
    )


class Provenance(Frozen):
    """Everything needed to know what was measured, on what, with which settings."""

    deploybench_version: str = Field(description="deploybench version.")
    schema_version: int = Field(description="Record schema version.")
    framework_version: str = Field(description="Version of the framework that ran.")
    settings: dict[str, SettingValue] = Field(description="Every setting the backend used, defaults resolved.")
    converter: str | None = Field(
        default=None, description="Converter that made the deployed artifact from the model, with its version."
    )
    environment: str = Field(
        default="main", description="Python environment of the worker: main, or the toolchain environment's name."
    )
    machine_fingerprint: str = Field(description="Hardware fingerprint of the machine.")
    machine: dict[str, str] = Field(description="CPU, governor, kernel, OS, Python.")
    packages: dict[str, str] = Field(description="Versions of the packages that matter.")
    started_at: datetime = Field(description="Start of the job (UTC).")
    finished_at: datetime = Field(description="End of the job (UTC).")


class LoadGenRun(Frozen):
    """The same deployment driven by MLPerf LoadGen: its own figures and its logs, kept whole."""

    version: str = Field(description="Version of mlcommons-loadgen.")
    scenario: ScenarioKind = Field(description="single-stream or offline.")
    valid: bool = Field(description="LoadGen's verdict on its run (`Result is : VALID`).")
    median_us: float | None = Field(default=None, description="LoadGen's 50th percentile latency, µs.")
    p90_us: float | None = Field(default=None, description="LoadGen's 90th percentile latency, µs.")
    p99_us: float | None = Field(default=None, description="LoadGen's 99th percentile latency, µs.")
    samples_per_s: float | None = Field(default=None, description="LoadGen's throughput (offline), samples/s.")
    summary_log: str = Field(description="mlperf_log_summary.txt, whole.")
    detail_log: str = Field(description="mlperf_log_detail.txt, whole.")


class Emulation(Frozen):
    """A deployment run as firmware on an emulated board: what it executed and what memory it takes. Counts are
    instructions, not cycles: a real core's cycles per instruction depend on its pipeline, caches and memory."""

    emulator: str = Field(description="Emulator, version, machine and clock mode.")
    core: str = Field(description="Emulated core.")
    generator: str = Field(description="Code generator that wrote the model's code, with its version.")
    compiler: str = Field(description="Cross-compiler and its flags.")
    instructions: tuple[int, ...] = Field(description="Instructions executed by each inference, per input.")
    instructions_median: float = Field(description="Median of those counts.")
    resolution_instructions: float = Field(description="Instructions one tick of the emulated clock stands for.")
    flash_bytes: int = Field(description="Firmware's flash: code, constants and initial data, bytes.")
    ram_bytes: int = Field(description="Firmware's static RAM (data and zeroed data) plus its stack's peak, bytes.")
    stack_peak_bytes: int = Field(description="Deepest the stack went during the run, bytes (painted, then read).")
    model_flash_bytes: int = Field(description="Flash the model adds to the same harness built without it, bytes.")
    model_ram_bytes: int = Field(description="Static RAM the model adds to that harness, bytes.")
    sections: dict[str, int] = Field(description="Each allocated section of the firmware ELF and its size, bytes.")
    prepare_s: float | None = Field(
        default=None, description="Time to generate the model's code and build the firmware on the host, seconds."
    )


class Simulation(Frozen):
    """A deployment run in a bit-accurate simulation of the hardware design made from it (an FPGA design's C
    simulation): its outputs are the design's; its speed and resources are not measured by it."""

    simulator: str = Field(description="Simulating tool, its version, target flow and host compiler.")
    precision: str = Field(description="Default number type of the design (e.g. a fixed-point type).")
    layers: dict[str, str] = Field(default_factory=dict, description="Each layer's number type, where set apart.")
    not_measured: str = Field(description="What the simulation cannot tell, and what would.")
    prepare_s: float | None = Field(
        default=None, description="Time to convert the model and compile its simulation on the host, seconds."
    )


class ResultRecord(Frozen):
    """What one job gave: measurements, resources, fidelity and provenance, or a failure."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this record's schema.")
    job_key: str = Field(description="`JobSpec.key()` of the job.")
    job: JobSpec = Field(description="The job as it was asked.")
    status: Status = Field(description="ok or failed.")
    failure: Failure | None = Field(default=None, description="Why it failed.")
    measurements: tuple[Measurement, ...] = Field(default=(), description="Timed series.")
    resources: Resources | None = Field(default=None, description="Time, memory, size, energy.")
    fidelity: Fidelity | None = Field(default=None, description="Outputs against the reference.")
    provenance: Provenance | None = Field(default=None, description="What, on what, with which settings.")
    warnings: tuple[str, ...] = Field(default=(), description="Stability warnings, each saying what to do.")
    loadgen: LoadGenRun | None = Field(default=None, description="The same deployment measured by MLPerf LoadGen.")
    emulation: Emulation | None = Field(
        default=None, description="Instruction counts and memory of a deployment run as firmware on an emulated board."
    )
    simulation: Simulation | None = Field(
        default=None, description="How a deployment run in a simulation of its hardware design was simulated."
    )


class OptimizationMethod(Frozen):
    """One optimization method a backend offers, as the controller sees it."""

    name: str = Field(description="Method name, e.g. `static-int8`.")
    description: str = Field(description="What it does, and with which tool.")
    options: dict[str, str] = Field(default_factory=dict, description="Option name -> meaning and default.")
    calibrated: bool = Field(default=False, description="Whether it needs calibration rows.")
    labelled: bool = Field(default=False, description="Whether those rows need labels.")


class BackendStatus(Frozen):
    """What a worker found about one registered backend: can it run here, and what does it take."""

    name: str = Field(description="Registered backend name.")
    available: bool = Field(description="Whether its runtime imports and works here.")
    version: str | None = Field(default=None, description="Version of its runtime.")
    reason: str | None = Field(default=None, description="Why it is not available, and what to do.")
    input_formats: tuple[str, ...] = Field(default=(), description="Model formats it takes (onnx, tflite, ...).")
    settings: tuple[str, ...] = Field(default=(), description="Names of the settings it takes.")
    deployment: bool = Field(default=True, description="False for a reference evaluator.")
    only: str | None = Field(
        default=None, description="The one kind of model it is made for, if so: `all` leaves it out."
    )
    methods: tuple[OptimizationMethod, ...] = Field(
        default=(), description="The optimization methods its framework's tools offer here."
    )


class NodeSupport(Frozen):
    """Whether a framework takes one node of a model, as its own machinery says."""

    node: str = Field(description="Node name (or its first output's where it has none).")
    op_type: str = Field(description="Operator, domain-qualified outside the format's own.")
    supported: bool
    reason: str | None = Field(default=None, description="Why it is not supported.")
    fallback: str | None = Field(
        default=None,
        description=(
            "Where the node runs instead, when the framework's preferred unit refuses it (a CPU kernel instead "
            "of a delegate, the host instead of the accelerator); None when refused means not deployable."
        ),
    )
    conditions: tuple[str, ...] = Field(
        default=(), description="Conditions the framework documents for this operator that were not checked."
    )


class OperatorSupport(Frozen):
    """What one framework's introspection says about every node of a model."""

    framework: str = Field(description="Registered backend name.")
    version: str | None = Field(default=None, description="Version of its runtime.")
    source: str = Field(description="What was asked: a kernel registry, a frontend, a device query, ...")
    nodes: tuple[NodeSupport, ...] = Field(default=(), description="Every node, supported or not.")
    model_issues: tuple[str, ...] = Field(
        default=(), description="What the framework refuses about the model as a whole (a device query, ...)."
    )
    error: str | None = Field(default=None, description="Why the check itself failed.")


class OptimizeRequest(Frozen):
    """What a worker is asked to make: an optimized model from an FP32 one, by one framework's method."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this record's schema.")
    model: ModelRef = Field(description="The FP32 model.")
    framework: str = Field(min_length=1, description="Backend whose tool optimizes it.")
    method: str = Field(min_length=1, description="Method name, as the backend lists it.")
    options: dict[str, SettingValue] = Field(default_factory=dict, description="Options of the method.")
    calibration: str | None = Field(default=None, description="`.npz` with calibration rows `x` (and labels `y`).")
    divergence: str | None = Field(
        default=None, description="`.npz` with a few evaluation rows `x` for the per-tensor divergence."
    )
    output: str = Field(description="Folder the optimized model is written into.")


class OptimizeReply(Frozen):
    """What the worker made, or why it could not."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this record's schema.")
    artifact: str | None = Field(default=None, description="Path of the optimized model.")
    options: dict[str, SettingValue] = Field(default_factory=dict, description="Options, defaults resolved.")
    tool: str | None = Field(default=None, description="The tool that made it, with its version.")
    sparsity: float | None = Field(default=None, description="Share of zero weights reached (pruning).")
    layers: tuple[LayerDivergence, ...] = Field(default=(), description="Per-tensor divergence, when measured.")
    notes: tuple[str, ...] = Field(default=(), description="What the tool did.")
    error: str | None = Field(default=None, description="Why nothing was made: a one-line reason.")
