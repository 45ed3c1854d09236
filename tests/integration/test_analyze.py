"""`deploybench analyze` on ONNX models whose parameters, MACs, FLOPs, bytes and memory are computed by hand
here, and on the bad inputs: truncated files, missing or escaping external data, custom domains, bad --dim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import Run
from tests.support.models import tiny_classifier, with_external_data

from deploybench.analyze.onnx_anatomy import analyze_onnx
from deploybench.analyze.records import OperatorClass
from deploybench.core.errors import ConfigurationError

F32 = 4


def conv_net(path: Path, batch: int | str = 1) -> Path:
    """1x3x8x8 -> Conv 3->8 (3x3, pad 1) -> Relu -> depthwise Conv (group 8, 3x3, pad 1) -> Flatten -> Gemm 512->4."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
            helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="dw", pads=[1, 1, 1, 1], group=8),
            helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
            helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
        ],
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        [
            weight("w1", 8, 3, 3, 3),
            weight("b1", 8),
            weight("w2", 8, 1, 3, 3),
            weight("b2", 8),
            *[
                weight("w3", 4, 512),
                weight("b3", 4),
            ],
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hand")
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_counts_match_the_hand_computed_ones(tmp_path: Path) -> None:
    anatomy = analyze_onnx(conv_net(tmp_path / "net.onnx"))
    params = 8 * 3 * 9 + 8 + 8 * 9 + 8 + 4 * 512 + 4
    (group,) = anatomy.parameters
    assert (group.dtype, group.count, group.bytes) == ("float32", params, params * F32)
    work = {n.name: n for n in anatomy.nodes}
    assert work["conv"].op_class is OperatorClass.CONVOLUTION and work["conv"].macs == 8 * 8 * 8 * 27
    assert work["dw"].op_class is OperatorClass.DEPTHWISE_CONVOLUTION and work["dw"].macs == 8 * 8 * 8 * 9
    assert work["fc"].op_class is OperatorClass.GEMM and work["fc"].macs == 512 * 4
    assert work["relu"].macs == 0 and work["relu"].flops == 512
    assert work["flatten"].op_class is OperatorClass.DATA_MOVEMENT and work["flatten"].flops == 0
    assert work["conv"].bytes_moved == (192 + 216 + 8 + 512) * F32
    assert anatomy.macs == 13824 + 4608 + 2048 and anatomy.flops == 2 * anatomy.macs + 512
    assert anatomy.bytes_moved == sum(n.bytes_moved or 0 for n in anatomy.nodes)
    assert anatomy.intensity == pytest.approx(anatomy.flops / anatomy.bytes_moved)
    assert anatomy.memory.weights_bytes == params * F32
    assert anatomy.memory.peak_activation_bytes == (512 + 512) * F32 and anatomy.memory.peak_at_node == "relu"
    assert anatomy.memory.min_working_set_bytes == params * F32 + (512 + 512) * F32
    assert anatomy.operators == {"Conv": 2, "Relu": 1, "Flatten": 1, "Gemm": 1}
    assert anatomy.opsets == {"": 17} and anatomy.producer == "hand"


@pytest.mark.parametrize(
    ("equation", "shapes", "out", "macs"),
    [
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], (2, 3, 5), 2 * 3 * 5 * 4),
        ("...ij,...jk->...ik", [(6, 3, 4), (6, 4, 5)], (6, 3, 5), 6 * 3 * 5 * 4),
        ("ij->i", [(7, 9)], (7,), 7 * 9),
    ],
)
def test_an_einsum_counts_a_mac_per_output_element_and_summed_index(
    tmp_path: Path, equation: str, shapes: list[tuple[int, ...]], out: tuple[int, ...], macs: int
) -> None:
    import onnx
    from onnx import TensorProto, helper

    names = [f"x{i}" for i in range(len(shapes))]
    graph = helper.make_graph(
        [helper.make_node("Einsum", names, ["y"], equation=equation)],
        "einsum",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in zip(names, shapes, strict=True)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
    )
    path = tmp_path / "einsum.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    anatomy = analyze_onnx(path, {})
    assert anatomy.uncounted_nodes == 0
    assert anatomy.macs == macs
    assert anatomy.classes[0].op_class is OperatorClass.GEMM


