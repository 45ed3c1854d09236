"""Backends by name: the built-in ones, the entry-point group `deploybench.backends`, and
`DEPLOYBENCH_BACKENDS` for backends under development. Looking a backend up imports no runtime.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from deploybench.backends.base import Backend
from deploybench.core.errors import PluginError

ENTRY_POINT_GROUP = "deploybench.backends"
BACKENDS_ENV = "DEPLOYBENCH_BACKENDS"
"""`name=module:Class` pairs separated by commas: backends not (yet) packaged with an entry point."""

BUILTIN = {
    "onnxruntime": "deploybench.backends.onnxruntime:OnnxRuntimeBackend",
    "onnx-reference": "deploybench.backends.onnx_reference:OnnxReferenceBackend",
    "openvino": "deploybench.backends.openvino:OpenVinoBackend",
    "tvm": "deploybench.backends.tvm:TvmBackend",
    "torch": "deploybench.backends.pytorch:TorchBackend",
    "torchscript": "deploybench.backends.pytorch:TorchScriptBackend",
    "torch-reference": "deploybench.backends.pytorch:TorchReferenceBackend",
    "litert": "deploybench.backends.litert:LiteRtBackend",
    "litert-reference": "deploybench.backends.litert:LiteRtReferenceBackend",
    "executorch": "deploybench.backends.executorch:ExecuTorchBackend",
    "aidge-cortexm": "deploybench.backends.aidge_cortexm:AidgeCortexMBackend",
    "emlearn-cortexm": "deploybench.backends.emlearn_cortexm:EmlearnCortexMBackend",
    "hls4ml": "deploybench.backends.hls4ml_csim:Hls4mlBackend",
    "quark": "deploybench.backends.quark:QuarkBackend",
    "nir-reference": "deploybench.backends.nir_reference:NirReferenceBackend",
    "snntorch": "deploybench.backends.snntorch_nir:SnnTorchBackend",
    "norse": "deploybench.backends.norse_nir:NorseBackend",
    "spikingjelly": "deploybench.backends.spikingjelly_nir:SpikingJellyBackend",
}


def registered() -> dict[str, str]:
    """Every backend name and the `module:Class` that implements it; a name registered twice is an error."""
    found = dict(BUILTIN)
    extra = [(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    extra += [_pair(item) for item in os.environ.get(BACKENDS_ENV, "").split(",") if item.strip()]
    for name, target in extra:
        if name in found and found[name] != target:
            raise PluginError(
                f"backend `{name}` is registered twice: {found[name]} and {target}", hint="uninstall or rename one"
            )
        found[name] = target
    return found


def load_backend(name: str) -> Backend:
    """An instance of the backend registered as name (its module is imported now)."""
    table = registered()
    if name not in table:
        raise PluginError(f"unknown framework `{name}`", hint=f"use one of: {', '.join(sorted(table))}")
    module_name, _, class_name = table[name].partition(":")
    try:
        backend_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"backend `{name}` cannot be loaded from `{table[name]}`: {exc}") from exc
    backend: Backend = backend_class()
    return backend


def _pair(item: str) -> tuple[str, str]:
    name, sep, target = item.strip().partition("=")
    if not sep or ":" not in target:
        raise PluginError(f"{BACKENDS_ENV}: `{item.strip()}` is not `name=module:Class`")
    return name.strip(), target.strip()
