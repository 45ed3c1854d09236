"""The zoo for real: every recipe built at reduced size in the `pytorch` toolchain and run by ONNX Runtime, every
full model's parameters against its card, the cache (reused, a corrupted entry found and rebuilt), exports to
`.pt2` and `.tflite`, user recipes, and every bad input: an unknown name, a failing export, a missing toolchain."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.jobs import require_toolchain

from deploybench.catalog import load_catalog
from deploybench.core.hashing import file_sha256
from deploybench.zoo.build import build_model, count_parameters
from deploybench.zoo.cache import CACHE_ENV
from deploybench.zoo.recipe import RECIPES_ENV, recipes

TABLE_6 = sorted(name for name in load_catalog([]).models)


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module's builds, outside the user's."""
    folder = tmp_path_factory.getbasetemp() / "zoo-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def toolchain() -> None:
    require_toolchain("pytorch")


def run_onnx(path: str) -> list[np.ndarray]:
    """One inference by ONNX Runtime on zeros of the exported input shapes."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32) for i in session.get_inputs()
    }
    return list(session.run(None, feeds))


def test_every_model_of_table_6_has_a_recipe() -> None:
    assert set(TABLE_6) <= set(recipes())


@pytest.mark.parametrize("name", sorted(recipes()))
def test_each_recipe_builds_at_reduced_size_and_runs(toolchain: None, name: str) -> None:
    artifact = build_model(name, "onnx", "reduced")
    assert Path(artifact.path).is_file() and file_sha256(Path(artifact.path)) == artifact.sha256
    assert artifact.built.parameters > 0 and artifact.built.weights
    assert artifact.built.packages["torch"].startswith("2.14")
    assert artifact.parameter_difference is None, "a reduced build is not compared with the card"
    outputs = run_onnx(artifact.path)
    assert len(outputs) == len(artifact.built.outputs)


def test_full_models_have_the_parameters_of_their_cards(toolchain: None) -> None:
    cards = load_catalog([]).models
    counted = [name for name in TABLE_6 if cards[name].parameters and name in recipes()]
    found = count_parameters(counted)
    for name in counted:
        expected = cards[name].parameters
        assert expected is not None
        difference = abs(found[name] - expected) / expected
        assert difference <= recipes()[name].tolerance, f"{name}: {found[name]:,} vs the card's {expected:,}"


def test_the_cache_is_reused_and_a_corrupted_entry_rebuilt(toolchain: None) -> None:
    said: list[str] = []
    first = build_model("unet", "onnx", "reduced", echo=said.append)
    again = build_model("unet", "onnx", "reduced", echo=said.append)
    assert again == first and said == []
    Path(first.path).write_bytes(b"corrupted")
    rebuilt = build_model("unet", "onnx", "reduced", echo=said.append)
    assert said == [f"rebuilding unet: {first.path} does not match its SHA-256 (corrupted)"]
    assert rebuilt.sha256 == file_sha256(Path(rebuilt.path)) and rebuilt.key == first.key
    run_onnx(rebuilt.path)


def test_a_model_exports_to_pt2_and_tflite(toolchain: None, cli: Run, tmp_path: Path) -> None:
    require_toolchain("litert")
    status, out, err = cli("zoo", "export", "unet", "--reduced", "-F", "pt2", "-o", str(tmp_path))
    assert status == 0, err
    assert Path(out.strip()) == tmp_path / "unet.pt2" and (tmp_path / "unet.pt2").stat().st_size > 0
    artifact = build_model("unet", "tflite", "reduced")
    assert artifact.converted_by is not None and artifact.converted_by.startswith("onnx2tf ")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=artifact.path)
    interpreter.allocate_tensors()
    interpreter.invoke()


def test_the_cli_lists_and_builds(toolchain: None, cli: Run) -> None:
    status, out, err = cli("zoo", "list", "--format", "json")
    assert status == 0, err
    assert {row["model"] for row in json.loads(out)} == set(recipes())
    status, out, err = cli("zoo", "build", "mobilenetv2", "--reduced")
    assert status == 0, err
    assert "mobilenetv2" in out and "seeded random" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["build", "mobilnetv2"], "the zoo has no model named `mobilnetv2`; did you mean mobilenetv2"),
        (["build"], "name the models to build"),
        (["build", "unet", "--format", "h5"], "--format `h5` is not a format the zoo exports"),
        (["export", "nosuch", "-o", "x.onnx"], "the zoo has no model named `nosuch`"),
    ],
)
def test_bad_requests_are_one_line_errors(cli: Run, arguments: list[str], message: str) -> None:
    status, out, err = cli("zoo", *arguments)
    assert status == 2 and message in err and "Traceback" not in err
    assert out == ""


def user_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's builder module (on PYTHONPATH) and recipes: one that exports, one the exporter refuses."""
    (tmp_path / "mylab_models.py").write_text(
        textwrap.dedent(
            '''
            """A user's builders."""
            import torch

            from deploybench.zoo.builders.base import RANDOM, Model


            class Bucket(torch.nn.Module):
                def forward(self, x):
                    return torch.searchsorted(torch.tensor([0.0, 1.0, 2.0]), x.contiguous())


            def bucket(shape):
                return Model(module=Bucket(), weights=RANDOM)


            def tiny(shape):
                return Model(module=torch.nn.Linear(shape[-1], 2), weights=RANDOM)


            def missing(shape):
                import deploybench_no_such_package

                return Model(module=deploybench_no_such_package.Net(), weights=RANDOM)
            '''
        ),
        encoding="utf-8",
    )
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "bucket.yaml").write_text("name: bucket\nbuilder: mylab_models:bucket\ninput_shape: [1, 4]\n")
    (folder / "tiny.yaml").write_text("name: tiny\nbuilder: mylab_models:tiny\ninput_shape: [1, 4]\n")
    (folder / "missing.yaml").write_text("name: missing\nbuilder: mylab_models:missing\ninput_shape: [1, 4]\n")
    monkeypatch.setenv(RECIPES_ENV, str(folder))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return folder


