"""Campaign files: YAML crossing models x frameworks x settings x scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from deploybench.backends.registry import registered
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.catalog import load_catalog
from deploybench.catalog.yaml_io import read_yaml
from deploybench.core.errors import CatalogError, CatalogErrors
from deploybench.core.formats import model_format
from deploybench.core.records import InputData, JobSpec, Scenario, SettingValue, StoppingRule, Timing
from deploybench.worker.placement import Placer

EVERY = "all"
LOCAL = "local"

Every = Callable[[str, str], list[tuple[str, tuple[str, ...] | None]]]
"""For a target and a model format, the frameworks `all` stands for there, each with the settings it takes
(None when unknown: it gets the whole grid)."""

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
    targets: list[str] = Field(
        default_factory=lambda: [LOCAL],
        min_length=1,
        description=f"Catalog targets to measure on (`{LOCAL}`: this machine); a remote one goes through the lab.",
    )


def load_campaign(
    path: Path, zoo: ZooResolver | None = None, placer: Placer | None = None, every: Every | None = None
) -> tuple[CampaignFile, dict[str, list[JobSpec]]]:
    """Read and check a campaign file, then expand it into jobs for each of its targets; errors name the file,
    line and field. `all` frameworks are those `every` gives for the target and the model's format (by default
    those available here, main environment or toolchain, for every target)."""
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
    catalog = load_catalog()
    for index, target in enumerate(campaign.targets):
        if target != LOCAL and target not in catalog.targets:
            raise CatalogError(
                f"unknown target `{target}`",
                file=str(path),
                line=document.line_of(["targets", index]),
                field=f"targets.{index}",
                hint=f"use `{LOCAL}` or a target of `deploybench catalog targets`",
            )
    if every is None:
        local = placer or Placer()
        every = lambda _target, fmt: available_here(local, fmt)  # noqa: E731
    folder = path.parent
    models = []
    for index, item in enumerate(campaign.models):
        data = item.data
        if data.path is not None:
            data = data.model_copy(update={"path": str((folder / data.path).resolve())})
        models.append((model_ref(_model_file(item, folder, zoo, path, document.line_of(["models", index]))), data))
    plans: dict[str, list[JobSpec]] = {}
    for target in dict.fromkeys(campaign.targets):
        jobs: list[JobSpec] = []
        for model, data in models:
            fmt = model_format(Path(model.path))
            jobs += plan_jobs(
                [(model, data)],
                _frameworks(campaign.frameworks, every(target, fmt) if _uses_every(campaign) else []),
                campaign.scenarios,
                campaign.stopping,
                campaign.timing,
                campaign.reference,
                campaign.timeout_s,
            )
        plans[target] = list({job.key(): job for job in jobs}.values())
    return campaign, plans


def available_here(placer: Placer, fmt: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """The deployments available on this machine for a model of that format, with the settings each takes
    (frameworks made for one kind of model only are left out: a campaign names them)."""
    statuses = placer.placed_statuses(fmt)
    return [
        (s.name, tuple(s.settings))
        for s in statuses
        if s.available and s.deployment and not s.only and fmt in s.input_formats
    ]


def _model_file(item: CampaignModel, folder: Path, zoo: ZooResolver | None, path: Path, line: int) -> Path:
    if item.path is not None:
        return folder / item.path
    if zoo is None:
        raise CatalogError("zoo models cannot be resolved here", file=str(path), line=line, field="zoo")
    return zoo(str(item.zoo), item.reduced)


def _uses_every(campaign: CampaignFile) -> bool:
    """Whether the campaign names `all` among its frameworks (asking what that means can cost a probe)."""
    return any(framework.name == EVERY for framework in campaign.frameworks)


def _frameworks(
    frameworks: list[CampaignFramework], every: list[tuple[str, tuple[str, ...] | None]]
) -> list[tuple[str, dict[str, list[SettingValue]]]]:
    """The frameworks of one model on one target, `all` expanded to `every`, each of those given only the
    settings of the grid it takes (like `run --framework all`)."""
    chosen: list[tuple[str, dict[str, list[SettingValue]]]] = []
    for framework in frameworks:
        if framework.name != EVERY:
            chosen.append((framework.name, framework.settings))
            continue
        for name, takes in every:
            grid = {k: v for k, v in framework.settings.items() if takes is None or k in takes}
            chosen.append((name, grid))
    return list({name: (name, grid) for name, grid in chosen}.values())