def test_dynamic_dimensions_are_symbolic_until_given(tmp_path: Path) -> None:
    path = conv_net(tmp_path / "net.onnx", batch="batch")
    symbolic = analyze_onnx(path)
    assert symbolic.symbolic_dims == ("batch",) and symbolic.uncounted_nodes == 5
    assert all(n.unknown == "symbolic dimension batch (give --dim)" for n in symbolic.nodes)
    assert symbolic.memory.peak_activation_bytes is None
    fixed = analyze_onnx(path, {"batch": 2})
    assert fixed.uncounted_nodes == 0 and fixed.macs == 2 * (13824 + 4608 + 2048)
    with pytest.raises(ConfigurationError, match=r"no dynamic dimension `batsch`.*its dynamic dimensions: batch"):
        analyze_onnx(path, {"batsch": 2})
    with pytest.raises(ConfigurationError, match="--dim batch=0: a dimension must be between 1 and 2"):
        analyze_onnx(path, {"batch": 0})


def test_a_custom_domain_operator_is_counted_as_unknown(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Frobnicate", ["r"], ["y"], domain="com.example", name="frob"),
        ],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "custom.onnx"))
    anatomy = analyze_onnx(tmp_path / "custom.onnx")
    frob = next(n for n in anatomy.nodes if n.name == "frob")
    assert frob.op_class is OperatorClass.OTHER and frob.macs is None
    assert frob.unknown == "operator com.example.Frobnicate: its work is not in deploybench's operator table"
    assert anatomy.operators == {"Relu": 1, "com.example.Frobnicate": 1} and anatomy.uncounted_nodes == 1
    assert anatomy.opsets == {"": 17, "com.example": 1}


def test_external_data_is_read_by_shape_only(tmp_path: Path) -> None:
    path = with_external_data(tiny_classifier(tmp_path / "tiny.onnx"), "tiny.data")
    anatomy = analyze_onnx(path, {"batch": 3})
    assert anatomy.parameters[0].count == 8 * 4 + 4
    assert next(n for n in anatomy.nodes if n.op_type == "MatMul").macs == 3 * 8 * 4


def test_the_cli_prints_tables_and_json(cli: Run, tmp_path: Path) -> None:
    path = conv_net(tmp_path / "net.onnx")
    status, out, err = cli("analyze", str(path))
    assert status == 0, err
    assert "depthwise_convolution" in out and "20,480" in out
    status, out, err = cli("analyze", str(path), "--format", "json", "--nodes")
    assert status == 0, err
    data = json.loads(out)
    assert data["macs"] == 20480 and len(data["nodes"]) == 5
    status, out, _ = cli("analyze", str(path), "--format", "json")
    assert "nodes" not in json.loads(out)


def test_the_anatomy_is_kept_for_the_selection_tool_unless_told_not_to(cli: Run, tmp_path: Path) -> None:
    from deploybench.select.analysis_store import latest_anatomy
    from deploybench.store import ResultStore

    path = conv_net(tmp_path / "net.onnx")
    db = f"sqlite:///{tmp_path / 'kept.db'}"
    status, _, err = cli("analyze", str(path), "--no-save", "--db", db)
    assert status == 0, err
    with ResultStore.open(db) as store:
        assert latest_anatomy(path, store) is None
    status, out, err = cli("analyze", str(path), "--format", "json", "--nodes", "--db", db)
    assert status == 0, err
    with ResultStore.open(db) as store:
        kept = latest_anatomy(path, store)
    assert kept is not None and kept.model_dump(mode="json") == json.loads(out)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", "not a readable ONNX model"),
        ("missing-data", "external data file `tiny.data` of tensor"),
        ("escaping-data", "points outside the model's folder"),
    ],
)
def test_bad_files_are_one_line_errors(cli: Run, tmp_path: Path, damage: str, message: str) -> None:
    path = tiny_classifier(tmp_path / "tiny.onnx")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:40])
    else:
        with_external_data(path, "tiny.data")
        (tmp_path / "tiny.data").unlink()
        if damage == "escaping-data":
            escape(path, "../outside.data")
    status, out, err = cli("analyze", str(path))
    assert status != 0 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and message in line and "Traceback" not in err


