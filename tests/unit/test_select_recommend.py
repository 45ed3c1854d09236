"""`select`'s judgement: every excluded combination with its reason, the ranking, and the refusals of bad
constraints."""

from __future__ import annotations

import pytest
from tests.support.anatomies import anatomy

from deploybench.catalog import Catalog
from deploybench.catalog.query import parse_condition
from deploybench.core.errors import ConfigurationError, PluginError, QueryError
from deploybench.select.compliance import Compliance, FrameworkVerdict, Verdict
from deploybench.select.constraints import Constraints, Objective, check
from deploybench.select.efficiency import EfficiencyTable
from deploybench.select.performance import Knowledge
from deploybench.select.recommend import Selection, nothing_selected, recommend
from deploybench.select.registry import performance_models

SMALL = anatomy(conv_flops=2e8, conv_bytes=1e7, eltwise_flops=1e5, eltwise_bytes=4e6)
HUGE = SMALL.model_copy(
    update={"memory": SMALL.memory.model_copy(update={"weights_bytes": 200 * 2**20, "peak_activation_bytes": 2**20})}
)


def selection(
    builtin: Catalog, constraints: Constraints, model=SMALL, compliance=None, objective=Objective.LATENCY
) -> Selection:  # type: ignore[no-untyped-def]
    knowledge = Knowledge(EfficiencyTable([]), targets=dict(builtin.targets))
    return recommend(model, compliance, builtin, knowledge, performance_models(knowledge), constraints, objective)


def reasons_of(result: Selection, target: str) -> list[str]:
    return [reason for item in result.excluded if item.target == target for reason in item.excluded]


def test_a_model_that_does_not_fit_a_microcontroller_is_excluded_with_the_figures(builtin: Catalog) -> None:
    result = selection(builtin, Constraints(), model=HUGE)
    found = reasons_of(result, "stm32-cortex-m7")
    assert found
    assert all("does not fit in memory" in reason and "KiB" in reason for reason in found)
    assert all(item.target != "stm32-cortex-m7" for item in result.ranked)


def test_an_operator_a_framework_refuses_excludes_it_naming_the_operator(builtin: Catalog) -> None:
    refused = FrameworkVerdict(
        framework="tflite-table",
        catalog="tensorflow-lite",
        version=None,
        source="operator table",
        verdict=Verdict.NOT_DEPLOYABLE,
        unsupported={"NonMaxSuppression": "not in the table"},
        unsupported_nodes=1,
        checked_nodes=4,
        model_issues=(),
    )
    report = Compliance(model="m.onnx", format="onnx", frameworks=(refused,), taken_by={})
    result = selection(builtin, Constraints(), compliance=report)
    tflite = [item for item in result.excluded if item.framework == "tensorflow-lite"]
    assert tflite
    assert all(any("operator NonMaxSuppression not supported" in r for r in item.excluded) for item in tflite)
    assert all(item.framework != "tensorflow-lite" for item in result.ranked)


def test_a_catalog_condition_excludes_the_targets_that_do_not_meet_it(builtin: Catalog) -> None:
    result = selection(builtin, Constraints(where=(parse_condition("country=France"),)))
    assert {item.target for item in result.ranked} <= {"gap9", "kalray-mppa", "ng-ultra"}
    assert any("where country=France" in r for r in reasons_of(result, "raspberry-pi-4"))


def test_a_latency_budget_excludes_what_is_over_it_or_unknown(builtin: Catalog) -> None:
    result = selection(builtin, Constraints(max_latency_ms=1e-6))
    assert not result.ranked
    everything = [r for item in result.excluded for r in item.excluded]
    assert any(r.startswith("over budget: latency") for r in everything)
    assert any(r.startswith("latency unknown") and "in its catalog entry" in r for r in everything)
    error = nothing_selected(result)
    assert "excluded the most" in str(error)
    assert "latency unknown" in str(error)


def test_the_ranking_puts_known_figures_first_in_objective_order(builtin: Catalog) -> None:
    result = selection(builtin, Constraints())
    known = [item.latency.value for item in result.ranked if item.latency.value is not None]
    assert known == sorted(known)
    assert result.ranked[0].latency.value is not None
    assert all(item.latency.value is None for item in result.ranked[len(known) :])
    assert set(result.front) <= set(range(len(known)))


def test_an_unknown_performance_model_name_is_refused(builtin: Catalog) -> None:
    with pytest.raises(PluginError, match="unknown performance model `magic`"):
        performance_models(Knowledge(EfficiencyTable([])), ["magic"])


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        (Constraints(max_latency_ms=0), "--max-latency-ms 0: a budget must be positive"),
        (Constraints(max_price=-5), "--max-price -5: a budget must be positive"),
        (
            Constraints(where=(parse_condition("country=France"), parse_condition("country=Germany"))),
            "asked to equal france and germany at once",
        ),
        (
            Constraints(where=(parse_condition("power_w>10"), parse_condition("power_w<5"))),
            "above 10 and below 5 at once",
        ),
    ],
)
def test_contradictory_or_absurd_constraints_are_refused(constraints: Constraints, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check(constraints)


def test_an_unknown_condition_field_is_named(builtin: Catalog) -> None:
    with pytest.raises(QueryError, match="unknown field `colour`"):
        selection(builtin, Constraints(where=(parse_condition("colour=red"),)))
