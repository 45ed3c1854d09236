"""`python -m deploybench.zoo.builder`, inside the toolchain environment: read one build request (JSON) on
stdin, build the module with its recipe's builder (seeded), count its parameters, export it with the real
exporter, and write the build record (JSON) on stdout. Whatever the libraries print goes to stderr."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from deploybench.worker.toolchains import TOOLCHAIN_ENV
from deploybench.zoo.builders.base import Model
from deploybench.zoo.qat import Qat, export_qonnx
from deploybench.zoo.records import FORMAT_SUFFIX, Built

SEED = 0


class ExportError(Exception):
    """An exporter refused the model; the message names the exporter and what it refused."""


def build(request: dict[str, Any]) -> Built:
    """Build and export the model the request describes into its folder."""
    import torch

    shape = tuple(request["input_shape"])
    start = time.perf_counter()
    model = _construct(request)
    model.module.eval()
    build_s = time.perf_counter() - start
    inputs = model.inputs or {"input": torch.randn(*shape, generator=torch.Generator().manual_seed(SEED))}
    parameters = sum(p.numel() for p in model.module.parameters())
    out = Path(request["out"]) / f"{request['name']}{FORMAT_SUFFIX[request['format']]}"
    start = time.perf_counter()
    metrics = dict(model.metrics)
    try:
        if request["format"] == "nir":
            exporter = _export_nir(model, out)
        elif request["format"] == "qonnx":
            exporter, measured = export_qonnx(model, Qat.model_validate(request["qat"]), inputs, out)
            metrics.update(measured)
        else:
            exporter = _export(model.module, inputs, model.outputs, out, request)
    except Exception as exc:  # the exporter's own failure, whatever its type: named with the exporter
        raise ExportError(f"{_exporter_name(request)} cannot export it: {type(exc).__name__}: {_first(exc)}") from exc
    export_s = time.perf_counter() - start
    data = _save_data(model, out.with_name(f"{request['name']}-data.npz"))
    names = ("torch", "onnx", *request["packages"])
    return Built(
        file=out.name,
        parameters=parameters,
        inputs={name: tuple(int(d) for d in tensor.shape) for name, tensor in inputs.items()},
        outputs=model.outputs,
        exporter=exporter,
        weights=model.weights,
        metrics=metrics,
        packages={name: _version(name) for name in names},
        build_s=build_s,
        export_s=export_s,
        notes=model.notes,
        data=data,
    )


def _save_data(model: Model, path: Path) -> str | None:
    """Write the model's held-out rows as `.npz` beside the artifact; their file name, or None without rows."""
    import numpy as np

    if model.data is None:
        return None
    np.savez(path, **{name: tensor.numpy() for name, tensor in model.data.items()})
    return path.name


def count(request: dict[str, Any]) -> int:
    """The parameters of the module the request describes, built but not exported."""
    return sum(p.numel() for p in _construct(request).module.parameters())


def _construct(request: dict[str, Any]) -> Model:
    """The request's builder called on its shape and arguments, torch seeded first."""
    import torch

    torch.manual_seed(SEED)
    builder = _builder(request["builder"])
    model: Model = builder(tuple(request["input_shape"]), **request["arguments"])
    return model


def _builder(name: str) -> Any:
    """The builder function `module:function`: a module of deploybench's builders, else one of the user's."""
    module_name, function = name.split(":")
    own = f"deploybench.zoo.builders.{module_name}"
    try:
        module = importlib.import_module(own)
    except ModuleNotFoundError as exc:
        if exc.name != own:
            raise
        module = importlib.import_module(module_name)
    return getattr(module, function)


