"""Resolve a backend's settings: user values over defaults, unknown names refused, types kept."""

from __future__ import annotations

from deploybench.core.errors import BackendError
from deploybench.core.records import SettingValue


def resolve_settings(
    backend: str, given: dict[str, SettingValue], defaults: dict[str, SettingValue]
) -> dict[str, SettingValue]:
    """Every setting of the backend with its value: the given ones over the defaults.

    A name the backend does not know, or a value of another type than its default's, is an error.
    """
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise BackendError(
            f"{backend}: unknown setting `{unknown[0]}`", hint=f"{backend} takes: {', '.join(sorted(defaults))}"
        )
    resolved = dict(defaults)
    for name, value in given.items():
        expected = type(defaults[name])
        if not _fits(value, expected):
            raise BackendError(f"{backend}: setting `{name}` = {value!r} must be of type {expected.__name__}")
        resolved[name] = expected(value)
    return resolved


def _fits(value: SettingValue, expected: type) -> bool:
    if expected is bool or isinstance(value, bool):
        return expected is bool and isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)
