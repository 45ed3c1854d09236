"""Layer compliance: for a model and every framework of the catalog (and every runtime installed here), which
operators it takes and a verdict; for every target, the verdict its frameworks give; for every operator some
framework refuses, the frameworks that take it.

Each framework's answer comes from the best source there is: the introspection of its runtime where it is
installed (asked in worker processes, in the environment that hosts it), else the operator table shipped for
it, else nothing (an `unknown` verdict that says why).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deploybench.analyze.table_support import ModelNode, framework_label, model_nodes, table_support
from deploybench.catalog import Catalog, Framework, load_catalog
from deploybench.catalog.operator_tables import operator_tables
from deploybench.catalog.schemas.operator_table import OperatorTable
from deploybench.core.errors import ConfigurationError
from deploybench.core.records import OperatorSupport
from deploybench.worker.launcher import support_in_worker
from deploybench.worker.placement import Environment, Placer


class Verdict(str, Enum):
    """Whether a framework (or a target) can deploy the model."""

    DEPLOYABLE = "deployable"
    FALLBACK = "deployable with fallback"
    NOT_DEPLOYABLE = "not deployable"
    UNKNOWN = "unknown"


RANK = {Verdict.DEPLOYABLE: 0, Verdict.FALLBACK: 1, Verdict.UNKNOWN: 2, Verdict.NOT_DEPLOYABLE: 3}
"""Best first: a target is as good as the best of its frameworks (an unknown one may still take the model)."""


class FrameworkVerdict(BaseModel):
    """One framework's verdict, what it refuses, what falls back where, and what is left to check by hand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str = Field(description="Backend name, or catalog name (with the unit a table covers).")
    catalog: str | None = Field(description="The catalog framework it stands for; None for a runtime it lacks.")
    version: str | None
    source: str = Field(description="What was asked to reach the verdict.")
    verdict: Verdict
    unsupported: dict[str, str] = Field(description="Refused operators, each with the first reason given.")
    unsupported_nodes: int
    fallback: dict[str, str] = Field(default_factory=dict, description="Operators that fall back -> where to.")
    fallback_nodes: int = 0
    conditions: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Operators the framework takes on conditions not checked here."
    )
    checked_nodes: int
    model_issues: tuple[str, ...]
    targets: tuple[str, ...] = Field(default=(), description="Catalog targets of its catalog framework.")
    error: str | None = None


class TargetVerdict(BaseModel):
    """A target's verdict: the best of the frameworks the catalog says it supports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    verdict: Verdict
    via: tuple[str, ...] = Field(description="The frameworks that give that verdict.")
    frameworks: tuple[str, ...] = Field(description="Every catalog framework that deploys to the target.")


class Compliance(BaseModel):
    """Every framework's and target's verdict on one model, and who takes each operator someone refuses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    format: str
    frameworks: tuple[FrameworkVerdict, ...]
    targets: tuple[TargetVerdict, ...] = ()
    taken_by: dict[str, tuple[str, ...]] = Field(
        description="For every operator some framework refuses: the frameworks that take all its nodes."
    )


def check_compliance(
    model: Path,
    frameworks: Sequence[str] = (),
    targets: Sequence[str] = (),
    catalog: Catalog | None = None,
    placer: Placer | None = None,
) -> Compliance:
    """Every framework's verdict on the model (or only the named frameworks', or only those of the named
    targets), and each target's. Runtimes are asked in workers: none is loaded in this process."""
    catalog = catalog or load_catalog()
    placer = placer or Placer()
    wanted_targets = [catalog.find(name, ["targets"])[1].name for name in targets]
    fmt, nodes, opset = model_nodes(model)
    rows = _introspected(model, fmt, placer, catalog, _asked(frameworks, wanted_targets, catalog))
    rows += [_table_row(support, table, catalog) for table, support in _tabled(fmt, nodes, opset, catalog)]
    covered = {row.catalog for row in rows}
    rows += [_uncovered(f, fmt, placer) for f in catalog.frameworks.values() if f.name not in covered]
    return assemble(str(model), fmt, rows, catalog, frameworks, wanted_targets)


