"""Where each framework runs: in the main environment when it is available there and takes the model's
format, else in the toolchain environment that hosts it; a framework neither can run says why, and a missing
toolchain gives the exact command that installs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploybench.core.errors import ConfigurationError
from deploybench.core.formats import model_format
from deploybench.core.records import BackendStatus, JobSpec
from deploybench.worker.launcher import probe_in_worker
from deploybench.worker.toolchains import MAIN, TOOLCHAIN_ENV, definitions, host_of, install_command, installed

Prober = Callable[[str, dict[str, str] | None], list[BackendStatus]]


@dataclass(frozen=True)
class Environment:
    """A Python environment that runs workers: its name (`main` or a toolchain's) and its interpreter."""

    name: str
    python: str

    def worker_env(self) -> dict[str, str] | None:
        """Environment variables of its workers: a toolchain's workers know its name (their records keep it)."""
        if self.name == MAIN:
            return None
        return {**os.environ, TOOLCHAIN_ENV: self.name}


MAIN_ENVIRONMENT = Environment(MAIN, sys.executable)


@dataclass
class Placer:
    """Probes environments once each, on demand, and places frameworks in them."""

    probe: Prober = field(default=lambda python, env: probe_in_worker(python, env))
    _statuses: dict[str, dict[str, BackendStatus]] = field(default_factory=dict)

    def statuses(self, environment: Environment) -> dict[str, BackendStatus]:
        """Every backend's status as a worker of environment sees it."""
        if environment.name not in self._statuses:
            found = self.probe(environment.python, environment.worker_env())
            self._statuses[environment.name] = {status.name: status for status in found}
        return self._statuses[environment.name]

    def place(self, framework: str, model_format: str) -> tuple[Environment | None, BackendStatus]:
        """The environment that runs framework on a model_format model, and the framework's status there;
        no environment when none can, with the status saying why."""
        main = self.statuses(MAIN_ENVIRONMENT).get(framework)
        if main is not None and main.available and model_format in main.input_formats:
            return MAIN_ENVIRONMENT, main
        host = host_of(framework)
        if host is None:
            if main is None:
                return None, BackendStatus(name=framework, available=False, reason="no backend of that name")
            return None, main
        toolchain = installed(host.name)
        if toolchain is None:
            reason = f"runs from toolchain `{host.name}`, which is not installed: run `{install_command(host.name)}`"
            return None, _unavailable(main, framework, reason)
        environment = Environment(host.name, toolchain.python)
        status = self.statuses(environment).get(framework)
        if status is None:
            return None, _unavailable(main, framework, f"toolchain `{host.name}` does not register it")
        return (environment if status.available and model_format in status.input_formats else None), status

    def placed_statuses(self, model_format: str) -> list[BackendStatus]:
        """Every backend's status where it would run for a model_format model, for `--framework all`."""
        return [self.place(name, model_format)[1] for name in sorted(self.statuses(MAIN_ENVIRONMENT))]

    def every_status(self) -> list[tuple[str, BackendStatus]]:
        """Each backend of the main environment, then each toolchain's backends, with the environment's name;
        a toolchain not installed lists its backends as unavailable, with the command that installs it."""
        rows = [(MAIN, status) for status in self.statuses(MAIN_ENVIRONMENT).values()]
        for spec in definitions().values():
            toolchain = installed(spec.name)
            if toolchain is None:
                reason = f"toolchain not installed: run `{install_command(spec.name)}`"
                rows += [(spec.name, BackendStatus(name=n, available=False, reason=reason)) for n in spec.backends]
                continue
            found = self.statuses(Environment(spec.name, toolchain.python))
            rows += [(spec.name, found[n]) for n in spec.backends if n in found]
        return rows

    def environments(self, frameworks: Sequence[str], model_format: str) -> dict[str, Environment]:
        """The environment of each named framework; one that cannot run anywhere is a one-line error."""
        placed = {}
        for name in frameworks:
            environment, status = self.place(name, model_format)
            if environment is None:
                if status.available:
                    raise ConfigurationError(
                        f"framework `{name}` takes {', '.join(status.input_formats)} models, not {model_format}"
                    )
                raise ConfigurationError(f"framework `{name}` cannot run here: {status.reason}")
            placed[name] = environment
        return placed

    def for_jobs(self, jobs: Sequence[JobSpec]) -> dict[str, Environment]:
        """The environment of each job, by job key; a job that cannot run anywhere is a one-line error."""
        by_format: dict[str, list[JobSpec]] = {}
        for job in jobs:
            by_format.setdefault(model_format(Path(job.model.path)), []).append(job)
        placed: dict[str, Environment] = {}
        for fmt, group in by_format.items():
            environments = self.environments(sorted({job.framework for job in group}), fmt)
            placed |= {job.key(): environments[job.framework] for job in group}
        return placed


def _unavailable(main: BackendStatus | None, framework: str, reason: str) -> BackendStatus:
    if main is None:
        return BackendStatus(name=framework, available=False, reason=reason)
    return main.model_copy(update={"available": False, "reason": reason})
