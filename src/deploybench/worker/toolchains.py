"""Toolchain environments: a virtual environment per toolchain whose pinned dependencies cannot share the main
environment, created with deploybench itself inside, so that its worker speaks the same job/result records.

The definitions are YAML files in `toolchain_data/`, and in the folders of `DEPLOYBENCH_TOOLCHAIN_DEFINITIONS`
(a user's, for a third-party backend; same name replaces); an environment is installed under the toolchain home
(see `toolchain_home`) and counts as installed only once its
manifest, written last, is there: an interrupted or failed install leaves nothing that looks usable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploybench.core.errors import ConfigurationError, NotFoundError, WorkerError

HOME_ENV = "DEPLOYBENCH_TOOLCHAINS"
DEFINITIONS_ENV = "DEPLOYBENCH_TOOLCHAIN_DEFINITIONS"
TOOLCHAIN_ENV = "DEPLOYBENCH_TOOLCHAIN"
"""Set in a worker started from a toolchain environment: the toolchain's name, which its records keep."""
MAIN = "main"
"""The name of the environment deploybench itself runs in."""
MANIFEST = "deploybench-toolchain.json"
BUILTIN_DEFINITIONS = Path(__file__).parent / "toolchain_data"
PIP_TAIL_LINES = 3


class ToolchainSpec(BaseModel):
    """One toolchain environment: what it hosts, why it needs its own environment, and its pins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Name, also its folder's.")
    description: str = Field(description="What the toolchain is.")
    why: str = Field(description="Why it cannot share the main environment.")
    backends: tuple[str, ...] = Field(min_length=1, description="Backends that run from this environment.")
    requirements: tuple[str, ...] = Field(min_length=1, description="pip requirements, pinned with ==.")
    without_dependencies: tuple[str, ...] = Field(
        default=(),
        description="pip requirements installed after the others with --no-deps: packages whose declared "
        "dependencies cannot install or load here (the definition's `why` says which); what they need at run "
        "time is among the requirements.",
    )


@dataclass(frozen=True)
class Installed:
    """An installed toolchain environment and what its manifest says about it."""

    spec: ToolchainSpec
    path: Path
    manifest: dict[str, object]

    @property
    def python(self) -> str:
        """The environment's Python, which starts its workers."""
        return str(venv_python(self.path))

    @property
    def packages(self) -> list[str]:
        """The environment's packages as `pip freeze` gave them at install."""
        listed = self.manifest.get("packages")
        return [str(item) for item in listed] if isinstance(listed, list) else []

    @property
    def stale(self) -> bool:
        """True when the definition's requirements, or the deploybench it needs, changed since the install."""
        return [*self.spec.requirements, *self.spec.without_dependencies] != self.manifest.get(
            "requirements"
        ) or " ".join(deploybench_requirement()) != self.manifest.get("deploybench")


def toolchain_home() -> Path:
    """The folder holding every toolchain environment: `DEPLOYBENCH_TOOLCHAINS`, else inside the virtual
    environment deploybench runs from (its toolchains hold this same deploybench), else the user's data folder."""
    if home := os.environ.get(HOME_ENV):
        return Path(home).expanduser()
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "deploybench-toolchains"
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "deploybench" / "toolchains"


def definitions() -> dict[str, ToolchainSpec]:
    """Every toolchain deploybench knows, by name: the built-in ones, then the user's folders'."""
    entries = sorted(BUILTIN_DEFINITIONS.iterdir())
    for folder in filter(None, os.environ.get(DEFINITIONS_ENV, "").split(os.pathsep)):
        if not Path(folder).is_dir():
            raise ConfigurationError(f"{DEFINITIONS_ENV}: {folder} is not a folder")
        entries += sorted(Path(folder).iterdir())
    found = {}
    for entry in entries:
        if entry.name.endswith(".yaml"):
            spec = _read_definition(entry)
            found[spec.name] = spec
    return found


