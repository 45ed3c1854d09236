"""The measurements the performance models learn from: every stored single-stream result at batch 1 whose
machine is a known target, with the anatomy of its FP32 model (stored, or analysed now and stored)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deploybench import __version__
from deploybench.analyze.anatomy import analyze_model
from deploybench.analyze.records import Anatomy
from deploybench.core.errors import DeploybenchError
from deploybench.core.hashing import file_sha256, sha256_of
from deploybench.core.records import ModelRef, Optimization, ResultRecord, ScenarioKind, Status
from deploybench.store import ResultStore


class Observation(BaseModel):
    """One measured latency and what it was measured on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    result_id: int | None = Field(description="Id of the result in the store; None for a published figure.")
    source: str = Field(description="Where the figure comes from: `store result N`, or a publication.")
    model: str = Field(description="Name of the FP32 model (its file's stem).")
    model_sha256: str = Field(description="Hash of the FP32 model: models are told apart by it.")
    anatomy: Anatomy = Field(description="Anatomy of the FP32 model.")
    framework: str = Field(description="Backend that ran it.")
    target: str = Field(description="Catalog target it ran on (`local` for this machine).")
    precision: str = Field(description="fp32, fp16 or int8.")
    threads: int | None = Field(description="Threads the backend used, when it has the setting.")
    latency_ms: float = Field(description="Median latency of one inference, ms.")
    peak_rss_bytes: int | None = Field(description="Peak resident memory of the worker, bytes.")
    deterministic: bool = Field(description="Whether the timing determinism verdict was `deterministic`.")


def precision_of(optimization: Optimization | None) -> str:
    """The arithmetic precision a result ran at, read from the optimization method's name."""
    if optimization is None:
        return "fp32"
    method = optimization.method.lower()
    if "fp16" in method:
        return "fp16"
    if "int8" in method or "dynamic-range" in method:
        return "int8"
    return "fp32"


def gather(store: ResultStore, targets_by_fingerprint: dict[str, str]) -> tuple[list[Observation], list[str]]:
    """Every usable observation in the store (newest result per job), and why the others were skipped."""
    newest: dict[str, int] = {}
    for row in store.rows(status=Status.OK):
        if row.scenario == ScenarioKind.SINGLE_STREAM.value:
            newest.setdefault(row.job_key, row.id)
    anatomies: dict[str, Anatomy | str] = {}
    found: list[Observation] = []
    skipped: list[str] = []
    for result_id in sorted(newest.values()):
        record = store.get(result_id)
        observation = _observation(result_id, record, targets_by_fingerprint, anatomies, store)
        if isinstance(observation, str):
            skipped.append(f"result {result_id}: {observation}")
        else:
            found.append(observation)
    return found, skipped


def _observation(
    result_id: int,
    record: ResultRecord,
    targets: dict[str, str],
    anatomies: dict[str, Anatomy | str],
    store: ResultStore,
) -> Observation | str:
    """The observation of one result, or why it cannot be used."""
    provenance = record.provenance
    if provenance is None or provenance.machine_fingerprint not in targets:
        return "measured on a machine that is no catalog target"
    single = [m for m in record.measurements if m.batch_size == 1]
    if not single:
        return "no batch-1 measurement"
    source = record.job.optimization.source if record.job.optimization else record.job.model
    anatomy = anatomies.get(source.sha256) or _anatomy(source, record.job.data.dims, store)
    anatomies[source.sha256] = anatomy
    if isinstance(anatomy, str):
        return anatomy
    threads = provenance.settings.get("threads")
    resources = record.resources
    return Observation(
        result_id=result_id,
        source=f"store result {result_id}",
        model=Path(source.path).stem,
        model_sha256=source.sha256,
        anatomy=anatomy,
        framework=record.job.framework,
        target=targets[provenance.machine_fingerprint],
        precision=precision_of(record.job.optimization),
        threads=threads if isinstance(threads, int) and not isinstance(threads, bool) else None,
        latency_ms=single[0].summary.median_us / 1e3,
        peak_rss_bytes=resources.peak_rss_bytes if resources else None,
        deterministic=single[0].determinism.verdict == "deterministic",
    )


def _anatomy(source: ModelRef, dims: dict[str, int], store: ResultStore) -> Anatomy | str:
    """The stored anatomy of the model, else its analysis now at batch 1 (stored for next time), else why
    neither."""
    stored = store.latest_analysis("anatomy", source.sha256)
    if stored is not None and not (found := Anatomy.model_validate_json(stored)).uncounted_nodes:
        return found
    path = Path(source.path)
    if not path.is_file() or file_sha256(path) != source.sha256:
        return f"its model {path} is gone or changed, and was never analysed"
    try:
        anatomy = analyze_model(path, dims)
        if anatomy.symbolic_dims:
            anatomy = analyze_model(path, {**{name: 1 for name in anatomy.symbolic_dims}, **dims})
    except DeploybenchError as exc:
        return f"its model {path} cannot be analysed: {exc}"
    if anatomy.uncounted_nodes:
        return f"its model {path} has {anatomy.uncounted_nodes} nodes whose work is unknown"
    store.save_analysis("anatomy", source.sha256, str(path), __version__, anatomy.model_dump_json())
    return anatomy


def architecture_of(anatomy: Anatomy) -> str:
    """A hash of what the model computes (operators, work, traffic, interface), not of its weights: two files
    of one architecture at one input size share it, so a figure measured on one transfers to the other."""
    return sha256_of(
        {
            "operators": anatomy.operators,
            "macs": anatomy.macs,
            "flops": anatomy.flops,
            "bytes": anatomy.bytes_moved,
            "inputs": [list(t.shape or ()) for t in anatomy.inputs],
        }
    )


def models_in(observations: Iterable[Observation]) -> list[str]:
    """The distinct models (by hash) of the observations, in first-seen order."""
    return list(dict.fromkeys(o.model_sha256 for o in observations))
