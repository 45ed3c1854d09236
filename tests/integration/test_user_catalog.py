"""User catalog directories: add, override and extend entries; bad files give located errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deploybench.catalog import Catalog, load_catalog, validate_directory
from deploybench.core.errors import CatalogError, CatalogErrors

MakeCatalog = Callable[[dict[str, str]], Path]

MY_BOARD = """
    name: my-board
    display_name: My Board
    som:
      name: My Board rev B
      power_w: {min: 1, max: 4}
      price_usd: 35
    soc: {name: RP2350, manufacturer_country: United Kingdom}
    processing_units:
      - {kind: MCU, count: 2, family: RISC-V, frequency_ghz: 0.15}
    sources:
      - id: sheet
        title: My Board datasheet
        url: https://example.org/my-board.pdf
        covers: [som.power_w, som.price_usd, processing_units]
"""


def errors_in(directory: Path) -> list[str]:
    return [str(e) for e in validate_directory(directory)]


def test_user_target_is_added(user_catalog: MakeCatalog, builtin: Catalog) -> None:
    catalog = load_catalog([user_catalog({"targets/my-board.yaml": MY_BOARD})])
    assert catalog.targets["my-board"].som.price_usd is not None
    assert set(catalog.targets) == set(builtin.targets) | {"my-board"}
    assert catalog.origin("targets", "my-board").endswith("my-board.yaml")
    assert catalog.origin("targets", "raspberry-pi-4") == "built-in"


def test_user_entry_with_a_builtin_name_replaces_it(user_catalog: MakeCatalog) -> None:
    text = MY_BOARD.replace("name: my-board", "name: raspberry-pi-4", 1)
    catalog = load_catalog([user_catalog({"targets/pi.yaml": text})])
    assert catalog.targets["raspberry-pi-4"].display_name == "My Board"


def test_extends_overrides_only_the_given_fields(user_catalog: MakeCatalog, builtin: Catalog) -> None:
    directory = user_catalog(
        {
            "targets/pi-toulouse.yaml": """
                extends: raspberry-pi-4
                general: {location: Toulouse, responsible: J. Doe}
            """
        }
    )
    catalog = load_catalog([directory])
    mine, original = catalog.targets["raspberry-pi-4"], builtin.targets["raspberry-pi-4"]
    assert mine.general.location == "Toulouse"
    assert mine.som == original.som
    assert mine.sources == original.sources


def test_environment_variable_names_user_directories(
    user_catalog: MakeCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYBENCH_CATALOG", str(user_catalog({"targets/my-board.yaml": MY_BOARD})))
    assert "my-board" in load_catalog().targets


def test_valid_directory_has_no_errors(user_catalog: MakeCatalog) -> None:
    assert errors_in(user_catalog({"targets/my-board.yaml": MY_BOARD})) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MY_BOARD.replace("price_usd: 35", "price_usd: cheap"), "my-board.yaml:6: `som.price_usd`"),
        (
            MY_BOARD.replace("      price_usd: 35\n", "      price_usd: 35\n      colour: red\n"),
            "my-board.yaml:7: `som.colour`: is not a field here; fields allowed: name, price_usd",
        ),
        (
            MY_BOARD.replace("    display_name: My Board\n", ""),
            "my-board.yaml:1: `display_name`: is required but missing",
        ),
        (
            MY_BOARD.replace("kind: MCU", "kind: QPU"),
            "my-board.yaml:9: `processing_units.0.kind`: Input should be 'CPU'",
        ),
        (
            MY_BOARD.replace(
                "covers: [som.power_w, som.price_usd, processing_units]", "covers: [som.power_w, processing_units]"
            ),
            "my-board.yaml:6: `som.price_usd.min`: figure 35.0 cites no source",
        ),
        (
            MY_BOARD.replace("price_usd: 35", "price_usd: 35\n      price_usd: 36"),
            "my-board.yaml:7: `price_usd`: duplicate key (first at line 6)",
        ),
        (MY_BOARD.replace("soc: {name", "soc: [name"), "my-board.yaml:7: YAML syntax error"),
        ("- just\n- a list\n", "my-board.yaml: must be a mapping of Target fields, not list"),
        ("", "my-board.yaml: is empty"),
    ],
)
def test_bad_file_is_reported_with_file_line_and_field(user_catalog: MakeCatalog, text: str, expected: str) -> None:
    directory = user_catalog({"targets/my-board.yaml": text})
    (message,) = errors_in(directory)
    assert expected in message
    with pytest.raises(CatalogErrors) as caught:
        load_catalog([directory])
    assert expected in str(caught.value)
    assert caught.value.exit_code == 2


def test_every_error_of_a_directory_is_reported(user_catalog: MakeCatalog) -> None:
    directory = user_catalog(
        {
            "targets/a.yaml": MY_BOARD.replace("price_usd: 35", "price_usd: cheap"),
            "targets/b.yaml": MY_BOARD.replace("name: my-board", "name: Bad Name", 1),
            "models/m.yaml": "name: m\ndisplay_name: M\npriority: 0\nfamily: CNN\nmodel: M\n",
        }
    )
    messages = errors_in(directory)
    assert len(messages) == 3
    assert any("m.yaml:3: `priority`" in m for m in messages)
    with pytest.raises(CatalogErrors, match=r"and 2 more errors"):
        load_catalog([directory])


def test_framework_naming_an_unknown_target(user_catalog: MakeCatalog) -> None:
    directory = user_catalog(
        {"frameworks/fw.yaml": "name: fw\ndisplay_name: FW\ntargets:\n  - raspberry-pi-4\n  - my-boar\n"}
    )
    (message,) = errors_in(directory)
    assert "fw.yaml:5: `targets.1`: names unknown target `my-boar`" in message


def test_framework_may_name_a_user_target(user_catalog: MakeCatalog) -> None:
    directory = user_catalog(
        {"targets/my-board.yaml": MY_BOARD, "frameworks/fw.yaml": "name: fw\ndisplay_name: FW\ntargets: [my-board]\n"}
    )
    assert errors_in(directory) == []
    assert load_catalog([directory]).frameworks["fw"].targets == ("my-board",)


def test_duplicate_names_in_one_directory(user_catalog: MakeCatalog) -> None:
    directory = user_catalog({"targets/a.yaml": MY_BOARD, "targets/b.yaml": MY_BOARD})
    (message,) = errors_in(directory)
    assert "b.yaml: `name`: `my-board` is already defined in" in message


def test_extends_an_unknown_entry(user_catalog: MakeCatalog) -> None:
    (message,) = errors_in(user_catalog({"targets/x.yaml": "extends: raspberry-pi-5\n"}))
    assert "x.yaml:1: `extends`: extends unknown target `raspberry-pi-5`" in message


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"board.yaml": MY_BOARD}, "board.yaml: is not in a catalog folder"),
        ({"boards/x.yaml": MY_BOARD}, "boards: is not in a catalog folder"),
    ],
)
def test_misplaced_files_are_errors(user_catalog: MakeCatalog, files: dict[str, str], expected: str) -> None:
    with pytest.raises(CatalogError, match="is not in a catalog folder") as caught:
        validate_directory(user_catalog(files))
    assert expected in str(caught.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="is not a directory"):
        load_catalog([tmp_path / "nowhere"])


def test_non_utf8_file(user_catalog: MakeCatalog) -> None:
    directory = user_catalog({"targets/x.yaml": "name: x\n"})
    (directory / "targets" / "x.yaml").write_bytes(b"name: \xff\xfe\n")
    (message,) = errors_in(directory)
    assert "x.yaml: is not UTF-8 text" in message


def test_a_bad_user_file_leaves_it_untouched(user_catalog: MakeCatalog) -> None:
    text = MY_BOARD.replace("price_usd: 35", "price_usd: cheap")
    directory = user_catalog({"targets/my-board.yaml": text})
    before = (directory / "targets" / "my-board.yaml").read_bytes()
    with pytest.raises(CatalogErrors):
        load_catalog([directory])
    assert (directory / "targets" / "my-board.yaml").read_bytes() == before
