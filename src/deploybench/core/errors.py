"""The one exception tree of deploybench.

Library code raises these; only the command-line front end turns them into one-line
messages and exit codes. Each message says what is wrong, where, and what to do.
"""

from __future__ import annotations


class DeploybenchError(Exception):
    """Base of every error deploybench raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class ConfigurationError(DeploybenchError):
    """The user gave a bad option, file or value (exit status 2)."""

    exit_code = 2


class CatalogError(ConfigurationError):
    """A catalog file is malformed or holds an invalid entry."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"`{field}`: " if field else ""
        super().__init__(f"{where}{what}{message}", hint=hint)


class QueryError(ConfigurationError):
    """A filter, sort key or column name cannot be understood."""


class NotFoundError(ConfigurationError):
    """A name was looked up in a catalog and is not there."""


class CatalogErrors(ConfigurationError):
    """Several catalog errors found at once: the message shows the first and counts the others."""

    def __init__(self, errors: list[CatalogError], *, hint: str | None = None) -> None:
        self.errors = tuple(errors)
        more = len(errors) - 1
        suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{errors[0].message}{suffix}", hint=hint or errors[0].hint)


class PluginError(DeploybenchError):
    """A backend cannot be found, loaded or registered."""

    exit_code = 2


class BackendError(DeploybenchError):
    """A framework refused the model, the inputs or the settings."""


class MeasurementError(DeploybenchError):
    """A measurement cannot be made or compared: mismatched outputs, unreadable counters, misuse of a meter."""


class StoreError(DeploybenchError):
    """The results store cannot be opened, read or written, or holds records from a newer deploybench."""


class WorkerError(DeploybenchError):
    """A worker process could not be started or did not answer."""
