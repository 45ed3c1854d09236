"""The anatomies of zoo models by name, for figures that name a zoo model (published latencies): the stored
analysis of the built ONNX file, else its analysis now (stored). Models not built yet are left out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from deploybench import __version__
from deploybench.analyze.anatomy import analyze_model
from deploybench.analyze.records import Anatomy
from deploybench.core.errors import DeploybenchError
from deploybench.store import ResultStore
from deploybench.zoo.build import build_model
from deploybench.zoo.recipe import recipes


def zoo_anatomies(names: Iterable[str], store: ResultStore) -> dict[str, Anatomy]:
    """The anatomy of each named zoo model that builds (from the cache when built before)."""
    known = recipes()
    found: dict[str, Anatomy] = {}
    for name in dict.fromkeys(names):
        if name not in known:
            continue
        try:
            artifact = build_model(name, "onnx", echo=lambda _: None)
        except DeploybenchError:
            continue
        stored = store.latest_analysis("anatomy", artifact.sha256)
        if stored is not None:
            found[name] = Anatomy.model_validate_json(stored)
            continue
        anatomy = analyze_model(Path(artifact.path), {})
        store.save_analysis("anatomy", artifact.sha256, artifact.path, __version__, anatomy.model_dump_json())
        found[name] = anatomy
    return found
