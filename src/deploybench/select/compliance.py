"""Layer compliance: for a model and every framework that can introspect itself here, which operators it takes
and a verdict, with, for every operator some framework refuses, the frameworks that take it."""

from __future__ import annotations

from collections import defaultdict
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deploybench.core.records import OperatorSupport
from deploybench.worker.launcher import support_in_worker


class Verdict(str, Enum):
    """Whether a framework can deploy the model."""

    DEPLOYABLE = "deployable"
    NOT_DEPLOYABLE = "not deployable"
    UNKNOWN = "unknown"


class FrameworkVerdict(BaseModel):
    """One framework's verdict and what it refuses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str
    version: str | None
    source: str = Field(description="What was asked to reach the verdict.")
    verdict: Verdict
    unsupported: dict[str, str] = Field(description="Refused operators, each with the first reason given.")
    unsupported_nodes: int
    checked_nodes: int
    model_issues: tuple[str, ...]
    error: str | None = None


class Compliance(BaseModel):
    """Every framework's verdict on one model, and who takes each operator someone refuses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    frameworks: tuple[FrameworkVerdict, ...]
    taken_by: dict[str, tuple[str, ...]] = Field(
        description="For every operator some framework refuses: the frameworks that take all its nodes."
    )


def check_compliance(model: Path) -> Compliance:
    """Ask every framework installed here that can introspect itself (in a worker: no runtime in this process)."""
    return compliance_of(str(model), support_in_worker(model))


def compliance_of(model: str, supports: list[OperatorSupport]) -> Compliance:
    """Verdicts from the frameworks' answers."""
    verdicts = tuple(_verdict(support) for support in supports)
    refused = sorted({op for v in verdicts for op in v.unsupported})
    takes: dict[str, list[str]] = defaultdict(list)
    for support in supports:
        if support.error is not None:
            continue
        ops = {n.op_type for n in support.nodes}
        for op in refused:
            if op in ops and all(n.supported for n in support.nodes if n.op_type == op):
                takes[op].append(support.framework)
    return Compliance(model=model, frameworks=verdicts, taken_by={op: tuple(takes[op]) for op in refused})


def _verdict(support: OperatorSupport) -> FrameworkVerdict:
    refused = [n for n in support.nodes if not n.supported]
    unsupported: dict[str, str] = {}
    for node in refused:
        unsupported.setdefault(node.op_type, node.reason or "refused")
    if support.error is not None:
        verdict = Verdict.UNKNOWN
    elif refused or support.model_issues:
        verdict = Verdict.NOT_DEPLOYABLE
    else:
        verdict = Verdict.DEPLOYABLE
    return FrameworkVerdict(
        framework=support.framework,
        version=support.version,
        source=support.source,
        verdict=verdict,
        unsupported=unsupported,
        unsupported_nodes=len(refused),
        checked_nodes=len(support.nodes),
        model_issues=support.model_issues,
        error=support.error,
    )
