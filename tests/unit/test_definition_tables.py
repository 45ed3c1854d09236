"""Every row of Tables 2, 4 and 6 of the definition is in the built-in catalog, with its values.

The rows are read from tests/data/definition_tables.tsv, a verbatim copy of the tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploybench.catalog import Catalog
from deploybench.catalog.schemas import CatalogEntry, Range

TABLES = Path(__file__).parent.parent / "data" / "definition_tables.tsv"
COLUMNS = {
    "2": (
        "SOM name",
        "Price",
        "Power cons. (W)",
        "Memory",
        "SOC name",
        "Architecture and speed",
        "Performance",
        "OS",
        "Supported framework",
    ),
    "4": ("Framework", "Provider", "Open-source", "Execution environment", "Supported optimizations"),
    "6": ("Family", "Model", "Application", "Nbre param", "Performance", "Framework", "Dataset"),
}
UNKNOWN = ("", "NA", "N/A", "N/D")
# Cells deliberately not copied into the structured field; each entry's notes say why.
READ_OTHERWISE = {
    ("stm32-cortex-m7", "Power cons. (W)"): "15-60 W contradicts the definition's own '< 1 W' for the STM32",
    ("khadas-vim3-basic", "SOC name"): "the cell repeats the board name; the SoC is the Amlogic A311D of the next cell",
}


def rows(table: str) -> list[dict[str, str]]:
    found, current = [], None
    for line in TABLES.read_text(encoding="utf-8").splitlines():
        if line.startswith("## Table "):
            current = line.removeprefix("## Table ")
        elif current == table and line and not line.startswith("#"):
            found.append(dict(zip(COLUMNS[table], line.split("\t"), strict=True)))
    return found


def entry_with(entries: list[CatalogEntry], row: dict[str, str]) -> CatalogEntry:
    (entry,) = [e for e in entries if row in e.definition_rows]
    return entry


def numbers(cell: str) -> Range | None:
    values = [float(v.replace(",", ".")) for v in re.findall(r"\d+(?:[.,]\d+)?", cell)]
    return Range(min=min(values), max=max(values)) if values else None


def items(cell: str) -> tuple[str, ...]:
    """Split a cell on the commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for char in cell:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return tuple(p for p in [*parts, current.strip()] if p)


def test_tables_are_complete() -> None:
    assert (len(rows("2")), len(rows("4")), len(rows("6"))) == (19, 16, 17)


def test_each_table_2_row_is_one_target(builtin: Catalog) -> None:
    named = {entry_with(builtin.entries("targets"), row).name for row in rows("2")}
    assert len(named) == 18, "the two Jetson AGX rows make one target"
    assert len(builtin.targets["jetson-agx-xavier"].definition_rows) == 2
    assert set(builtin.targets) == named


@pytest.mark.parametrize("row", rows("2"), ids=lambda r: r["SOM name"])
def test_table_2_values(builtin: Catalog, row: dict[str, str]) -> None:
    target = entry_with(builtin.entries("targets"), row)
    assert target.som.name == row["SOM name"]
    if (target.name, "SOC name") not in READ_OTHERWISE:
        assert target.soc.name == row["SOC name"]
    assert target.soc.architecture == (row["Architecture and speed"] or None)
    assert target.additional.performance == (row["Performance"] or None)
    if row["Price"] not in UNKNOWN:
        assert target.som.price_usd == numbers(row["Price"])
    if (target.name, "Power cons. (W)") in READ_OTHERWISE:
        assert target.som.power_w is None and any("15-60" in n for n in target.notes)
    elif row["Power cons. (W)"] not in UNKNOWN:
        assert target.som.power_w == numbers(row["Power cons. (W)"])
    if row["Memory"]:
        assert target.som.memory == row["Memory"]
    if row["OS"] not in UNKNOWN:
        assert row["OS"] in target.additional.os
    frameworks = target.additional.supported_frameworks
    cells = [r["Supported framework"] for r in target.definition_rows]
    assert all(any(f in cell for cell in cells) for f in frameworks)
    assert bool(frameworks) == any(cells)


def test_figures_read_otherwise_are_explained(builtin: Catalog) -> None:
    for name, _ in READ_OTHERWISE:
        assert builtin.targets[name].notes


def test_unknown_cells_give_null(builtin: Catalog) -> None:
    myriad = builtin.targets["myriad-x-ncs2"]
    assert myriad.som.power_w is None
    assert builtin.targets["nxp-imx8m"].som.power_w is None


@pytest.mark.parametrize("row", rows("4"), ids=lambda r: r["Framework"])
def test_table_4_values(builtin: Catalog, row: dict[str, str]) -> None:
    framework = entry_with(builtin.entries("frameworks"), row)
    assert framework.display_name == row["Framework"]
    assert framework.provider == row["Provider"]
    expected = row["Open-source"].lower() or None
    assert (framework.open_source.value if framework.open_source else None) == expected
    assert framework.execution_environments == items(row["Execution environment"])
    optimizations = row["Supported optimizations"]
    assert framework.supported_optimizations == (() if optimizations == "Not available" else items(optimizations))


def test_table_4_has_sixteen_frameworks(builtin: Catalog) -> None:
    named = {entry_with(builtin.entries("frameworks"), row).name for row in rows("4")}
    assert len(named) == 16 and set(builtin.frameworks) == named


def _parameters(cell: str) -> int | None:
    match = re.fullmatch(r"([\d.]+)M", cell)
    return round(float(match.group(1)) * 1_000_000) if match else None


@pytest.mark.parametrize("index_row", list(enumerate(rows("6"), start=1)), ids=lambda p: p[1]["Model"])
def test_table_6_values(builtin: Catalog, index_row: tuple[int, dict[str, str]]) -> None:
    priority, row = index_row
    card = entry_with(builtin.entries("models"), row)
    assert card.priority == priority
    assert card.family.value == row["Family"]
    assert card.model == card.display_name == row["Model"]
    assert card.application == (None if row["Application"] in UNKNOWN else row["Application"])
    assert card.parameters == _parameters(row["Nbre param"])
    score = re.match(r"([\d.]+)%", row["Performance"])
    assert (card.performance.value if card.performance else None) == (float(score.group(1)) if score else None)
    assert card.training_frameworks == items(row["Framework"])
    assert ", ".join(card.datasets) == row["Dataset"]


def test_table_6_has_seventeen_models(builtin: Catalog) -> None:
    assert len(builtin.models) == 17
    assert sorted(m.priority for m in builtin.models.values()) == list(range(1, 18))


def test_every_builtin_figure_cites_a_source_with_a_title(builtin: Catalog) -> None:
    for kind in ("targets", "frameworks", "models"):
        for entry in builtin.entries(kind):
            assert all(source.title.strip() for source in entry.sources)
            assert entry.definition_rows, f"{entry.name} is in the definition"
