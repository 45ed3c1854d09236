"""The selection report: one self-contained HTML page (tables, the support matrix, the Pareto front, the
roofline, predicted against measured, provenance) a reviewer opens offline, and the same data as JSON."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploybench import __version__
from deploybench.analyze.records import Anatomy
from deploybench.catalog.schemas import Target
from deploybench.core.errors import ConfigurationError
from deploybench.report.plotting import pyplot
from deploybench.select.compliance import Compliance
from deploybench.select.hardware import Hardware, Missing, hardware_for
from deploybench.select.recommend import Candidate, Selection
from deploybench.select.validate import Check, Summary

STYLE = "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"


def _save(figure: Any, path: Path | None) -> bytes:
    """The figure written to path (PNG or SVG by its suffix); and as SVG bytes, for the report to hold inline."""
    plt = pyplot()
    buffer = io.BytesIO()
    if path is not None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in ("png", "svg"):
            plt.close(figure)
            raise ConfigurationError(f"{path}: a plot is written as .png or .svg", hint="change the file's suffix")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format=suffix, dpi=120)
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return buffer.getvalue()


def plot_front(selection: Selection, path: Path | None = None) -> bytes:
    """Latency against energy (else memory) of every ranked combination, the Pareto front joined."""
    plt = pyplot()
    with_energy = [i for i in selection.ranked if i.latency.value is not None and i.energy.value is not None]
    second, label = ("energy", "energy per inference, mJ (estimate)") if with_energy else ("memory", "memory, MB")
    points = [
        (index, item)
        for index, item in enumerate(selection.ranked)
        if item.latency.value is not None and getattr(item, second).value is not None
    ]
    figure, axes = plt.subplots(figsize=(8, 5))
    for index, item in points:
        on_front = index in selection.front
        axes.scatter(item.latency.value, getattr(item, second).value, c="C1" if on_front else "C0", alpha=0.8)
        axes.annotate(
            f"{item.target} {item.framework} {item.precision}",
            (item.latency.value, getattr(item, second).value),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    front = sorted((item for index, item in points if index in selection.front), key=lambda i: i.latency.value or 0)
    axes.plot([i.latency.value for i in front], [getattr(i, second).value for i in front], c="C1", lw=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("latency of one inference, ms (predicted or measured)")
    axes.set_ylabel(label)
    axes.set_title(f"{Path(selection.model).name}: Pareto front in orange")
    return _save(figure, path)


def plot_validation(checks: Sequence[Check], path: Path | None = None) -> bytes:
    """Predicted against measured latency, one colour per performance model, with the +/-10 % band."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 6))
    models = sorted({c.performance_model for c in checks})
    for index, name in enumerate(models):
        mine = [c for c in checks if c.performance_model == name]
        axes.scatter([c.measured_ms for c in mine], [c.predicted_ms for c in mine], s=14, c=f"C{index}", label=name)
    values = [v for c in checks for v in (c.measured_ms, c.predicted_ms) if v > 0] or [1.0]
    low, high = min(values) / 1.5, max(values) * 1.5
    axes.plot([low, high], [low, high], c="grey", lw=0.8)
    axes.fill_between([low, high], [low * 0.9, high * 0.9], [low * 1.1, high * 1.1], color="grey", alpha=0.15)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("measured latency, ms")
    axes.set_ylabel("predicted latency (model left out of the fit), ms")
    axes.set_title("predicted against measured; band: +/-10 %")
    if models:
        axes.legend(fontsize=8)
    return _save(figure, path)


def plot_roofline(anatomy: Anatomy, targets: Sequence[Target], path: Path | None = None) -> bytes:
    """The FP32 roofline of every target with a peak and a bandwidth, and the model's operator classes at
    their arithmetic intensity."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    rooflines = [h for t in targets if isinstance(h := hardware_for(t, (), "fp32"), Hardware)]
    intensities = [c.intensity for c in anatomy.classes if c.intensity]
    low, high = min([*intensities, 0.1]) / 2, max([*intensities, 100.0]) * 2
    for index, hardware in enumerate(rooflines):
        ridge = hardware.peak_ops_per_s / hardware.bandwidth_bytes_per_s
        xs = [low, min(max(ridge, low), high), high]
        ys = [min(x * hardware.bandwidth_bytes_per_s, hardware.peak_ops_per_s) / 1e9 for x in xs]
        axes.plot(xs, ys, c=f"C{index % 10}", lw=1, label=hardware.target)
    for totals in anatomy.classes:
        if totals.intensity:
            axes.axvline(totals.intensity, c="grey", lw=0.5, ls=":")
            axes.annotate(totals.op_class.value, (totals.intensity, 1), fontsize=7, rotation=90)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("arithmetic intensity, FLOP/byte")
    axes.set_ylabel("attainable GFLOP/s")
    axes.set_title(f"rooflines of the targets with figures; dotted: {Path(anatomy.path).name}'s operator classes")
    if rooflines:
        axes.legend(fontsize=7)
    return _save(figure, path)


SUMMARY_COLUMNS = [
    "model",
    "framework",
    "target",
    "n",
    "models",
    "within 10 %",
    "within 20 %",
    "median APE",
    "80 % coverage",
]


def summary_row(summary: Summary) -> dict[str, str]:
    """One performance model's accuracy on one framework and target, as table cells."""
    return {
        "model": summary.performance_model,
        "framework": summary.framework,
        "target": summary.target,
        "n": str(summary.predictions),
        "models": str(summary.models),
        "within 10 %": f"{summary.within_10:.0%}",
        "within 20 %": f"{summary.within_20:.0%}",
        "median APE": f"{summary.median_ape:.1%}",
        "80 % coverage": "n/a" if summary.coverage is None else f"{summary.coverage:.0%}",
    }