def escape(path: Path, location: str) -> None:
    """Point every external tensor of the model at location (onnx itself refuses to write such a model)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    path.write_bytes(model.SerializeToString())


def test_other_formats_are_refused_with_what_to_do(cli: Run, tmp_path: Path) -> None:
    status, _, err = cli("analyze", str(tmp_path / "model.bin"))
    assert status == 2 and "unknown model format `.bin`" in err


def test_the_reader_leaves_out_only_large_weights_values(tmp_path: Path) -> None:
    import onnx

    from deploybench.analyze.onnx_reader import read_without_weights

    path = conv_net(tmp_path / "net.onnx")
    whole = onnx.load(str(path))
    read, stripped = read_without_weights(path)
    assert stripped == {"w3"}
    assert read.graph.node == whole.graph.node and read.graph.input == whole.graph.input
    assert read.opset_import == whole.opset_import and read.producer_name == "hand"
    for ours, theirs in zip(read.graph.initializer, whole.graph.initializer, strict=True):
        assert (ours.name, list(ours.dims), ours.data_type) == (theirs.name, list(theirs.dims), theirs.data_type)
        assert ours.raw_data == (b"" if ours.name == "w3" else theirs.raw_data)


def test_a_file_cut_inside_a_weight_is_refused(cli: Run, tmp_path: Path) -> None:
    path = conv_net(tmp_path / "net.onnx")
    path.write_bytes(path.read_bytes()[:-2000])
    status, out, err = cli("analyze", str(path))
    assert status == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {path}: not a readable ONNX model (") and "uncorrupted .onnx file" in line


def test_a_tflite_model_is_analyzed_from_its_flatbuffer(cli: Run, tmp_path: Path) -> None:
    from tests.support.tflite_models import tiny_tflite

    from deploybench.analyze.tflite_anatomy import analyze_tflite

    path, _, _ = tiny_tflite(tmp_path / "tiny.tflite", features=8, classes=4)
    symbolic = analyze_tflite(path)
    assert symbolic.symbolic_dims == ("d0",) and symbolic.uncounted_nodes == 2
    anatomy = analyze_tflite(path, {"d0": 3})
    (group,) = anatomy.parameters
    assert (group.dtype, group.count, group.bytes) == ("float32", 8 * 4 + 4, (8 * 4 + 4) * F32)
    fc, softmax = anatomy.nodes
    assert (fc.op_type, fc.op_class, fc.macs) == ("FULLY_CONNECTED", OperatorClass.GEMM, 3 * 4 * 8)
    assert (softmax.op_type, softmax.flops) == ("SOFTMAX", 3 * 3 * 4)
    assert fc.bytes_moved == (3 * 8 + 4 * 8 + 4 + 3 * 4) * F32
    assert anatomy.memory.peak_activation_bytes == (3 * 8 + 3 * 4) * F32
    assert [t.name for t in anatomy.inputs] == ["input"] and anatomy.operators == {"FULLY_CONNECTED": 1, "SOFTMAX": 1}
    status, out, err = cli("analyze", str(path), "--dim", "d0=3", "--format", "json")
    assert status == 0, err
    assert json.loads(out)["macs"] == 96


def test_a_file_that_is_not_a_flatbuffer_is_refused(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "bogus.tflite"
    path.write_bytes(b"\x00" * 64)
    status, out, err = cli("analyze", str(path))
    assert status == 1 and out == ""
    assert err.strip() == f"error: {path}: not a TFLite flatbuffer; give a whole .tflite file"


def test_a_pytorch_program_is_analyzed_from_its_aten_graph(cli: Run, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from deploybench.analyze.pytorch_anatomy import analyze_pytorch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.bn = torch.nn.BatchNorm2d(8)
            self.pool = torch.nn.AdaptiveAvgPool2d(1)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x: Any) -> Any:
            features = self.pool(self.bn(self.dw(torch.relu(self.conv(x)))))
            return torch.softmax(self.fc(torch.flatten(features, 1)), -1)

    batch = torch.export.Dim("batch")
    program = torch.export.export(Net().eval(), (torch.randn(2, 3, 8, 8),), dynamic_shapes=({0: batch},))
    path = tmp_path / "net.pt2"
    torch.export.save(program, str(path))
    symbolic = analyze_pytorch(path)
    (name,) = symbolic.symbolic_dims
    assert symbolic.uncounted_nodes > 0
    anatomy = analyze_pytorch(path, {name: 1})
    assert anatomy.uncounted_nodes == 0 and [t.name for t in anatomy.inputs] == ["x"]
    groups = {g.dtype: g.count for g in anatomy.parameters}
    assert groups == {"float32": 216 + 8 + 72 + 8 + 8 + 8 + 32 + 4 + 8 + 8, "int64": 1}
    work = {n.op_type: n for n in anatomy.nodes}
    assert work["aten.relu"].flops == 512 and work["aten.linear"].macs == 32
    convs = [n for n in anatomy.nodes if n.op_type == "aten.conv2d"]
    assert [(n.op_class, n.macs) for n in convs] == [
        (OperatorClass.CONVOLUTION, 512 * 27),
        (OperatorClass.DEPTHWISE_CONVOLUTION, 512 * 9),
    ]
    assert work["aten.adaptive_avg_pool2d"].flops == 8 * 64 and work["aten.softmax"].flops == 12
    assert anatomy.macs == 512 * 27 + 512 * 9 + 32
    status, out, err = cli("analyze", str(path), "--dim", f"{name}=2", "--format", "json")
    assert status == 0, err
    assert json.loads(out)["macs"] == 2 * anatomy.macs
