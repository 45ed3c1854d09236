"""Build the input arrays of a job once, before anything is timed, and check them against the model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deploybench.backends.base import TensorSpec
from deploybench.core.errors import ConfigurationError
from deploybench.core.records import InputData

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True)
class InputSet:
    """Distinct feeds of one batch size, and the labels of their rows when the data has them."""

    feeds: list[Feeds]
    labels: np.ndarray | None


def build_inputs(specs: list[TensorSpec], data: InputData, batch: int) -> InputSet:
    """`data.count` feeds of `batch` rows each, from a seed or an `.npz` file."""
    if data.source == "npz":
        return _from_npz(specs, data, batch)
    rng = np.random.default_rng(data.seed)
    feeds = [{s.name: _random(rng, s, _shape(s, data, batch)) for s in specs} for _ in range(data.count)]
    return InputSet(feeds=feeds, labels=None)


def _shape(spec: TensorSpec, data: InputData, batch: int) -> tuple[int, ...]:
    shape = []
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int) and dim > 0:
            if axis == 0 and batch != 1 and dim != batch:
                raise ConfigurationError(
                    f"input `{spec.name}` has a fixed batch of {dim}", hint=f"batch size {batch} needs a dynamic axis"
                )
            shape.append(dim)
        elif axis == 0:
            shape.append(batch)
        elif isinstance(dim, str) and dim in data.dims:
            shape.append(data.dims[dim])
        else:
            raise ConfigurationError(
                f"input `{spec.name}` has dynamic dimension `{dim}` (axis {axis})",
                hint=f"give its value, e.g. --dim {dim or 'NAME'}=224",
            )
    return tuple(shape)


def _random(rng: np.random.Generator, spec: TensorSpec, shape: tuple[int, ...]) -> np.ndarray:
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    raise ConfigurationError(f"input `{spec.name}` has element type {spec.dtype}, which deploybench cannot generate")


def _from_npz(specs: list[TensorSpec], data: InputData, batch: int) -> InputSet:
    path = Path(data.path or "")
    try:
        archive = np.load(path)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise ConfigurationError(f"{path}: cannot read the input data ({exc})", hint="give an .npz file") from exc
    if len(specs) != 1 or "x" not in archive:
        raise ConfigurationError(
            f"{path}: needs an array `x` for the model's single input",
            hint="save it with numpy.savez(path, x=..., y=...)",
        )
    spec, x = specs[0], archive["x"]
    if x.dtype != np.dtype(spec.dtype):
        raise ConfigurationError(
            f"{path}: `x` is {x.dtype}, input `{spec.name}` takes {spec.dtype}", hint=f"save x as {spec.dtype}"
        )
    expected = spec.shape[1:]
    if len(x.shape) != len(spec.shape) or any(
        isinstance(d, int) and d > 0 and d != n for d, n in zip(expected, x.shape[1:], strict=False)
    ):
        raise ConfigurationError(
            f"{path}: `x` rows have shape {tuple(x.shape[1:])}, input `{spec.name}` takes {tuple(expected)}",
            hint="reshape the data to the model's input",
        )
    count = min(data.count, len(x) // batch)
    if count == 0:
        raise ConfigurationError(f"{path}: {len(x)} rows cannot fill one batch of {batch}")
    feeds = [{spec.name: np.ascontiguousarray(x[i * batch : (i + 1) * batch])} for i in range(count)]
    labels = archive["y"][: count * batch] if "y" in archive else None
    return InputSet(feeds=feeds, labels=labels)
