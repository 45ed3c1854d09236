"""Build a zoo model: from the cache when it is there and whole, else by its recipe, in a child process of the
`pytorch` toolchain's environment (torch, timm, ... live there, never in this process); a `.tflite` file is
converted from the ONNX export by onnx2tf, in the `litert` toolchain's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deploybench.catalog import load_catalog
from deploybench.core.errors import ConfigurationError, WorkerError
from deploybench.core.hashing import file_sha256, sha256_of
from deploybench.worker.toolchains import TOOLCHAIN_ENV, Installed, install_command, installed
from deploybench.zoo.cache import cached, fresh, locked, store
from deploybench.zoo.recipe import Kind, recipe, resolved
from deploybench.zoo.records import Built, Format, ZooArtifact

NIR_GRAPH = "graph"
"""A recipe's `nir` for a spiking network its builder writes as a NIR graph."""
BUILDS_IN = "pytorch"
CONVERTS_IN = "litert"
TAIL_LINES = 5


def build_model(
    name: str, fmt: Format = "onnx", variant: Kind = "full", rebuild: bool = False, echo: Callable[[str], None] = print
) -> ZooArtifact:
    """The model as a file of the format asked, built (or rebuilt) only when the cache lacks it whole."""
    found = recipe(name)
    if fmt == "nir" and found.nir != NIR_GRAPH:
        why = found.nir or "NIR describes spiking networks only, and this model is not one"
        raise ConfigurationError(f"{name} has no NIR form: {why}", hint="export it as onnx or pt2")
    if fmt == "qonnx" and found.qat is None:
        raise ConfigurationError(
            f"{name} has no quantization-aware training: its recipe has no `qat`",
            hint="the zoo's models with `qat` (digits-cnn) export as qonnx; add `qat:` to a recipe of your own",
        )
    if fmt == "tflite":
        return _converted(name, variant, rebuild, echo)
    toolchain = _toolchain(BUILDS_IN, "building zoo models")
    key = sha256_of(
        {
            "recipe": found.sha256(),
            "code": _code_sha256(found.builder, fmt),
            "variant": variant,
            "format": fmt,
            "packages": toolchain.packages,
        }
    )
    with _reuse_or_fresh(key, rebuild, lambda why: echo(f"rebuilding {name}: {why}")) as (artifact, folder):
        if artifact is not None:
            return artifact
        arguments, shape = resolved(found, variant)
        request = {
            "name": name,
            "builder": found.builder,
            "arguments": arguments,
            "input_shape": list(shape),
            "format": fmt,
            "opset": found.opset,
            "dynamo": found.dynamo,
            "packages": list(found.packages),
            "qat": found.qat.model_dump() if found.qat else None,
            "out": str(folder),
        }
        built = _run_builder(toolchain, request, name)
        path = folder / built.file
        card = load_catalog().models.get(name)
        expected = card.parameters if card is not None else None
        artifact = ZooArtifact(
            name=name,
            variant=variant,
            format=fmt,
            path=str(path),
            sha256=file_sha256(path),
            size_bytes=path.stat().st_size,
            key=key,
            recipe_sha256=found.sha256(),
            card_parameters=expected,
            parameter_difference=(built.parameters - expected) / expected if expected and variant == "full" else None,
            built=built,
        )
        store(artifact)
        return artifact


def count_parameters(names: list[str]) -> dict[str, int]:
    """The parameters of each full model, built (not exported) by its recipe in one child process: to check
    them against the cards."""
    requests = [
        {
            "name": n,
            "builder": recipe(n).builder,
            "arguments": recipe(n).arguments,
            "input_shape": recipe(n).input_shape,
        }
        for n in names
    ]
    reply = _ask_builder(_toolchain(BUILDS_IN, "building zoo models"), requests, ", ".join(names), ["--count"])
    return {name: int(count) for name, count in reply["parameters"].items()}


def export_model(
    name: str, fmt: Format, out: Path, variant: Kind = "full", echo: Callable[[str], None] = print
) -> Path:
    """Copy the model, built if needed, to out (a file, or a folder to put it in), and its held-out rows, if it
    has any, beside it under their own name."""
    artifact = build_model(name, fmt, variant, echo=echo)
    target = out / Path(artifact.path).name if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact.path, target)
    rows = held_out_data(artifact)
    if rows is not None:
        shutil.copyfile(rows, target.parent / rows.name)
        echo(f"its held-out rows: {target.parent / rows.name}")
    return target


