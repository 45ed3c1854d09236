"""Campaign files: YAML crossing models x frameworks x settings x scenarios."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploybench.backends.registry import registered
from deploybench.campaign.plan import model_ref, plan_jobs
from deploybench.catalog.yaml_io import read_yaml
from deploybench.core.errors import CatalogError, CatalogErrors
from deploybench.core.records import InputData, JobSpec, Scenario, SettingValue, StoppingRule, Timing


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampaignModel(_Strict):
    """One model of a campaign, with its input data."""

    path: Path = Field(description="Model file, relative to the campaign file.")
    data: InputData = Field(default_factory=InputData, description="Inputs; an npz path is relative to the file.")


class CampaignFramework(_Strict):
    """One framework and the grid of its settings (each value list is crossed with the others)."""

    name: str = Field(description="Registered backend name.")
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


def load_campaign(path: Path) -> tuple[CampaignFile, list[JobSpec]]:
    """Read and check a campaign file, then expand it into jobs; errors name the file, line and field."""
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
        if framework.name not in known:
            raise CatalogError(
                f"unknown framework `{framework.name}`",
                file=str(path),
                line=document.line_of(["frameworks", index, "name"]),
                field=f"frameworks.{index}.name",
                hint=f"use one of: {', '.join(sorted(known))}",
            )
    folder = path.parent
    models = []
    for item in campaign.models:
        data = item.data
        if data.path is not None:
            data = data.model_copy(update={"path": str((folder / data.path).resolve())})
        models.append((model_ref(folder / item.path), data))
    jobs = plan_jobs(
        models,
        [(f.name, f.settings) for f in campaign.frameworks],
        campaign.scenarios,
        campaign.stopping,
        campaign.timing,
        campaign.reference,
        campaign.timeout_s,
    )
    return campaign, jobs
