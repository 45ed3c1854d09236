"""`deploybench predict fit|validate`: fit the performance models on the stored results; check them against
every measurement with the measured model left out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from deploybench.catalog import load_catalog
from deploybench.catalog.local import detect_local_machine
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.cli.values import Database
from deploybench.core.errors import NotFoundError
from deploybench.report.selection import SUMMARY_COLUMNS, plot_validation, summary_row
from deploybench.select.fit import fit, framework_units, observations_from, stored_peaks
from deploybench.select.published import load_published
from deploybench.select.targets import known_targets
from deploybench.select.validate import validate
from deploybench.store import ResultStore
from deploybench.zoo.anatomies import zoo_anatomies

predict_app = typer.Typer(
    help="Performance models: fit them on the stored results, and check them.", no_args_is_help=True
)


@predict_app.command("fit")
def fit_command(db: Database = None) -> None:
    """Measure this machine's peaks, then fit the calibrated predictors and the roofline efficiencies on every
    stored measurement (and the published figures); they are kept in the results store."""
    catalog = load_catalog()
    with ResultStore.open(db) as store:
        anatomies = zoo_anatomies((f.model for f in load_published()), store)
        report = fit(store, catalog, detect_local_machine(), anatomies)
    note(
        f"peaks of this machine: {report.peaks.fp32_gflops_per_thread:.1f} GFLOP/s per thread, "
        f"{report.peaks.bandwidth_gbps:.1f} GB/s ({report.peaks.method})"
    )
    note(f"{len(report.observations)} measurements used, {len(report.skipped)} results left out")
    print_table(
        "Calibrated fits",
        ["fit", "models", "80 % band of measured/predicted"],
        [
            {
                "fit": key,
                "models": str(len(f.models)),
                "80 % band of measured/predicted": f"{math.exp(f.log_band[0]):.3f} - {math.exp(f.log_band[1]):.3f}",
            }
            for key, f in report.calibrated.items()
        ]
        + [{"fit": key, "models": why} for key, why in report.calibrated_missing.items()],
    )
    print_table(
        "Roofline efficiencies",
        ["framework", "unit", "class", "efficiency", "source"],
        [
            {
                "framework": e.framework,
                "unit": e.unit.value,
                "class": e.op_class.value,
                "efficiency": f"{e.efficiency:.3g}",
                "source": e.source,
            }
            for e in report.efficiencies
        ]
        + [{"framework": key, "source": why} for key, why in report.efficiencies_missing.items()],
    )
    for reason in report.published_skipped:
        note(f"published figure left out: {reason}")


@predict_app.command("validate")
def validate_command(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    checks: Annotated[bool, typer.Option(help="Also list every prediction against its measurement.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Draw predicted against measured to this PNG or SVG.")] = None,
    db: Database = None,
) -> None:
    """Every stored (and published) measurement against each performance model's prediction, the measured model
    left out of every fit: per framework and target, the share within +/-10 % and +/-20 %, the median absolute
    percentage error, and the coverage of the 80 % interval."""
    catalog = load_catalog()
    machine = detect_local_machine()
    with ResultStore.open(db) as store:
        peaks = stored_peaks(store, machine)
        if peaks is None:
            raise NotFoundError("no fit on this machine yet", hint="run `deploybench predict fit` first")
        anatomies = zoo_anatomies((f.model for f in load_published()), store)
        targets = known_targets(catalog, machine, peaks)
        observations, _, _ = observations_from(store, targets, anatomies)
    if not observations:
        raise NotFoundError("no usable measurement in the store", hint="measure some models first (deploybench run)")
    found, summaries = validate(observations, targets, framework_units(catalog))
    if fmt is Format.JSON:
        print_text(
            json.dumps(
                {
                    "summaries": [s.model_dump(mode="json") for s in summaries],
                    "checks": [c.model_dump(mode="json") for c in found] if checks else [],
                },
                indent=2,
            )
        )
    else:
        print_table("Leave-one-model-out validation", SUMMARY_COLUMNS, [summary_row(s) for s in summaries])
        if checks:
            print_table(
                "Predictions",
                ["model", "performance model", "framework", "target", "measured ms", "predicted ms", "interval"],
                [
                    {
                        "model": c.model,
                        "performance model": c.performance_model,
                        "framework": c.framework,
                        "target": c.target,
                        "measured ms": f"{c.measured_ms:.4g}",
                        "predicted ms": f"{c.predicted_ms:.4g}",
                        "interval": "" if c.low_ms is None else f"[{c.low_ms:.4g}, {c.high_ms:.4g}]",
                    }
                    for c in found
                ],
            )
    if plot is not None:
        plot_validation(found, plot)
        note(f"wrote {plot}")
