"""hls4ml, the FPGA flow that writes a network as high-level-synthesis C++ with fixed-point arithmetic: the ONNX
model cleaned up by QONNX (FINN's front end), converted by hls4ml for the Vitis flow, and its bit-accurate C
simulation compiled with the host's g++. What the simulation gives is the design's outputs, so fidelity against
the FP32 reference is measured; its latency and FPGA resources are not (they need Vitis HLS synthesis)."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploybench.backends.base import Capabilities, InferringSession, Prepared, Probe, TensorSpec, installed_package
from deploybench.backends.onnx_model import at_batch_one, check_onnx_model, constant_tensors
from deploybench.backends.qonnx_ops import DOMAINS
from deploybench.backends.settings import resolve_settings
from deploybench.core.errors import BackendError, ConfigurationError
from deploybench.core.records import SettingValue, Simulation

if TYPE_CHECKING:
    import numpy as np

DEFAULTS: dict[str, SettingValue] = {"precision": "fixed<16,6>"}
"""hls4ml's own default number type."""
FLOW = "Vitis"
IO_TYPE = "io_parallel"
LINEAR = ("Conv", "Gemm", "MatMul")
NOT_MEASURED = "latency, initiation interval and FPGA resources: they need Vitis HLS synthesis, not installed here"


class Hls4mlBackend:
    """hls4ml's C simulation of the FPGA design it makes from the model."""

    name: ClassVar[str] = "hls4ml"

    def __init__(self) -> None:
        self._built: dict[Path, Design] = {}

    def probe(self) -> Probe:
        """hls4ml and QONNX installed, and g++ to compile the simulation?"""
        found = installed_package("hls4ml", "hls4ml", "fpga")
        if not found.available:
            return found
        if not installed_package("qonnx", "qonnx", "fpga").available:
            return Probe(False, reason="qonnx is not installed: pip install 'deploybench[fpga]'")
        if shutil.which("g++") is None:
            return Probe(False, reason="g++ is not installed: apt-get install g++")
        return found

    def capabilities(self) -> Capabilities:
        """ONNX in, batch one, simulated; for small networks only."""
        return Capabilities(
            input_formats=("onnx",),
            settings={
                "precision": "default fixed-point type of the design, e.g. fixed<16,6> (hls4ml's default); in a "
                "QONNX model, only of the layers whose type its quantizers do not give"
            },
            dynamic_batch=False,
            simulated=True,
            only="small networks for an FPGA's fabric (hls4ml lays every weight out in logic)",
        )

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        """Convert the model with QONNX and hls4ml and compile its C simulation (timed as preparation)."""
        check_onnx_model(model)
        resolved = resolve_settings(self.name, settings, DEFAULTS)
        started = time.perf_counter()
        design = _design(model, str(resolved["precision"]), workdir / "hls4ml")
        self._built[design.folder] = design
        return Prepared(
            artifact=design.folder,
            prepare_s=time.perf_counter() - started,
            settings=resolved,
            converter=f"qonnx {installed_package('qonnx', 'qonnx', 'fpga').version}",
        )

    def open_session(self, prepared: Prepared) -> Design:
        """The compiled simulation this backend prepared."""
        if prepared.artifact not in self._built:
            raise BackendError(f"{prepared.artifact}: not a design this backend prepared")
        return self._built[prepared.artifact]


class Design(InferringSession):
    """An hls4ml design's compiled C simulation behind the session protocol: each run simulates one input."""

    def __init__(
        self,
        folder: Path,
        hls_model: Any,
        given: TensorSpec,
        outputs: dict[str, tuple[int, ...]],
        simulation: Simulation,
    ) -> None:
        self.folder = folder
        self._model = hls_model
        self._given = given
        self._outputs = outputs
        self._simulation = simulation
        self._feeds: dict[str, np.ndarray] = {}
        self._last: dict[str, np.ndarray] = {}

    def inputs(self) -> list[TensorSpec]:
        """The model's single input, at batch one."""
        return [self._given]

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One simulated inference on feeds."""
        return self.simulate([feeds])[0][0]

    def simulate(self, feeds: list[dict[str, np.ndarray]]) -> tuple[list[dict[str, np.ndarray]], Simulation]:
        """Every input through the C simulation: the outputs, shaped as the model's, and how they were made."""
        import numpy as np

        rows = np.ascontiguousarray(np.concatenate([np.asarray(f[self._given.name], np.float32) for f in feeds]))
        with contextlib.redirect_stdout(io.StringIO()):
            predicted = self._model.predict(rows)
        count = len(feeds)
        columns = [
            np.asarray(column).reshape(count, -1)
            for column in (predicted if isinstance(predicted, list) else [predicted])
        ]
        outputs = [
            {
                name: np.asarray(column[i], dtype=np.float32).reshape(shape)
                for (name, shape), column in zip(self._outputs.items(), columns, strict=True)
            }
            for i in range(len(feeds))
        ]
        return outputs, self._simulation

    def close(self) -> None:
        """Nothing to release: the simulation library stays loaded with the process."""


