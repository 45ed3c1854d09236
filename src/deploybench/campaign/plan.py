"""Turn what the user asks for into frozen job specs: models hashed, settings crossed, paths absolute."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploybench.core.errors import ConfigurationError
from deploybench.core.hashing import file_sha256
from deploybench.core.records import (
    InputData,
    JobSpec,
    ModelRef,
    Scenario,
    SettingValue,
    StoppingRule,
    Timing,
)


def model_ref(path: Path) -> ModelRef:
    """The model file's absolute path, SHA-256 and size."""
    if not path.is_file():
        raise ConfigurationError(f"{path}: no such model file", hint="give the path of an .onnx file")
    resolved = path.resolve()
    return ModelRef(path=str(resolved), sha256=file_sha256(resolved), size_bytes=resolved.stat().st_size)


def cross_settings(grid: Mapping[str, Sequence[SettingValue]]) -> list[dict[str, SettingValue]]:
    """Every combination of the settings' values (one empty combination for an empty grid)."""
    names = sorted(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def plan_jobs(
    models: Sequence[tuple[ModelRef, InputData]],
    frameworks: Sequence[tuple[str, Mapping[str, Sequence[SettingValue]]]],
    scenarios: Sequence[Scenario],
    stopping: StoppingRule,
    timing: Timing = Timing.BOUND,
    reference: str | None = None,
    timeout_s: float = 900.0,
) -> list[JobSpec]:
    """models x frameworks x settings x scenarios, in that nesting order, without duplicates."""
    jobs: dict[str, JobSpec] = {}
    for (model, data), (framework, grid), scenario in itertools.product(models, frameworks, scenarios):
        for settings in cross_settings(grid):
            job = JobSpec(
                model=model,
                framework=framework,
                settings=settings,
                scenario=scenario,
                stopping=stopping,
                data=data,
                timing=timing,
                reference=reference,
                timeout_s=timeout_s,
            )
            jobs.setdefault(job.key(), job)
    return list(jobs.values())
