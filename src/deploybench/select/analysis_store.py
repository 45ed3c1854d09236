"""Keep what `analyze` and `compliance` found in the results database, found again by the model's hash, so
that the selection tool reads a model's anatomy and verdicts without redoing them."""

from __future__ import annotations

from pathlib import Path

from deploybench import __version__
from deploybench.analyze.records import Anatomy
from deploybench.core.hashing import file_sha256
from deploybench.select.compliance import Compliance
from deploybench.store import ResultStore


def save_analysis(report: Anatomy | Compliance, model: Path, store: ResultStore) -> int:
    """Store one anatomy or compliance report of the model; its id in the store."""
    kind = "anatomy" if isinstance(report, Anatomy) else "compliance"
    return store.save_analysis(kind, file_sha256(model), str(model), __version__, report.model_dump_json())


def latest_anatomy(model: Path, store: ResultStore) -> Anatomy | None:
    """The newest stored anatomy of the model (by content), or None."""
    found = store.latest_analysis("anatomy", file_sha256(model))
    return None if found is None else Anatomy.model_validate_json(found)


def latest_compliance(model: Path, store: ResultStore) -> Compliance | None:
    """The newest stored compliance report of the model (by content), or None."""
    found = store.latest_analysis("compliance", file_sha256(model))
    return None if found is None else Compliance.model_validate_json(found)