def _export(module: Any, inputs: dict[str, Any], outputs: tuple[str, ...], out: Path, request: dict[str, Any]) -> str:
    """Export with torch's own exporters; the exporter and its settings, as the record says them."""
    import torch

    args = tuple(inputs.values())
    with torch.no_grad():
        if request["format"] == "pt2":
            program = torch.export.export(module, args)
            torch.export.save(program, str(out))
            return f"torch.export {torch.__version__}"
        dynamo = bool(request["dynamo"])
        torch.onnx.export(
            module,
            args,
            str(out),
            input_names=list(inputs),
            output_names=list(outputs),
            opset_version=int(request["opset"]),
            dynamo=dynamo,
            external_data=False,
        )
    restored = _restore_shared_initializers(out)
    note = f"; {restored} shared initializers restored from Identity nodes" if restored else ""
    return f"{_exporter_name(request)} from torch {torch.__version__}{note}"


def _export_nir(model: Model, out: Path) -> str:
    """Write the spiking network's NIR graph; the exporter, with how the NIR reference's outputs on the held-out
    rows compare with the trained network's (what describing the network in NIR costs)."""
    import nir
    import numpy as np
    import torch

    from deploybench.backends.nir_graph import Graph
    from deploybench.backends.nir_reference import NirReferenceSession

    if model.nir is None:
        raise ValueError("its recipe says `nir: graph`, but its builder returned no NIR graph (Model.nir)")
    nir.write(str(out), model.nir())
    exporter = f"nir {_version('nir')}, the graph written here from the trained module"
    if model.data is None:
        return exporter
    rows = model.data["x"]
    with torch.no_grad():
        trained = model.module(rows).numpy()
    session = NirReferenceSession(Graph(out))
    described = next(iter(session.infer({"x": rows.numpy()}).values()))
    agreement = float(np.mean(trained.argmax(1) == described.argmax(1)))
    error = float(np.abs(trained - described).max())
    return (
        f"{exporter}; the NIR reference against the trained network on {len(rows)} held-out rows: top-1 agreement "
        f"{agreement:.3f}, max abs difference {error:.3g}"
    )


def _restore_shared_initializers(path: Path) -> int:
    """The TorchScript exporter keeps one copy of equal initializers and feeds the others through Identity
    nodes (random biases folded with batch norm are all equal); converters such as onnx2torch then miss a Conv
    bias among the initializers. Each such Identity becomes an initializer of its own again: the same values,
    the same names; how many were restored."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    outputs = {value.name for value in graph.output}
    shared = [
        node
        for node in graph.node
        if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in outputs
    ]
    for node in shared:
        copy = onnx.TensorProto()
        copy.CopyFrom(initializers[node.input[0]])
        copy.name = node.output[0]
        graph.initializer.append(copy)
        graph.node.remove(node)
    if shared:
        onnx.save(model, str(path))
    return len(shared)


def _reason(exc: Exception) -> str:
    """One line: what failed, and for a package this environment lacks, how to get it."""
    if isinstance(exc, ExportError):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.split(".")[0]
        where = os.environ.get(TOOLCHAIN_ENV, "main")
        return (
            f"its builder needs the package `{package}`, which the `{where}` environment lacks: add it to the "
            f"toolchain's requirements and run `deploybench toolchain install {where} --force`"
        )
    return f"{type(exc).__name__}: {_first(exc)}"


def _exporter_name(request: dict[str, Any]) -> str:
    if request["format"] == "nir":
        return f"the NIR export (nir {_version('nir')})"
    if request["format"] == "pt2":
        return "torch.export"
    if request["format"] == "qonnx":
        return f"Brevitas's QONNX export (brevitas {_version('brevitas')})"
    return f"torch.onnx.export ({'dynamo' if request['dynamo'] else 'TorchScript'}, opset {request['opset']})"


def _first(exc: Exception) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), "")


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    """Keep stdout for the record alone."""
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.read())
    try:
        if sys.argv[1:] == ["--count"]:
            counts = {item["name"]: count(item) for item in request}
            channel.write(json.dumps({"parameters": counts}) + "\n")
            return
        built = build(request)
    except Exception as exc:  # the library's own failure: reported in one line, the traceback to stderr
        import traceback

        traceback.print_exc()
        channel.write(json.dumps({"error": _reason(exc)}) + "\n")
        channel.flush()
        sys.exit(3)
    channel.write(built.model_dump_json() + "\n")
    channel.flush()


if __name__ == "__main__":
    main()