def assemble(
    model: str,
    fmt: str,
    rows: list[FrameworkVerdict],
    catalog: Catalog,
    frameworks: Sequence[str] = (),
    targets: Sequence[str] = (),
) -> Compliance:
    """The report from every framework's verdict: the rows the filters keep, each target's verdict (every
    target's, or the named ones'), and who takes each operator someone refuses."""
    rows = _chosen(rows, frameworks, targets, catalog)
    return Compliance(
        model=model,
        format=fmt,
        frameworks=tuple(sorted(rows, key=lambda r: (r.catalog is None, r.catalog or "", r.framework))),
        targets=tuple(target_verdict(name, rows, catalog) for name in (targets or sorted(catalog.targets)))
        if (targets or not frameworks)
        else (),
        taken_by=taken_by(rows),
    )


def _asked(frameworks: Sequence[str], targets: Sequence[str], catalog: Catalog) -> Callable[[str], bool]:
    """Whether a backend's runtime is worth asking, given the filters (asking loads it in a worker)."""
    owner = {backend: f for f in catalog.frameworks.values() for backend in f.backends}

    def wanted(backend: str) -> bool:
        framework = owner.get(backend)
        if frameworks:
            return backend in frameworks or (framework is not None and any(framework.matches(n) for n in frameworks))
        if targets:
            return framework is not None and bool(set(framework.targets) & set(targets))
        return True

    return wanted


def _introspected(
    model: Path, fmt: str, placer: Placer, catalog: Catalog, wanted: Callable[[str], bool]
) -> list[FrameworkVerdict]:
    """What each runtime installed here says, asked where it runs: the main environment or its toolchain."""
    by_environment: dict[Environment, list[str]] = defaultdict(list)
    for _where, status in placer.every_status():
        if not wanted(status.name):
            continue
        environment, _placed = placer.place(status.name, fmt)
        if environment is not None and status.name not in by_environment[environment]:
            by_environment[environment].append(status.name)
    supports: list[OperatorSupport] = []
    for environment, names in by_environment.items():
        supports += support_in_worker(model, environment.python, environment.worker_env(), only=names)
    owner = {backend: f for f in catalog.frameworks.values() for backend in f.backends}
    return [verdict_of(s, owner.get(s.framework)) for s in supports]


def _tabled(
    fmt: str, nodes: list[ModelNode], opset: int | None, catalog: Catalog
) -> list[tuple[OperatorTable, OperatorSupport]]:
    """The support each shipped table gives; a framework with tables in other formats only gets one row."""
    tables = [t for t in operator_tables() if t.framework in catalog.frameworks]
    matching = [t for t in tables if t.format == fmt]
    others = {
        t.framework: t for t in tables if t.format != fmt and not any(m.framework == t.framework for m in matching)
    }
    return [(t, table_support(t, fmt, nodes, opset)) for t in [*matching, *others.values()]]


def _table_row(support: OperatorSupport, table: OperatorTable, catalog: Catalog) -> FrameworkVerdict:
    row = verdict_of(support, catalog.frameworks[table.framework])
    return row if table.unit or row.error is None else row.model_copy(update={"framework": framework_label(table)})


def _uncovered(framework: Framework, fmt: str, placer: Placer) -> FrameworkVerdict:
    """A catalog framework neither installed here nor described by a table: unknown, and why."""
    reasons = []
    for backend in framework.backends:
        _environment, status = placer.place(backend, fmt)
        if not status.available:
            reasons.append(f"its runtime ({backend}) cannot check it here: {status.reason}")
        elif fmt not in status.input_formats:
            reasons.append(f"its runtime ({backend}) takes {', '.join(status.input_formats)} models, not {fmt}")
        else:
            reasons.append(f"its runtime ({backend}) cannot say which operators it takes")
    if not reasons:
        reasons.append("no operator table ships for it and no runtime of it is installed here")
    return FrameworkVerdict(
        framework=framework.name,
        catalog=framework.name,
        version=None,
        source="",
        verdict=Verdict.UNKNOWN,
        unsupported={},
        unsupported_nodes=0,
        checked_nodes=0,
        model_issues=(),
        targets=framework.targets,
        error="; ".join(reasons),
    )


