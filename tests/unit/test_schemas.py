"""The catalog schemas accept good records and reject bad ones with a message that says why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from deploybench.catalog.schemas import Framework, ModelCard, Range, Target


def target(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "board-x",
        "display_name": "Board X",
        "som": {"name": "Board X", "price_usd": "not set"},
        "soc": {"name": "Chip X"},
        "sources": [{"id": "sheet", "title": "Board X datasheet", "url": "https://example.org/x", "covers": ["som"]}],
    }
    data["som"] = {"name": "Board X", "price_usd": {"min": 100, "max": 200}, "power_w": 5}
    data.update(changes)
    return data


def errors_of(schema: type, data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        schema.model_validate(data)
    return caught.value.errors()


def test_good_target_normalizes_scalars_to_ranges() -> None:
    board = Target.model_validate(target())
    assert board.som.price_usd == Range(min=100, max=200)
    assert board.som.power_w == Range(min=5, max=5)
    assert str(board.som.price_usd) == "100-200"


def test_records_are_frozen() -> None:
    board = Target.model_validate(target())
    with pytest.raises(ValidationError):
        board.name = "other"  # type: ignore[misc]


def test_unknown_field_is_rejected() -> None:
    (error,) = errors_of(Target, target(colour="red"))
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ("colour",)


def test_figure_without_source_is_rejected_with_its_path() -> None:
    (error,) = errors_of(Target, target(memory={"bandwidth_gbps": 4.0}))
    assert error["type"] == "uncited_figure"
    assert error["ctx"]["path"] == "memory.bandwidth_gbps"
    assert "cites no source" in error["msg"]


def test_source_covering_a_parent_covers_its_leaves() -> None:
    data = target(memory={"bandwidth_gbps": 4.0})
    data["sources"][0]["covers"] = ["som", "memory"]
    assert Target.model_validate(data).memory.bandwidth_gbps == 4.0


def test_source_must_cover_a_real_field() -> None:
    data = target()
    data["sources"][0]["covers"] = ["som", "som.wieght_g"]
    (error,) = errors_of(Target, data)
    assert error["type"] == "unknown_cover"
    assert "`som.wieght_g`" in error["msg"]


def test_duplicate_source_ids_are_rejected() -> None:
    data = target()
    data["sources"].append(dict(data["sources"][0]))
    (error,) = errors_of(Target, data)
    assert "source ids are not unique: sheet" in error["msg"]


def test_range_must_be_ordered() -> None:
    (error,) = errors_of(Target, target(som={"name": "B", "power_w": {"min": 9, "max": 2}}))
    assert "min (9) is greater than max (2)" in error["msg"]


def test_bad_name_and_number_are_rejected() -> None:
    errors = errors_of(Target, target(name="Board X", som={"name": "B", "memory_gb": "lots"}))
    assert {e["loc"] for e in errors} == {("name",), ("som", "memory_gb")}


def test_processing_unit_kind_is_an_enum() -> None:
    errors = errors_of(Target, target(processing_units=[{"kind": "QPU"}]))
    assert errors[0]["loc"] == ("processing_units", 0, "kind")
    assert "'CPU'" in errors[0]["msg"]


def test_framework_and_model_card() -> None:
    framework = Framework.model_validate(
        {"name": "fw", "display_name": "FW", "open_source": "partially", "optimizations": ["pruning"]}
    )
    assert framework.open_source is not None and framework.open_source.value == "partially"
    card = ModelCard.model_validate(
        {"name": "m", "display_name": "M", "priority": 3, "family": "SNN", "model": "LeNet"}
    )
    assert card.priority == 3
    (error,) = errors_of(ModelCard, {"name": "m", "display_name": "M", "priority": 1, "family": "XYZ", "model": "M"})
    assert error["loc"] == ("family",)


def test_model_priority_needs_no_source_but_parameters_do() -> None:
    base = {"name": "m", "display_name": "M", "priority": 1, "family": "CNN", "model": "M"}
    assert ModelCard.model_validate(base).parameters is None
    (error,) = errors_of(ModelCard, {**base, "parameters": 1000})
    assert error["ctx"]["path"] == "parameters"


def test_every_field_has_help_text() -> None:
    from pydantic import BaseModel

    from deploybench.catalog.local import detect
    from deploybench.catalog.schemas import base, framework, model, target

    modules = (base, framework, model, target, detect)
    schemas = [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
    ]
    assert len(schemas) >= 15
    missing = [f"{s.__name__}.{n}" for s in schemas for n, f in s.model_fields.items() if not f.description]
    assert missing == []


def test_matches_by_key_display_name_or_alias_ignoring_case_and_separators() -> None:
    board = Target.model_validate(target(aliases=["BX-1"]))
    assert board.matches("board x") and board.matches("BOARD-X") and board.matches("bx1")
    assert not board.matches("board y")