def _design(model: Path, precision: str, folder: Path) -> Design:
    """The model cleaned by QONNX, converted by hls4ml and its C simulation compiled into folder; an operator
    hls4ml does not convert is a one-line error naming it."""
    import hls4ml
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    proto, inputs, shapes = at_batch_one(model)
    ((input_name, shape),) = inputs.items()
    _fold_input_scaling(proto, input_name)
    folded = folder.parent / "model-static.onnx"
    onnx.save(proto, str(folded))
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapper = cleanup_model(ModelWrapper(str(folded)))
            wrapper = wrapper.transform(ConvertToChannelsLastAndClean(make_input_channels_last=False))
            wrapper = cleanup_model(wrapper.transform(GemmToMatMul()))
            config = hls4ml.utils.config.config_from_onnx_model(
                wrapper, granularity=_granularity(proto), backend=FLOW, default_precision=precision
            )
            hls_model = hls4ml.converters.convert_from_onnx_model(
                wrapper, output_dir=str(folder), backend=FLOW, hls_config=config, io_type=IO_TYPE
            )
    except Exception as exc:  # hls4ml and QONNX raise bare Exceptions: the first line names the operator
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ConfigurationError(
            f"{model.name}: hls4ml cannot convert it: {first.removeprefix('ERROR: ')}",
            hint="`deploybench analyze --compliance` lists the frameworks that take each operator",
        ) from exc
    try:
        with contextlib.redirect_stdout(quiet):
            hls_model.compile()
    except Exception as exc:
        raise BackendError(f"{model.name}: hls4ml's C simulation did not compile: {exc}") from exc
    version = installed_package("hls4ml", "hls4ml", "fpga").version
    simulation = Simulation(
        simulator=f"hls4ml {version} C simulation ({FLOW} flow, {IO_TYPE}), g++ {_gxx_version()}",
        precision=precision,
        not_measured=NOT_MEASURED,
    )
    given = TensorSpec(input_name, tuple(shape), "float32")
    return Design(folder, hls_model, given, shapes, simulation)


def _granularity(proto: Any) -> str:
    """hls4ml's configuration granularity: `name` for a QONNX model, so that each layer's fixed-point type is
    inferred from its quantizers (hls4ml's documentation says QONNX models must use it); `model` for plain ONNX,
    where every layer takes the `precision` setting."""
    return "name" if any(node.domain in DOMAINS for node in proto.graph.node) else "model"


def _fold_input_scaling(proto: Any, input_name: str) -> None:
    """Fold, in place, a division or multiplication of the input by a constant, whose result only the weights of
    linear layers (Conv, Gemm, MatMul) read, into those weights: the same function, and hls4ml 1.3 cannot type
    such a scaling layer's constant (it fails on it). Other models are left as they are."""
    from onnx import numpy_helper

    graph = proto.graph
    weights = {t.name: t for t in graph.initializer}
    constants = constant_tensors(graph)
    for node in list(graph.node):
        if node.op_type not in ("Div", "Mul") or list(node.input).count(input_name) != 1 or node.input[0] != input_name:
            continue
        factor = numpy_helper.to_array(constants[node.input[1]]) if node.input[1] in constants else None
        readers = [n for n in graph.node if node.output[0] in n.input]
        if (
            factor is None
            or factor.size != 1
            or not readers
            or any(
                r.op_type not in LINEAR or r.input[0] != node.output[0] or r.input[1] not in weights for r in readers
            )
        ):
            continue
        scale = 1 / float(factor.item()) if node.op_type == "Div" else float(factor.item())
        for reader in readers:
            tensor = weights[reader.input[1]]
            values = numpy_helper.to_array(tensor)
            tensor.CopyFrom(numpy_helper.from_array((values * scale).astype(values.dtype), tensor.name))
            reader.input[0] = input_name
        graph.node.remove(node)


def _gxx_version() -> str:
    """The host compiler's version."""
    return subprocess.run(["g++", "-dumpfullversion"], capture_output=True, text=True).stdout.strip() or "unknown"