def _table(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(svg: bytes, alt: str) -> str:
    """A plot inline in the page, as SVG (vector, no external file)."""
    text = svg.decode("utf-8")
    return f"<figure aria-label='{html.escape(alt)}'>{text[text.index('<svg') :]}</figure>"


def _candidate_row(item: Candidate) -> dict[str, str]:
    return {
        "target": item.target,
        "framework": item.framework + (f" x{item.threads}" if item.threads else ""),
        "precision": item.precision,
        "latency": item.latency.text(),
        "by": item.latency.model,
        "memory": item.memory.text(),
        "fits": item.memory_fit,
        "energy": item.energy.text(),
        "compliance": item.compliance.value,
        "why excluded": "; ".join(item.excluded),
    }


def missing_figures(targets: Sequence[Target]) -> list[dict[str, str]]:
    """For each target, the figure the FP32 roofline lacks (the data that would improve the answer)."""
    rows = []
    for target in targets:
        found = hardware_for(target, (), "fp32")
        rows.append(
            {
                "target": target.name,
                "roofline": "complete"
                if isinstance(found, Hardware)
                else f"missing {found.figure}"
                if isinstance(found, Missing)
                else "",
            }
        )
    return rows


def html_document(
    selection: Selection,
    anatomy: Anatomy,
    compliance: Compliance | None,
    targets: Sequence[Target],
    summaries: Sequence[Summary],
    checks: Sequence[Check],
) -> str:
    """The whole report as one HTML page with its plots inline as SVG (no script, no external resource)."""
    title = f"Selection report: {Path(selection.model).name}"
    body = [f"<h1>{html.escape(title)}</h1>"]
    body.append(
        f"<p>deploybench {__version__}; objective: minimize {selection.objective.value}; constraints: "
        f"{html.escape('; '.join(selection.constraints) or 'none')}; performance models: "
        f"{html.escape(', '.join(selection.performance_models))}. Intervals are 80 %; `>=` marks a roofline bound "
        "(no efficiency known); energy is predicted time times the board's power range, an estimate.</p>"
    )
    columns = ["target", "framework", "precision", "latency", "by", "memory", "fits", "energy", "compliance"]
    body.append("<h2>Ranked combinations</h2>" + _table(columns, [_candidate_row(i) for i in selection.ranked]))
    if selection.ranked:
        body.append("<h2>Pareto front</h2>" + _image(plot_front(selection), "Pareto front"))
    body.append("<h2>Roofline</h2>" + _image(plot_roofline(anatomy, targets), "rooflines"))
    if compliance is not None:
        body.append(
            "<h2>Support matrix: frameworks</h2>"
            + _table(
                ["framework", "verdict", "refused operators"],
                [
                    {
                        "framework": f.framework,
                        "verdict": f.verdict.value,
                        "refused operators": ", ".join(f.unsupported),
                    }
                    for f in compliance.frameworks
                ],
            )
        )
        body.append(
            "<h2>Support matrix: targets</h2>"
            + _table(
                ["target", "verdict", "via"],
                [{"target": t.target, "verdict": t.verdict.value, "via": ", ".join(t.via)} for t in compliance.targets],
            )
        )
    if summaries:
        body.append("<h2>Cross-check: predicted against measured (leave one model out)</h2>")
        body.append(_table(SUMMARY_COLUMNS, [summary_row(s) for s in summaries]))
        body.append(_image(plot_validation(checks), "predicted against measured"))
    body.append(
        "<h2>Excluded combinations</h2>"
        + _table([*columns, "why excluded"], [_candidate_row(i) for i in selection.excluded])
    )
    body.append(
        "<h2>Catalog figures the roofline lacks</h2>" + _table(["target", "roofline"], missing_figures(targets))
    )
    body.append("<h2>Provenance of each figure</h2>")
    body.append(
        _table(
            ["target", "framework", "precision", "estimate", "inputs"],
            [
                {
                    "target": i.target,
                    "framework": i.framework,
                    "precision": i.precision,
                    "estimate": f"{e.model}: {e.text()}",
                    "inputs": "; ".join(f"{k}: {v}" for k, v in e.inputs.items()) or (e.reason or ""),
                }
                for i in selection.ranked
                for e in i.estimates
            ],
        )
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def json_document(selection: Selection, summaries: Sequence[Summary], checks: Sequence[Check]) -> str:
    """The report's data as JSON."""
    return json.dumps(
        {
            "deploybench_version": __version__,
            "selection": selection.model_dump(mode="json"),
            "validation": {
                "summaries": [s.model_dump(mode="json") for s in summaries],
                "checks": [c.model_dump(mode="json") for c in checks],
            },
        },
        indent=2,
    )