def _read_definition(entry: Path) -> ToolchainSpec:
    try:
        return ToolchainSpec.model_validate(yaml.safe_load(entry.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"toolchain definition {entry}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ConfigurationError(f"toolchain definition {entry}: `{where}`: {error['msg']}") from exc


def definition(name: str) -> ToolchainSpec:
    """The toolchain called name; an unknown name lists the known ones."""
    known = definitions()
    if name not in known:
        raise NotFoundError(f"unknown toolchain `{name}`", hint=f"use one of: {', '.join(sorted(known))}")
    return known[name]


def host_of(backend: str) -> ToolchainSpec | None:
    """The toolchain whose environment runs backend, if one does."""
    return next((spec for spec in definitions().values() if backend in spec.backends), None)


def installed(name: str) -> Installed | None:
    """The environment of toolchain name, if it is installed here."""
    spec = definition(name)
    path = toolchain_home() / name
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not venv_python(path).exists():
        return None
    return Installed(spec=spec, path=path, manifest=manifest)


def install_command(name: str) -> str:
    """The command that installs toolchain name, for error messages."""
    return f"deploybench toolchain install {name}"


def install(name: str, echo: Callable[[str], None], force: bool = False) -> Installed:
    """Create toolchain name's environment with its pinned requirements and this deploybench; pip's output
    goes to echo line by line. An installed, current environment is kept unless force."""
    spec = definition(name)
    current = installed(name)
    if current is not None and not current.stale and not force:
        return current
    path = toolchain_home() / name
    shutil.rmtree(path, ignore_errors=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
        python = str(venv_python(path))
        itself = deploybench_requirement()
        _pip(python, ["install", "--disable-pip-version-check", *itself, *spec.requirements], echo, name)
        if spec.without_dependencies:
            _pip(
                python, ["install", "--disable-pip-version-check", "--no-deps", *spec.without_dependencies], echo, name
            )
        frozen = _pip(python, ["freeze", "--disable-pip-version-check"], lambda _: None, name)
        manifest: dict[str, object] = {
            "name": name,
            "requirements": [*spec.requirements, *spec.without_dependencies],
            "deploybench": " ".join(itself),
            "python": sys.version.split()[0],
            "installed_at": datetime.now(timezone.utc).isoformat(),
            "packages": [line for line in frozen if line and not line.startswith("#")],
        }
        partial = path / f"{MANIFEST}.partial"
        partial.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        partial.replace(path / MANIFEST)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return Installed(spec=spec, path=path, manifest=manifest)


def remove(name: str) -> Path:
    """Delete toolchain name's environment (also a half-installed one); returns where it was."""
    definition(name)
    path = toolchain_home() / name
    if not path.exists():
        raise NotFoundError(f"toolchain `{name}` is not installed in {toolchain_home()}")
    shutil.rmtree(path)
    return path


def deploybench_requirement() -> list[str]:
    """How to install this very deploybench into another environment: editable from the same source tree
    when it is installed so, from the same local folder, or else the same released version."""
    try:
        dist = distribution("deploybench")
    except PackageNotFoundError as exc:
        raise WorkerError("deploybench is not installed as a package: cannot install it into a toolchain") from exc
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    url = urlparse(direct.get("url", ""))
    if url.scheme == "file" and "dir_info" in direct:
        source = unquote(url.path)
        return ["-e", source] if direct["dir_info"].get("editable") else [source]
    return [f"deploybench=={dist.version}"]


def venv_python(path: Path) -> Path:
    """The Python of the virtual environment at path."""
    return path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _pip(python: str, arguments: list[str], echo: Callable[[str], None], name: str) -> list[str]:
    """Run pip in the environment, echoing its output; its lines, or an error quoting its last ones."""
    process = subprocess.Popen(
        [python, "-m", "pip", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        echo(lines[-1])
    if process.wait() != 0:
        tail = " | ".join(line.strip() for line in lines[-PIP_TAIL_LINES:] if line.strip())
        raise WorkerError(
            f"toolchain `{name}`: pip {arguments[0]} failed (exit status {process.returncode}): {tail}",
            hint="nothing was kept; fix the cause and run the install again",
        )
    return lines