def _converted(name: str, variant: Kind, rebuild: bool, echo: Callable[[str], None]) -> ZooArtifact:
    """The `.tflite` file onnx2tf makes from the ONNX export, cached under its own key."""
    source = build_model(name, "onnx", variant, rebuild, echo)
    toolchain = _toolchain(CONVERTS_IN, "converting zoo models to .tflite")
    key = sha256_of({"onnx": source.sha256, "format": "tflite", "packages": toolchain.packages})
    with _reuse_or_fresh(key, rebuild, lambda why: echo(f"converting {name} again: {why}")) as (artifact, folder):
        if artifact is not None:
            return artifact
        converted = _ask(
            toolchain,
            "deploybench.zoo.convert",
            [source.path, str(folder)],
            None,
            f"zoo: {name} cannot be converted to .tflite",
        )
        path = Path(converted["path"])
        artifact = source.model_copy(
            update={
                "format": "tflite",
                "path": str(path),
                "sha256": file_sha256(path),
                "size_bytes": path.stat().st_size,
                "key": key,
                "converted_by": converted["converter"],
            }
        )
        store(artifact)
        return artifact


@contextmanager
def _reuse_or_fresh(key: str, rebuild: bool, say: Callable[[str], None]) -> Iterator[tuple[ZooArtifact | None, Path]]:
    """The cached artifact of key when whole and wanted; else an empty folder for it, saying why a stored one
    could not serve. The key stays locked until the block ends: a second build of the same key, in another
    process, waits for the first and then finds its artifact, instead of emptying the folder under it."""
    with locked(key):
        artifact, why = cached(key)
        if artifact is not None and not rebuild:
            yield artifact, Path(artifact.path).parent
            return
        if why is not None:
            say(why)
        yield None, fresh(key)


def _code_sha256(builder: str, fmt: Format) -> str:
    """Hash of the code that builds and exports: the builder process, deploybench's builder module when the
    recipe uses one (a user's own module is not followed: `--rebuild` after changing it), and the
    quantization-aware training for a QONNX export."""
    here = Path(__file__).parent
    files = [here / "builder.py", here / "builders" / "base.py", here / "builders" / f"{builder.split(':')[0]}.py"]
    if fmt == "qonnx":
        files.append(here / "qat.py")
    return sha256_of({f.name: file_sha256(f) for f in files if f.is_file()})


def _toolchain(name: str, what: str) -> Installed:
    found = installed(name)
    if found is None:
        raise ConfigurationError(
            f"{what} needs the `{name}` toolchain environment, which is not installed",
            hint=f"run `{install_command(name)}`",
        )
    return found


def _run_builder(toolchain: Installed, request: dict[str, object], name: str) -> Built:
    """The build record the builder writes; its failure is one line naming the model and the cause."""
    reply = _ask_builder(toolchain, request, name, [])
    try:
        return Built.model_validate(reply)
    except ValidationError as exc:
        raise WorkerError(f"zoo: the builder of {name} wrote an invalid record: {exc.errors()[0]['msg']}") from exc


def _ask_builder(toolchain: Installed, request: object, name: str, arguments: list[str]) -> dict[str, Any]:
    """The builder's JSON reply; its failure is one line naming the model and the cause."""
    return _ask(toolchain, "deploybench.zoo.builder", arguments, request, f"zoo: {name} cannot be built")


def _ask(
    toolchain: Installed, module: str, arguments: list[str], request: object | None, failure: str
) -> dict[str, Any]:
    """The JSON reply a child of the toolchain writes last on stdout (the request, if any, on its stdin); an
    `error` it reports, or its silent death, is one line after `failure`."""
    done = subprocess.run(
        [toolchain.python, "-m", module, *arguments],
        input=None if request is None else json.dumps(request),
        capture_output=True,
        text=True,
        env={**os.environ, TOOLCHAIN_ENV: toolchain.spec.name},
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise WorkerError(f"{failure} (exit status {done.returncode}): {_tail(done.stderr)}")
    reply: dict[str, Any] = json.loads(lines[-1])
    if "error" in reply:
        raise WorkerError(f"{failure}: {reply['error']}")
    return reply


def _tail(text: str | list[str]) -> str:
    lines = text if isinstance(text, list) else text.strip().splitlines()
    return " | ".join(line.strip() for line in lines[-TAIL_LINES:] if line.strip()) or "no message"


def held_out_data(artifact: ZooArtifact) -> Path | None:
    """The rows the model was not trained on, saved beside it by its builder (`x`, and `y` when labelled), if any."""
    if artifact.built.data is None:
        return None
    path = Path(artifact.path).parent / artifact.built.data
    return path if path.is_file() else None
