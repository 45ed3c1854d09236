"""Filters and sorting: semantics on numbers, ranges, text, lists and unknown values."""

from __future__ import annotations

from typing import Any

import pytest

from deploybench.catalog import Catalog, parse_condition, select
from deploybench.catalog.query import Condition
from deploybench.catalog.schemas import Target
from deploybench.core.errors import QueryError


def board(name: str, **som: Any) -> Target:
    units = som.pop("units", ())
    country = som.pop("country", None)
    return Target.model_validate(
        {
            "name": name,
            "display_name": name.upper(),
            "som": {"name": name, **som},
            "soc": {"name": f"{name}-soc", "manufacturer_country": country},
            "processing_units": list(units),
            "sources": [{"id": "fake", "title": "test data", "covers": ["som", "processing_units"]}],
        }
    )


@pytest.fixture
def catalog() -> Catalog:
    boards = [
        board(
            "alpha",
            power_w={"min": 2, "max": 6},
            price_usd=150,
            country="France",
            units=[{"kind": "CPU", "family": "RISC-V"}],
        ),
        board(
            "beta",
            power_w={"min": 7.5, "max": 15},
            price_usd=245,
            units=[{"kind": "FPGA"}, {"kind": "CPU", "family": "ARM"}],
        ),
        board("gamma", power_w=3, country="Germany", units=[{"kind": "CPU", "family": "ARM"}]),
        board("delta", price_usd=99),
    ]
    return Catalog(targets={b.name: b for b in boards}, frameworks={}, models={})


def names(catalog: Catalog, *where: str, sort: tuple[str, ...] = ()) -> list[str]:
    result = select(catalog, "targets", [parse_condition(w) for w in where], sort)
    return [e.name for e in result.entries]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("power_w<=10", Condition("power_w", "<=", "10")),
        (" country = France ", Condition("country", "=", "France")),
        ("family==RISC-V", Condition("family", "=", "RISC-V")),
        ("som.name~alp", Condition("som.name", "~", "alp")),
        ("price_usd!=99", Condition("price_usd", "!=", "99")),
    ],
)
def test_parse_condition(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize("text", ["power_w", "power_w<=", "<=10", "power w<=10"])
def test_unreadable_condition_is_a_query_error(text: str) -> None:
    with pytest.raises(QueryError, match="cannot read the filter"):
        parse_condition(text)


def test_range_must_satisfy_a_bound_over_its_whole_span(catalog: Catalog) -> None:
    assert names(catalog, "power_w<=10") == ["alpha", "gamma"]
    assert names(catalog, "power_w>=7.5") == ["beta"]
    assert names(catalog, "power_w>6") == ["beta"]


def test_equality_on_a_range_means_the_value_lies_in_it(catalog: Catalog) -> None:
    assert names(catalog, "power_w=10") == ["beta"]
    assert names(catalog, "power_w!=10") == ["alpha", "gamma"]


def test_text_and_list_matching_ignores_case(catalog: Catalog) -> None:
    assert names(catalog, "country=france") == ["alpha"]
    assert names(catalog, "family=risc-v") == ["alpha"]
    assert names(catalog, "family=ARM") == ["beta", "gamma"]
    assert names(catalog, "units=FPGA") == ["beta"]
    assert names(catalog, "units!=FPGA") == ["alpha", "gamma"]
    assert names(catalog, "board~ph") == ["alpha"]


def test_conditions_combine_with_and(catalog: Catalog) -> None:
    assert names(catalog, "family=ARM", "power_w<=10") == ["gamma"]


def test_unknown_values_are_left_out_and_counted(catalog: Catalog) -> None:
    result = select(catalog, "targets", [parse_condition("power_w<=100")])
    assert [e.name for e in result.entries] == ["alpha", "beta", "gamma"]
    assert result.unknown == {"power_w": 1}
    assert names(catalog, "power_w=null") == ["delta"]
    assert names(catalog, "country!=null") == ["alpha", "gamma"]


def test_numbers_take_si_multipliers(catalog: Catalog) -> None:
    assert names(catalog, "price_usd>=0.2k") == ["beta"]


def test_dotted_paths_reach_any_field(catalog: Catalog) -> None:
    assert names(catalog, "som.price_usd<100") == ["delta"]
    assert names(catalog, "processing_units.0.kind=FPGA") == ["beta"]


def test_sort_ascending_descending_and_unknown_last(catalog: Catalog) -> None:
    assert names(catalog, sort=("price_usd",)) == ["delta", "alpha", "beta", "gamma"]
    assert names(catalog, sort=("-price_usd",)) == ["beta", "alpha", "delta", "gamma"]
    assert names(catalog, sort=("country", "name")) == ["alpha", "gamma", "beta", "delta"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("colour=red", "unknown field `colour` for targets"),
        ("power_w<=ten", "`power_w<=ten`: `ten` is not a number"),
        ("country<France", "`country` is text, not a number"),
        ("power_w~3", "`~` (contains) works on text"),
    ],
)
def test_bad_filters_say_what_is_wrong(catalog: Catalog, where: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        names(catalog, where)
    assert message in str(caught.value)


def test_unknown_sort_key_is_a_query_error(catalog: Catalog) -> None:
    with pytest.raises(QueryError, match="unknown field `weight`"):
        names(catalog, sort=("weight",))
