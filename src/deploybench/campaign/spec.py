"""Campaign files: YAML crossing models x frameworks x settings x scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from deploybench.backends.registry import registered
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.catalog.yaml_io import read_yaml
from deploybench.core.errors import CatalogError, CatalogErrors
from deploybench.core.formats import model_format
from deploybench.core.records import InputData, JobSpec, Scenario, SettingValue, StoppingRule, Timing
from deploybench.worker.placement import Placer

EVERY = "all"

ZooResolver = Callable[[str, bool], Path]
"""Gives the file of a zoo model (reduced or not), built if needed (the zoo lives beside campaigns: the caller
passes it)."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampaignModel(_Strict):
    """One model of a campaign, a file or a model of the zoo, with its input data."""

    path: Path | None = Field(default=None, description="Model file, relative to the campaign file.")
    zoo: str | None = Field(default=None, description="A model of the zoo (`deploybench zoo list`), built if needed.")
    reduced: bool = Field(default=False, description="The zoo model's reduced variant (for quick checks).")
    data: InputData = Field(default_factory=InputData, description="Inputs; an npz path is relative to the file.")

    @model_validator(mode="after")
    def _one_source(self) -> CampaignModel:
        if (self.path is None) == (self.zoo is None):
            raise ValueError("give either `path` or `zoo`")
        if self.reduced and self.zoo is None:
            raise ValueError("`reduced` applies to a `zoo` model only")
        return self


class CampaignFramework(_Strict):
    """One framework and the grid of its settings (each value list is crossed with the others)."""

    name: str = Field(description=f"Registered backend name, or `{EVERY}`: every framework here that takes the model.")
    settings: dict[str, list[SettingValue]] = Field(default_factory=dict, description="Setting -> values to cross.")


class CampaignFile(_Strict):
    """A campaign: the jobs it expands to are models x frameworks x settings x scenarios."""

    name: str = Field(min_length=1, description="Campaign name; results are stored under it.")
    models: list[CampaignModel] = Field(min_length=1, description="Models to deploy.")
    frameworks: list[CampaignFramework] = Field(min_length=1, description="Frameworks and their settings.")
    scenarios: list[Scenario] = Field(default_factory=lambda: [Scenario()], description="Scenarios.")
    stopping: StoppingRule = Field(default_factory=StoppingRule, description="Stopping rule of every job.")
    timing: Timing = Field(default=Timing.BOUND, description="bound or end-to-end.")
    reference: str | None = Field(
        default=None, description="Backend giving the FP32 reference outputs (default: the one for the model's format)."
    )
    timeout_s: float = Field(default=900.0, gt=0, description="Per-job worker timeout, seconds.")


def load_campaign(
    path: Path, zoo: ZooResolver | None = None, placer: Placer | None = None
) -> tuple[CampaignFile, list[JobSpec]]:
    """Read and check a campaign file, then expand it into jobs; errors name the file, line and field. `all`
    frameworks are those available here (main environment or toolchain) that take each model's format."""
    document = read_yaml(path)
    try:
        campaign = CampaignFile.model_validate(document.data)
    except ValidationError as exc:
        raise CatalogErrors(
            [
                CatalogError(
                    "is not a field here" if e["type"] == "extra_forbidden" else e["msg"],
                    file=str(path),
                    line=document.line_of([p for p in e["loc"] if isinstance(p, (str, int))]),
                    field=".".join(str(p) for p in e["loc"]),
                )
                for e in exc.errors()
            ]
        ) from exc
    known = registered()
    for index, framework in enumerate(campaign.frameworks):
        if framework.name not in known and framework.name != EVERY:
            raise CatalogError(
                f"unknown framework `{framework.name}`",
                file=str(path),
                line=document.line_of(["frameworks", index, "name"]),
                field=f"frameworks.{index}.name",
                hint=f"use one of: {', '.join(sorted(known))}, or {EVERY}",
            )
    folder = path.parent
    jobs: list[JobSpec] = []
    for index, item in enumerate(campaign.models):
        data = item.data
        if data.path is not None:
            data = data.model_copy(update={"path": str((folder / data.path).resolve())})
        model = model_ref(_model_file(item, folder, zoo, path, document.line_of(["models", index])))
        jobs += plan_jobs(
            [(model, data)],
            _frameworks(campaign.frameworks, model_format(Path(model.path)), placer),
            campaign.scenarios,
            campaign.stopping,
            campaign.timing,
            campaign.reference,
            campaign.timeout_s,
        )
    return campaign, list({job.key(): job for job in jobs}.values())


def _model_file(item: CampaignModel, folder: Path, zoo: ZooResolver | None, path: Path, line: int) -> Path:
    if item.path is not None:
        return folder / item.path
    if zoo is None:
        raise CatalogError("zoo models cannot be resolved here", file=str(path), line=line, field="zoo")
    return zoo(str(item.zoo), item.reduced)


def _frameworks(
    frameworks: list[CampaignFramework], fmt: str, placer: Placer | None
) -> list[tuple[str, dict[str, list[SettingValue]]]]:
    """The frameworks of one model, `all` expanded to the deployments available here for its format."""
    chosen: list[tuple[str, dict[str, list[SettingValue]]]] = []
    for framework in frameworks:
        if framework.name != EVERY:
            chosen.append((framework.name, framework.settings))
            continue
        placer = placer or Placer()
        every = [s.name for s in placer.placed_statuses(fmt) if s.available and s.deployment and fmt in s.input_formats]
        chosen += [(name, framework.settings) for name in every]
    return list({name: (name, grid) for name, grid in chosen}.values())