def verdict_of(support: OperatorSupport, framework: Framework | None) -> FrameworkVerdict:
    """The verdict of one framework's answer: unknown when the check failed; not deployable when a node is
    refused with nowhere to fall back to, or the model as a whole is; with fallback when some nodes run on
    another unit; else deployable."""
    refused = [n for n in support.nodes if not n.supported and n.fallback is None]
    falling = [n for n in support.nodes if not n.supported and n.fallback is not None]
    unsupported: dict[str, str] = {}
    for node in refused:
        unsupported.setdefault(node.op_type, node.reason or "refused")
    fallback: dict[str, str] = {}
    for node in falling:
        fallback.setdefault(node.op_type, f"{node.reason or 'refused'}: runs on {node.fallback}")
    conditions: dict[str, tuple[str, ...]] = {}
    for node in support.nodes:
        if node.conditions:
            conditions.setdefault(node.op_type, node.conditions)
    if support.error is not None:
        verdict = Verdict.UNKNOWN
    elif refused or support.model_issues:
        verdict = Verdict.NOT_DEPLOYABLE
    elif falling:
        verdict = Verdict.FALLBACK
    else:
        verdict = Verdict.DEPLOYABLE
    return FrameworkVerdict(
        framework=support.framework,
        catalog=framework.name if framework else None,
        version=support.version,
        source=support.source,
        verdict=verdict,
        unsupported=unsupported,
        unsupported_nodes=len(refused),
        fallback=fallback,
        fallback_nodes=len(falling),
        conditions=conditions,
        checked_nodes=len(support.nodes),
        model_issues=support.model_issues,
        targets=framework.targets if framework else (),
        error=support.error,
    )


def _chosen(
    rows: list[FrameworkVerdict], frameworks: Sequence[str], targets: Sequence[str], catalog: Catalog
) -> list[FrameworkVerdict]:
    """The rows named by the filters: frameworks by row, backend or catalog name (or alias); targets keep the
    frameworks that deploy to them. An unknown name is an error listing the known ones."""
    if frameworks:
        chosen = []
        for name in frameworks:
            hits = [r for r in rows if name in (r.framework, r.catalog) or _alias(catalog, r.catalog, name)]
            if not hits:
                known = ", ".join(sorted({r.framework for r in rows} | {r.catalog for r in rows if r.catalog}))
                raise ConfigurationError(f"--frameworks: no framework is named `{name}`", hint=f"use one of {known}")
            chosen += [r for r in hits if r not in chosen]
        return chosen
    if targets:
        return [r for r in rows if set(r.targets) & set(targets)]
    return rows


def _alias(catalog: Catalog, framework: str | None, name: str) -> bool:
    return framework is not None and catalog.frameworks[framework].matches(name)


def target_verdict(name: str, rows: list[FrameworkVerdict], catalog: Catalog) -> TargetVerdict:
    """The target's verdict: the best of its catalog frameworks' (unknown when none was checked)."""
    frameworks = tuple(sorted(f.name for f in catalog.frameworks.values() if name in f.targets))
    candidates = [r for r in rows if r.catalog in frameworks]
    if not candidates:
        return TargetVerdict(target=name, verdict=Verdict.UNKNOWN, via=(), frameworks=frameworks)
    best = min(RANK[r.verdict] for r in candidates)
    verdict = next(v for v, rank in RANK.items() if rank == best)
    via = tuple(r.framework for r in candidates if r.verdict is verdict)
    return TargetVerdict(target=name, verdict=verdict, via=via, frameworks=frameworks)


def taken_by(rows: list[FrameworkVerdict]) -> dict[str, tuple[str, ...]]:
    """For each operator a framework refuses or sends elsewhere: the frameworks that take every node of it."""
    refused = sorted({op for r in rows for op in [*r.unsupported, *r.fallback]})
    return {
        op: tuple(
            r.framework
            for r in rows
            if r.error is None and r.checked_nodes and op not in r.unsupported and op not in r.fallback
        )
        for op in refused
    }


def verdict_matrix(reports: Sequence[Compliance]) -> tuple[list[str], list[str], dict[tuple[str, str], Verdict]]:
    """The compact model x framework and model x target verdicts: the frameworks, the targets, and each
    (model, framework or target) cell."""
    frameworks = list(dict.fromkeys(v.framework for r in reports for v in r.frameworks))
    targets = list(dict.fromkeys(t.target for r in reports for t in r.targets))
    cells = {(r.model, v.framework): v.verdict for r in reports for v in r.frameworks}
    cells |= {(r.model, t.target): t.verdict for r in reports for t in r.targets}
    return frameworks, targets, cells
