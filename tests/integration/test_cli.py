"""The `deploybench catalog` commands, run as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import Run

from deploybench.catalog import Catalog

MakeCatalog = Callable[[dict[str, str]], Path]


def test_targets_as_json_hold_full_records(cli: Run, builtin: Catalog) -> None:
    status, out, _ = cli("catalog", "targets", "--no-local", "--format", "json")
    assert status == 0
    records = json.loads(out)
    assert [r["name"] for r in records] == sorted(builtin.targets)
    assert all("som" in r and "sources" in r for r in records)


def test_targets_filter_and_sort_as_csv(cli: Run, builtin: Catalog) -> None:
    status, out, err = cli(
        "catalog", "targets", "--no-local", "--where", "power_w<=10", "--sort=-price_usd", "--format", "csv"
    )
    assert status == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert table, "some catalog targets draw at most 10 W"
    for row in table:
        low, _, high = row["power_w"].partition("-")
        assert float(high or low) <= 10
    prices = [float(r["price_usd"].split("-")[0]) for r in table if r["price_usd"]]
    assert prices == sorted(prices, reverse=True)
    unknown = sum(1 for t in builtin.targets.values() if t.som.power_w is None)
    assert f"{unknown} targets left out: `power_w` unknown" in err


def test_table_format_shows_chosen_columns(cli: Run) -> None:
    status, out, _ = cli("catalog", "frameworks", "--columns", "name,provider", "--where", "provider=NVIDIA")
    assert status == 0
    assert "tensorrt" in out and "NVIDIA" in out
    assert "openvino" not in out


def test_models_default_to_priority_order(cli: Run, builtin: Catalog) -> None:
    status, out, _ = cli("catalog", "models", "--format", "csv", "--columns", "priority,name")
    assert status == 0
    priorities = [int(r["priority"]) for r in csv.DictReader(io.StringIO(out))]
    assert priorities == sorted(priorities) and len(priorities) == len(builtin.models)


def test_targets_include_the_local_machine_by_default(cli: Run) -> None:
    status, out, _ = cli("catalog", "targets", "--where", "name=local", "--format", "json")
    assert status == 0
    (record,) = json.loads(out)
    assert record["processing_units"][0]["kind"] == "CPU"
    assert len(record["fingerprint"]) == 64


def test_show_lists_each_figure_with_its_source(cli: Run) -> None:
    status, out, _ = cli("catalog", "show", "PI4")
    assert status == 0
    assert "raspberry-pi-4" in out
    assert "som.price_usd" in out and "100-200" in out and "definition" in out
    assert "definition row:" in out


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_show_machine_readable(cli: Run, fmt: str) -> None:
    status, out, _ = cli("catalog", "show", "mobilenetv2", "--format", fmt)
    assert status == 0
    assert "MobileNetV2" in out


def test_show_local(cli: Run) -> None:
    status, out, _ = cli("catalog", "show", "local")
    assert status == 0
    assert "detected" in out


def test_local_command_json(cli: Run) -> None:
    status, out, _ = cli("catalog", "local", "--format", "json")
    assert status == 0
    facts = json.loads(out)
    assert facts["logical_cpus"] >= 1 and len(facts["fingerprint"]) == 64


def test_matrix_formats_agree(cli: Run, builtin: Catalog) -> None:
    status, out, _ = cli("catalog", "matrix", "--format", "json")
    assert status == 0
    support = json.loads(out)
    assert support == {name: sorted(f.targets) for name, f in builtin.frameworks.items()}
    status, out, _ = cli("catalog", "matrix", "--format", "csv")
    rows = {r["target"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == set(builtin.targets)
    assert all((rows[t][f] == "yes") == (t in targets) for f, targets in support.items() for t in rows)
    status, out, _ = cli("catalog", "matrix")
    assert status == 0 and "✓" in out


def test_fields_lists_the_facets(cli: Run) -> None:
    status, out, _ = cli("catalog", "fields", "targets")
    assert status == 0 and "power_w" in out and "country" in out


def test_user_catalog_option_and_validate(cli: Run, user_catalog: MakeCatalog) -> None:
    directory = user_catalog({"targets/pi.yaml": "extends: raspberry-pi-4\ngeneral: {location: Sophia}\n"})
    status, out, _ = cli(
        "catalog",
        "targets",
        "--no-local",
        "--catalog",
        str(directory),
        "--where",
        "location=Sophia",
        "--format",
        "csv",
        "--columns",
        "name",
    )
    assert status == 0 and out.split() == ["name", "raspberry-pi-4"]
    status, out, _ = cli("catalog", "validate", str(directory))
    assert status == 0 and "valid" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["catalog", "targets", "--no-local", "--where", "power_w<=ten"],
            "error: `power_w<=ten`: `ten` is not a number",
        ),
        (["catalog", "targets", "--no-local", "--where", "colour=red"], "error: unknown field `colour` for targets"),
        (["catalog", "models", "--sort", "weight"], "error: unknown field `weight` for models"),
        (["catalog", "show", "raspberry-pi-5"], "error: no catalog entry is named `raspberry-pi-5`"),
        (["catalog", "show", "PI4", "--format", "xml"], "error: Invalid value for '--format' / '-f': 'xml' is not one"),
        (["catalog", "targets", "--nope"], "error: No such option: --nope; see `deploybench catalog targets --help`"),
        (["catalog", "show"], "error: Missing argument 'name'; see `deploybench catalog show --help`"),
        (["catalog", "bogus"], "error: No such command 'bogus'"),
        (["catalog", "fields", "boards"], "error: unknown kind `boards`"),
    ],
)
def test_user_mistakes_give_one_line_and_status_2(cli: Run, args: list[str], message: str) -> None:
    status, _, err = cli(*args)
    assert status == 2
    assert err.strip().startswith(message)
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_validate_reports_every_error_and_fails(cli: Run, user_catalog: MakeCatalog) -> None:
    directory = user_catalog(
        {
            "targets/a.yaml": "extends: raspberry-pi-4\nsom: {weight_g: heavy}\n",
            "frameworks/f.yaml": "name: f\ndisplay_name: F\ntargets: [nowhere]\n",
        }
    )
    status, _, err = cli("catalog", "validate", str(directory))
    assert status == 2
    assert "a.yaml:2: `som.weight_g`" in err
    assert "f.yaml:3: `targets.0`: names unknown target `nowhere`" in err


def test_bad_user_catalog_from_environment_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "cat" / "targets"
    bad.mkdir(parents=True)
    (bad / "x.yaml").write_text("name: x\n", encoding="utf-8")
    env = {"DEPLOYBENCH_CATALOG": str(tmp_path / "cat"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "deploybench.cli", "catalog", "models"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad / 'x.yaml'}:1: `display_name`: is required but missing")
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(cli: Run) -> None:
    with pytest.raises(Exception, match="no catalog entry"):
        cli("--debug", "catalog", "show", "nothing-by-that-name")


def test_group_without_command_prints_help(cli: Run) -> None:
    status, out, err = cli("catalog")
    assert status == 2 and "targets" in out and err == ""


def test_local_command_text_names_enum_values(cli: Run) -> None:
    status, out, _ = cli("catalog", "local")
    assert status == 0 and "IsaFamily" not in out and "fingerprint" in out


def test_version(cli: Run) -> None:
    status, out, _ = cli("--version")
    assert status == 0 and out.startswith("deploybench ")


def test_environment_names_several_user_catalogs(
    cli: Run, user_catalog: MakeCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = user_catalog({"targets/pi.yaml": "extends: raspberry-pi-4\ngeneral: {location: Paris}\n"})
    second = tmp_path / "second"
    (second / "models").mkdir(parents=True)
    (second / "models" / "m.yaml").write_text("extends: mobilenetv2\nnotes: [retrained here]\n", encoding="utf-8")
    monkeypatch.setenv("DEPLOYBENCH_CATALOG", f"{first}{os.pathsep}{second}")
    status, out, _ = cli("catalog", "targets", "--no-local", "-w", "location=Paris", "-f", "csv", "-c", "name")
    assert status == 0 and out.split() == ["name", "raspberry-pi-4"]
    status, out, _ = cli("catalog", "show", "mobilenetv2", "-f", "json")
    assert status == 0 and json.loads(out)["notes"] == ["retrained here"]


def test_backends_lists_what_runs_here(cli: Run) -> None:
    from deploybench.backends.registry import registered
    from deploybench.worker.toolchains import definitions

    status, out, _ = cli("backends", "--format", "json")
    assert status == 0
    listed = json.loads(out)
    statuses = {s["name"]: s for s in listed if s["environment"] == "main"}
    assert set(statuses) == set(registered())
    assert {s["environment"] for s in listed} == {"main", *definitions()}
    assert statuses["onnxruntime"]["available"] and statuses["onnxruntime"]["version"]
    assert statuses["onnx-reference"]["deployment"] is False
    status, out, _ = cli("backends", "--format", "csv")
    assert status == 0 and out.splitlines()[0] == "name,environment,available,version,formats,settings,role,reason"
