"""The framework x target support matrix, derived from each framework's `targets`."""

from __future__ import annotations

from dataclasses import dataclass

from deploybench.catalog.catalog import Catalog


@dataclass(frozen=True)
class SupportMatrix:
    """Which framework deploys to which target: rows are targets, columns frameworks."""

    targets: tuple[str, ...]
    frameworks: tuple[str, ...]
    supported: frozenset[tuple[str, str]]

    def supports(self, framework: str, target: str) -> bool:
        """True when framework deploys to target."""
        return (framework, target) in self.supported

    def as_rows(self) -> list[dict[str, str]]:
        """One mapping per target: `target` then one `yes`/`` cell per framework."""
        return [
            {"target": t, **{f: "yes" if self.supports(f, t) else "" for f in self.frameworks}} for t in self.targets
        ]


def support_matrix(catalog: Catalog) -> SupportMatrix:
    """The matrix of every catalog framework against every catalog target."""
    pairs = {(f.name, t) for f in catalog.frameworks.values() for t in f.targets if t in catalog.targets}
    return SupportMatrix(
        targets=tuple(sorted(catalog.targets)),
        frameworks=tuple(sorted(catalog.frameworks)),
        supported=frozenset(pairs),
    )
