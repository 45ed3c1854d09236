"""Planning jobs from the command line: settings grids, values, inputs and backend names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deploybench.backends.base import TensorSpec
from deploybench.backends.registry import load_backend, registered
from deploybench.campaign.plan import cross_settings, model_ref, plan_jobs
from deploybench.cli.values import parse_dims, parse_grid, parse_value
from deploybench.core.errors import ConfigurationError, PluginError
from deploybench.core.records import InputData, Scenario, StoppingRule
from deploybench.worker.inputs import build_inputs


def test_cross_settings_gives_every_combination() -> None:
    assert cross_settings({}) == [{}]
    assert cross_settings({"threads": [1, 2], "graph_optimization": ["basic", "all"]}) == [
        {"graph_optimization": "basic", "threads": 1},
        {"graph_optimization": "basic", "threads": 2},
        {"graph_optimization": "all", "threads": 1},
        {"graph_optimization": "all", "threads": 2},
    ]


def test_plan_jobs_crosses_and_drops_duplicates(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    ref = model_ref(model)
    jobs = plan_jobs(
        [(ref, InputData()), (ref, InputData())],
        [("onnxruntime", {"threads": [1, 2]})],
        [Scenario(), Scenario()],
        StoppingRule(),
    )
    assert [job.settings for job in jobs] == [{"threads": 1}, {"threads": 2}]
    assert len({job.key() for job in jobs}) == 2
    assert ref.size_bytes == 11 and len(ref.sha256) == 64


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such model file"):
        model_ref(tmp_path / "nothing.onnx")


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("2.5", 2.5), ("true", True), ("False", False), ("all", "all")])
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_parse_grid_and_dims() -> None:
    assert parse_grid(["threads=1,2", "graph_optimization=all"]) == {"threads": [1, 2], "graph_optimization": ["all"]}
    assert parse_dims(["batch=4", "height=224"]) == {"batch": 4, "height": 224}
    with pytest.raises(ConfigurationError, match="cannot read the setting `threads`"):
        parse_grid(["threads"])
    with pytest.raises(ConfigurationError, match="dimension `height` needs one positive integer"):
        parse_dims(["height=0"])


def test_registry_knows_the_builtins_without_importing_runtimes() -> None:
    assert {"onnxruntime", "onnx-reference"} <= set(registered())
    with pytest.raises(PluginError, match="unknown framework `tensorflow-magic`; use one of: "):
        load_backend("tensorflow-magic")


def test_backends_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYBENCH_BACKENDS", "mine=tests.support.fake_backends:RaisingBackend")
    assert registered()["mine"] == "tests.support.fake_backends:RaisingBackend"
    assert load_backend("mine").probe().version == "0-fake"
    monkeypatch.setenv("DEPLOYBENCH_BACKENDS", "onnxruntime=tests.support.fake_backends:RaisingBackend")
    with pytest.raises(PluginError, match="backend `onnxruntime` is registered twice"):
        registered()
    monkeypatch.setenv("DEPLOYBENCH_BACKENDS", "broken")
    with pytest.raises(PluginError, match="`broken` is not `name=module:Class`"):
        registered()
    monkeypatch.setenv("DEPLOYBENCH_BACKENDS", "ghost=tests.support.nowhere:Ghost")
    with pytest.raises(PluginError, match="backend `ghost` cannot be loaded"):
        load_backend("ghost")


IMAGE = TensorSpec(name="image", shape=("batch", 3, "height", 224), dtype="float32")


def test_random_inputs_resolve_dynamic_dimensions() -> None:
    inputs = build_inputs([IMAGE], InputData(count=2, dims={"height": 32}), batch=4)
    assert [f["image"].shape for f in inputs.feeds] == [(4, 3, 32, 224)] * 2
    assert inputs.feeds[0]["image"].dtype == np.float32
    again = build_inputs([IMAGE], InputData(count=2, dims={"height": 32}), batch=4)
    assert np.array_equal(inputs.feeds[1]["image"], again.feeds[1]["image"])


def test_missing_dynamic_dimension_and_fixed_batch() -> None:
    with pytest.raises(ConfigurationError, match="dynamic dimension `height` \\(axis 2\\); give its value"):
        build_inputs([IMAGE], InputData(), batch=1)
    fixed = TensorSpec(name="x", shape=(1, 8), dtype="int64")
    with pytest.raises(ConfigurationError, match="input `x` has a fixed batch of 1"):
        build_inputs([fixed], InputData(), batch=8)
    assert build_inputs([fixed], InputData(count=1), batch=1).feeds[0]["x"].dtype == np.int64


def test_choose_frameworks_expands_all_and_says_why_others_are_left_out() -> None:
    from deploybench.campaign.frameworks import choose_frameworks
    from deploybench.core.records import BackendStatus

    statuses = [
        BackendStatus(name="ref", available=True, input_formats=("onnx",), deployment=False),
        BackendStatus(name="fast", available=True, input_formats=("onnx",), settings=("threads",)),
        BackendStatus(name="plain", available=True, input_formats=("onnx",)),
        BackendStatus(name="absent", available=False, reason="pip install absent"),
        BackendStatus(name="lite", available=True, input_formats=("tflite",), settings=("threads",)),
        BackendStatus(name="mlp", available=True, input_formats=("onnx",), only="dense networks"),
    ]
    choice = choose_frameworks(["all"], statuses, "onnx", {"threads": [1, 2]})
    assert choice.chosen == [("fast", {"threads": [1, 2]}), ("plain", {})]
    assert dict(choice.skipped) == {
        "ref": "a reference evaluator: it checks the others' outputs",
        "plain": "runs without threads (a setting it does not take)",
        "absent": "pip install absent",
        "lite": "takes tflite, not onnx",
        "mlp": "made for dense networks only: name it to run it",
    }
    named = choose_frameworks(["plain", "mlp"], statuses, "onnx", {"threads": [1]})
    assert named.chosen == [("plain", {"threads": [1]}), ("mlp", {"threads": [1]})] and named.skipped == []


def test_model_format_from_the_suffix(tmp_path: Path) -> None:
    from deploybench.core.formats import model_format

    assert model_format(tmp_path / "m.ONNX") == "onnx" and model_format(tmp_path / "m.tflite") == "tflite"
    with pytest.raises(ConfigurationError, match=r"unknown model format `\.pt`"):
        model_format(tmp_path / "m.pt")
