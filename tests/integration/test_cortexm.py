"""Firmware for the emulated Cortex-M7 board (QEMU's mps2-an500): Aidge's C++ export of a model cross-compiled
with Debian's arm-none-eabi-gcc, run in QEMU with instruction counting, checked against ONNX Runtime; its
memory read from the ELF and checked against binutils' own reading; a firmware that hangs or faults, a
missing tool and an operator Aidge lacks each give one clear error."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.firmware import TOOLS, require_firmware_tools
from tests.support.models import tiny_classifier

from deploybench.backends.cortexm.firmware import (
    Firmware,
    FirmwareError,
    ModelCode,
    board,
    build,
    run,
    tool,
)
from deploybench.core.errors import ConfigurationError


@pytest.fixture(scope="module")
def aidge_firmware(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelCode, Firmware]:
    require_firmware_tools()
    pytest.importorskip("aidge_export_cpp")
    from deploybench.backends.aidge_export import model_code

    folder = tmp_path_factory.mktemp("aidge")
    model = tiny_classifier(folder / "tiny.onnx")
    code = model_code(model, folder / "generated")
    return model, code, build(code, folder / "firmware", board())


def test_aidge_firmware_runs_in_qemu_deterministically_and_agrees_with_onnxruntime(
    aidge_firmware: tuple[Path, ModelCode, Firmware],
) -> None:
    import onnxruntime

    model, code, firmware = aidge_firmware
    inputs = np.random.default_rng(7).standard_normal((6, 8)).astype(np.float32)
    first = run(firmware, code, inputs)
    again = run(firmware, code, inputs)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (name, _, size) = code.outputs[0]
    for row, outputs in zip(inputs, first.outputs, strict=True):
        reference = session.run(None, {"input": row[None, :]})[0][0]
        assert outputs[name].shape == (size,)
        assert np.abs(outputs[name] - reference).max() < 1e-5
        assert outputs[name].argmax() == reference.argmax()
    assert first.instructions == again.instructions
    assert all(count > 0 for count in first.instructions)
    assert first.instructions_per_tick > 0 and all(c % first.instructions_per_tick == 0 for c in first.instructions)
    assert 0 < first.stack_bytes < board().stack_bytes
    assert "mps2-an500" in first.emulator and "-icount shift=0" in first.emulator


def test_flash_and_ram_from_the_elf_match_binutils_and_show_the_models_share(
    aidge_firmware: tuple[Path, ModelCode, Firmware],
) -> None:
    _, _, firmware = aidge_firmware
    listing = subprocess.run(
        ["arm-none-eabi-size", "-A", str(firmware.elf)], capture_output=True, text=True, check=True
    ).stdout
    sizes = {
        parts[0]: int(parts[1])
        for parts in (line.split() for line in listing.splitlines()[2:])
        if len(parts) == 3 and parts[1].isdigit()
    }
    assert {name: sizes[name] for name in firmware.memory.sections} == firmware.memory.sections
    memory = firmware.memory
    assert memory.flash_bytes == sum(size for name, size in memory.sections.items() if name != ".bss")
    assert memory.ram_bytes == memory.sections[".data"] + memory.sections[".bss"]
    assert memory.flash_bytes > firmware.harness_memory.flash_bytes
    weights = 8 * 4 * 4 + 4 * 4
    assert memory.flash_bytes - firmware.harness_memory.flash_bytes >= weights


def _bad_code(folder: Path, body: str) -> ModelCode:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bad.h").write_text("void model_forward(const float* input, float** output);\n", encoding="utf-8")
    source = folder / "bad.cpp"
    source.write_text(
        textwrap.dedent(
            f"""\
            #include <cstdint>
            #include "bad.h"
            static float result[4];
            void model_forward(const float* input, float** output) {{
                {body}
                *output = result;
            }}
            """
        ),
        encoding="utf-8",
    )
    return ModelCode(
        sources=(source,),
        include_dirs=(folder,),
        header="bad.h",
        call="model_forward(input, &output)",
        input_type="float",
        input_size=8,
        outputs=(("output", "float", 4),),
        generator="test",
    )


@pytest.mark.parametrize(
    ("body", "timeout_s", "message"),
    [
        ('for (;;) { __asm volatile("nop"); }', 5.0, "did not finish within 5 s in QEMU"),
        ("*(volatile uint32_t*)0x61000000u = 1u;", 60.0, r"status 3 in QEMU \(a fault"),
    ],
)
def test_a_firmware_that_hangs_or_faults_is_a_clear_failure(
    tmp_path: Path, body: str, timeout_s: float, message: str
) -> None:
    require_firmware_tools()
    code = _bad_code(tmp_path / "src", body)
    firmware = build(code, tmp_path / "firmware", board())
    with pytest.raises(FirmwareError, match=message):
        run(firmware, code, np.zeros((1, 8), dtype=np.float32), timeout_s=timeout_s)


def test_code_that_does_not_compile_names_the_file_and_the_compiler_error(tmp_path: Path) -> None:
    require_firmware_tools()
    code = _bad_code(tmp_path / "src", "this is not C++;")
    with pytest.raises(FirmwareError, match=r"compiling bad\.cpp failed: .*bad\.cpp:5:\d+: error: ") as error:
        build(code, tmp_path / "firmware", board())
    assert "\n" not in str(error.value)


def test_a_missing_cross_compiler_or_emulator_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    for name in TOOLS:
        with pytest.raises(ConfigurationError, match=re.escape(f"`{name}` is not installed")) as error:
            tool(name)
        assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" in str(error.value)


def test_an_operator_aidge_lacks_is_named(tmp_path: Path) -> None:
    pytest.importorskip("aidge_export_cpp")
    import onnx
    from onnx import TensorProto, helper

    from deploybench.backends.aidge_export import model_code

    graph = helper.make_graph(
        [helper.make_node("Mish", ["x"], ["y"], name="activation")],
        "mish",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "mish.onnx"))
    with pytest.raises(ConfigurationError, match=r"mish\.onnx: Aidge has no operator for .*\(Mish\)"):
        model_code(tmp_path / "mish.onnx", tmp_path / "generated")


def test_a_node_aidges_export_has_no_kernel_for_is_named(tmp_path: Path) -> None:
    pytest.importorskip("aidge_export_cpp")
    import onnx
    from onnx import TensorProto, helper

    from deploybench.backends.aidge_export import model_code

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Flatten", ["r"], ["y"], axis=1)],
        "flat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "flat.onnx"))
    with pytest.raises(
        ConfigurationError, match=r"flat\.onnx: Aidge cannot export it: .*no kernel for node \S+ \(Flatten\)"
    ):
        model_code(tmp_path / "flat.onnx", tmp_path / "generated")


def test_a_dynamic_axis_besides_the_batch_is_refused_before_export(tmp_path: Path) -> None:
    pytest.importorskip("aidge_export_cpp")
    import onnx
    from onnx import TensorProto, helper

    from deploybench.backends.aidge_export import model_code

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "width"])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "wide.onnx"))
    with pytest.raises(ConfigurationError, match="`x` has a dynamic axis besides the batch"):
        model_code(tmp_path / "wide.onnx", tmp_path / "generated")


def test_the_aidge_cortexm_framework_runs_from_the_cli_and_stores_the_firmware_figures(
    cli: Run, tmp_path: Path
) -> None:
    require_firmware_tools()
    pytest.importorskip("aidge_export_cpp")
    model = tiny_classifier(tmp_path / "tiny.onnx")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    status, out, err = cli("run", str(model), "-F", "aidge-cortexm", "--count", "5", "--db", db)
    assert status == 0, err
    assert "emulated cortex-m7" in out and "instructions" in out
    status, listed, _ = cli("results", "list", "--db", db, "--format", "json")
    (record,) = json.loads(listed)
    emulation = record["emulation"]
    assert record["measurements"] == [] and record["resources"] is None
    assert len(emulation["instructions"]) == 5 and emulation["instructions_median"] > 0
    assert emulation["flash_bytes"] == sum(size for name, size in emulation["sections"].items() if name != ".bss")
    assert (
        emulation["ram_bytes"]
        == emulation["sections"][".data"] + emulation["sections"][".bss"] + emulation["stack_peak_bytes"]
    )
    assert 0 < emulation["model_flash_bytes"] < emulation["flash_bytes"]
    assert "aidge-export-cpp" in emulation["generator"] and "-O2" in emulation["compiler"]
    assert record["fidelity"]["top1_agreement"] == 1.0
    assert record["provenance"]["settings"] == {"board": "mps2-an500", "optimization": "O2"}

    status, _, err = cli("run", str(model), "-F", "aidge-cortexm", "--scenario", "offline", "--db", db)
    assert status != 0 and "single-stream only" in err


def test_a_firmware_too_large_for_the_board_says_by_how_much(tmp_path: Path) -> None:
    require_firmware_tools()
    code = _bad_code(tmp_path / "src", "")
    small = board().model_copy(update={"flash_bytes": 16 * 1024})
    with pytest.raises(FirmwareError, match=r"linking firmware\.elf failed: .*region `FLASH' overflowed by \d+ bytes"):
        build(code, tmp_path / "firmware", small)


def test_an_unknown_optimization_level_is_refused(tmp_path: Path) -> None:
    code = _bad_code(tmp_path / "src", "")
    with pytest.raises(ConfigurationError, match="optimization `O9` is not one of O0, O1, O2, O3, Os"):
        build(code, tmp_path / "firmware", board(), "O9")


def test_a_model_whose_weights_exceed_the_boards_flash_is_refused_before_building(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from deploybench.backends.aidge_cortexm import AidgeCortexMBackend

    weights = numpy_helper.from_array(np.zeros((1100, 1200), dtype=np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "weights"], ["y"])],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1100])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1200])],
        [weights],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "wide.onnx"))
    with pytest.raises(
        ConfigurationError, match=r"weights alone \(5\.0 MiB\) exceed .* flash \(4\.0 MiB\) by 1\.0 MiB"
    ):
        AidgeCortexMBackend().prepare(tmp_path / "wide.onnx", {}, tmp_path / "work")
    assert not (tmp_path / "work" / "code").exists()


def test_a_flatten_that_changes_nothing_in_front_of_a_policy_network_is_dropped(tmp_path: Path) -> None:
    require_firmware_tools()
    pytest.importorskip("aidge_export_cpp")
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from deploybench.backends.aidge_export import model_code

    weights = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["obs"], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["q"])],
        "policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(weights, "w")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / "policy.onnx"))
    code = model_code(tmp_path / "policy.onnx", tmp_path / "generated")
    inputs = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    done = run(build(code, tmp_path / "firmware", board()), code, inputs)
    session = onnxruntime.InferenceSession(str(tmp_path / "policy.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"obs": inputs})[0]
    assert np.abs(np.stack([row[code.outputs[0][0]] for row in done.outputs]) - expected).max() < 1e-5
