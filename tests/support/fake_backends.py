"""Fake backends that stand in for runtimes that crash, hang, get killed or misbehave.

They are registered for a worker through `DEPLOYBENCH_BACKENDS` (see `fake_backend_env`), never globally.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import ClassVar

from deploybench.backends.base import Capabilities, Prepared, Probe
from deploybench.backends.onnxruntime import OnnxRuntimeBackend, OnnxRuntimeSession
from deploybench.core.records import SettingValue

SUPPORT = Path(__file__).parent


class _Fake:
    name: ClassVar[str] = "fake"

    def probe(self) -> Probe:
        return Probe(True, version="0-fake")

    def capabilities(self) -> Capabilities:
        return Capabilities(input_formats=("onnx",))

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        return Prepared(artifact=model, prepare_s=None, settings=dict(settings))


class SegfaultingBackend(_Fake):
    """Dies of SIGSEGV while loading the model."""

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        os.kill(os.getpid(), signal.SIGSEGV)
        raise AssertionError("unreachable")


class KilledBackend(_Fake):
    """Dies of SIGKILL while loading, as under the out-of-memory killer."""

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        print("allocating a lot of memory", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class HangingBackend(_Fake):
    """Never finishes loading."""

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        while True:
            time.sleep(1)


class RaisingBackend(_Fake):
    """Refuses the model with the runtime's own exception type."""

    def prepare(self, model: Path, settings: dict[str, SettingValue], workdir: Path) -> Prepared:
        raise RuntimeError("fake runtime: unsupported operator `Frobnicate`")

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        raise AssertionError("unreachable")


class NoisyBackend(OnnxRuntimeBackend):
    """ONNX Runtime that prints on stdout, as some runtimes do: the protocol must survive it."""

    name: ClassVar[str] = "fake-noisy"

    def open_session(self, prepared: Prepared) -> OnnxRuntimeSession:
        print('{"event": "result", "record": "not a record"} and other chatter', flush=True)
        os.write(1, b"raw bytes on fd 1\n")
        return super().open_session(prepared)


FAKES = {
    "fake-segfault": "SegfaultingBackend",
    "fake-killed": "KilledBackend",
    "fake-hang": "HangingBackend",
    "fake-raise": "RaisingBackend",
    "fake-noisy": "NoisyBackend",
}


def fake_backend_env() -> dict[str, str]:
    """The environment of a worker that knows the fakes."""
    env = dict(os.environ)
    env["DEPLOYBENCH_BACKENDS"] = ",".join(f"{n}=tests.support.fake_backends:{c}" for n, c in FAKES.items())
    root = str(SUPPORT.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env