def test_a_users_recipe_builds_and_a_refused_export_names_the_operator_and_exporter(
    toolchain: None, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_recipes(tmp_path, monkeypatch)
    status, out, err = cli("zoo", "build", "tiny")
    assert status == 0, err
    assert "│ tiny" in out
    status, out, err = cli("zoo", "build", "bucket")
    assert status != 0 and "Traceback" not in err
    assert "zoo: bucket cannot be built: torch.onnx.export (TorchScript, opset 17) cannot export it" in err
    assert "aten::searchsorted" in err
    status, _, err = cli("zoo", "build", "missing")
    assert status != 0 and "needs the package `deploybench_no_such_package`, which the `pytorch` environment" in err
    assert "deploybench toolchain install pytorch --force" in err


def test_two_builds_of_one_model_at_once_build_it_once(
    toolchain: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    user_recipes(tmp_path, monkeypatch)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "own-cache"))
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: build_model("tiny", echo=lambda _: None), range(2))
    assert first == second, "the second build must wait for the first and reuse its artifact"
    assert file_sha256(Path(first.path)) == first.sha256


def test_a_bad_recipe_names_its_file_and_field(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: broken\nbuilder: not a builder\ninput_shape: [1, 4]\n")
    monkeypatch.setenv(RECIPES_ENV, str(folder))
    status, _, err = cli("zoo", "list")
    assert status == 2 and str(folder / "broken.yaml") in err and "`builder`" in err
    (folder / "broken.yaml").write_text("name: broken\nnotes:\n  - a: b c: d\n")
    status, _, err = cli("zoo", "list")
    assert status == 2 and f"{folder / 'broken.yaml'}:3: YAML syntax error" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_toolchain_gives_the_command_that_installs_it(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYBENCH_TOOLCHAINS", str(tmp_path / "none"))
    status, _, err = cli("zoo", "build", "unet", "--reduced")
    assert status == 2
    assert "building zoo models needs the `pytorch` toolchain environment, which is not installed" in err
    assert "deploybench toolchain install pytorch" in err


def test_a_campaign_takes_zoo_models_on_every_framework_here(toolchain: None, cli: Run, tmp_path: Path) -> None:
    from deploybench.worker.placement import Placer

    campaign = tmp_path / "zoo.yaml"
    campaign.write_text(
        textwrap.dedent(
            """
            name: zoo-check
            models:
              - zoo: digits-cnn
                reduced: true
            frameworks:
              - name: all
                settings: {threads: [1]}
            stopping: {min_samples: 10, max_samples: 10, min_duration_s: 0, warmup_max: 3}
            """
        ),
        encoding="utf-8",
    )
    local = {
        s.name
        for s in Placer().placed_statuses("onnx")
        if s.available and s.deployment and not s.only and "onnx" in s.input_formats
    }
    db = f"sqlite:///{tmp_path / 'zoo.db'}"
    status, _, err = cli("campaign", "run", str(campaign), "--db", db)
    assert status == 0, err
    status, listed, _ = cli("results", "list", "--format", "json", "--db", db)
    records = json.loads(listed)
    assert {r["job"]["framework"] for r in records} == local
    assert all(r["status"] == "ok" for r in records)
    assert {Path(r["job"]["model"]["path"]).name for r in records} == {"digits-cnn.onnx"}
    page, document = tmp_path / "report.html", tmp_path / "reference.md"
    status, _, err = cli("report", "zoo-check", "--markdown", str(document), "--html", str(page), "--db", db)
    assert status == 0, err
    text = document.read_text(encoding="utf-8")
    assert "## digits-cnn.onnx" in text and "Campaign `zoo-check`" in text
    coverage = ", ".join(f"{name} 1" for name in sorted(local))
    assert f"Coverage, of the 1 model(s) measured: {coverage}." in text and "Time in the jobs, in all: " in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "framework" not in line]
    assert {line.split("|")[1].strip() for line in table} == local
    assert all(line.split("|")[-2].strip() == "ok" for line in table)
    if "aidge-cortexm" in local:
        (firmware,) = [line for line in table if line.split("|")[1].strip() == "aidge-cortexm"]
        assert "emulated cortex-m7" in firmware and "instructions" in firmware and "flash" in firmware
    assert "<h2>digits-cnn.onnx</h2>" in page.read_text(encoding="utf-8")
    status, _, err = cli("report", "no-such-campaign", "--markdown", str(document), "--db", db)
    assert status != 0 and "no results of campaign `no-such-campaign`" in err


def test_a_campaign_model_is_a_file_or_a_zoo_model_not_both(cli: Run, tmp_path: Path) -> None:
    campaign = tmp_path / "bad.yaml"
    campaign.write_text(
        "name: bad\nmodels:\n  - {zoo: unet, path: m.onnx}\nframeworks:\n  - name: onnxruntime\n", encoding="utf-8"
    )
    status, _, err = cli("campaign", "run", str(campaign))
    assert status == 2 and "give either `path` or `zoo`" in err and str(campaign) in err


def test_the_shipped_reference_campaign_crosses_every_card_with_every_framework_here(tmp_path: Path) -> None:
    from tests.support.models import tiny_classifier

    from deploybench.campaign.spec import load_campaign
    from deploybench.worker.placement import Placer

    stand_in = tiny_classifier(tmp_path / "stand-in.onnx")
    asked: list[str] = []

    def zoo(name: str, reduced: bool) -> Path:
        asked.append(name)
        return stand_in

    placer = Placer()
    spec, plans = load_campaign(Path("campaigns/reference.yaml"), zoo=zoo, placer=placer)
    assert list(plans) == ["local"]
    jobs = plans["local"]
    statuses = placer.placed_statuses("onnx")
    local = {s.name for s in statuses if s.available and s.deployment and not s.only and "onnx" in s.input_formats}
    assert spec.name == "reference" and sorted(asked) == TABLE_6
    assert {job.framework for job in jobs} == local


def test_exports_keep_each_initializer_whole_for_converters_that_need_it(toolchain: None) -> None:
    import onnx

    artifact = build_model("mobilenetv2", "onnx", "reduced")
    graph = onnx.load(artifact.path).graph
    initializers = {tensor.name for tensor in graph.initializer}
    assert not [n for n in graph.node if n.op_type == "Identity" and n.input[0] in initializers]
    assert "shared initializers restored from Identity nodes" in artifact.built.exporter
    assert len(run_onnx(artifact.path)) == 1
