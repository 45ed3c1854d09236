"""The rows a user gives for calibration and evaluation, drawn into two disjoint sets that are each written as a
file of their own and recorded (hash, count, which rows), so that a result says exactly what it was measured on."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deploybench.core.errors import ConfigurationError
from deploybench.core.hashing import file_sha256
from deploybench.core.records import DataSplit


@dataclass(frozen=True)
class Rows:
    """Rows for a model's single input, their labels when known, and where they came from."""

    x: np.ndarray
    y: np.ndarray | None
    source: str
    sha256: str


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


@dataclass(frozen=True)
class ImageLayout:
    """How photographs become rows for a model: its input's height and width, channels first or last, and the
    per-channel mean and standard deviation subtracted and divided after scaling to [0, 1]."""

    height: int
    width: int
    channels_first: bool = True
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)


def load_rows(path: Path, images: ImageLayout | None = None) -> Rows:
    """Rows from an `.npz` file (array `x`, optional labels `y`), a folder of `.npy` files (one row each, in
    name order, no labels), a folder of images (laid out as `images` says: RGB, shorter side resized and centre
    cropped, bilinear, no labels) or a dataset module `package.module:function` whose function returns `x`,
    `(x, y)` or a mapping with `x` (and `y`); every problem is a one-line error naming the source and what to do."""
    if not path.exists() and ":" in str(path):
        x, y = _from_module(str(path))
    elif path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
        x, y = _from_images(path, images), None
    elif path.is_dir():
        x, y = _from_folder(path), None
    elif path.is_file():
        x, y = _from_npz(path)
    else:
        raise ConfigurationError(f"{path}: no such data file or folder", hint="give an .npz file or a folder of .npy")
    if x.dtype.kind not in "fiub" or x.ndim < 1:
        raise ConfigurationError(f"{path}: `x` holds {x.dtype} values", hint="give numeric rows, e.g. float32")
    if len(x) == 0:
        raise ConfigurationError(f"{path}: no rows", hint="give at least one row")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise ConfigurationError(
            f"{path}: {y.size} labels `y` for {len(x)} rows `x`", hint="give one integer label per row"
        )
    return Rows(x=np.ascontiguousarray(x), y=y, source=str(path), sha256=_rows_sha256(x, y))


def _from_module(spec: str) -> tuple[np.ndarray, np.ndarray | None]:
    import importlib

    module_name, _, function = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"{spec}: no dataset function `{function}` in module `{module_name}` ({exc})",
            hint="give module:function, importable here, returning x, (x, y) or {'x': ..., 'y': ...}",
        ) from exc
    made = found()
    if isinstance(made, tuple) and len(made) == 2:
        return np.asarray(made[0]), np.asarray(made[1])
    if isinstance(made, dict) and "x" in made:
        return np.asarray(made["x"]), (np.asarray(made["y"]) if "y" in made else None)
    if isinstance(made, np.ndarray):
        return made, None
    raise ConfigurationError(
        f"{spec}: returned a {type(made).__name__}", hint="return x, (x, y) or a mapping with x (and y)"
    )


def _from_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive:
                raise ConfigurationError(
                    f"{path}: no array `x`", hint="save the rows as numpy.savez(path, x=rows, y=labels)"
                )
            return archive["x"], (archive.get("y", None))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: not a readable .npz file ({exc})", hint="give an .npz file") from exc


def _from_folder(path: Path) -> np.ndarray:
    files = sorted(path.glob("*.npy"))
    if not files:
        raise ConfigurationError(f"{path}: the folder holds no .npy file", hint="put one .npy file per row in it")
    rows = []
    for file in files:
        try:
            rows.append(np.load(file, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{file}: not a readable .npy file ({exc})") from exc
        if rows[-1].shape != rows[0].shape or rows[-1].dtype != rows[0].dtype:
            raise ConfigurationError(
                f"{file}: {rows[-1].dtype} {rows[-1].shape}, unlike {files[0].name} ({rows[0].dtype} {rows[0].shape})",
                hint="every row file must have the same shape and type",
            )
    return np.stack(rows)


def _from_images(path: Path, layout: ImageLayout | None) -> np.ndarray:
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError as exc:
        raise ConfigurationError(
            f"{path}: reading images needs Pillow, which is not installed", hint="pip install 'deploybench[images]'"
        ) from exc

    if layout is None:
        raise ConfigurationError(
            f"{path}: a folder of images needs an ONNX model with one RGB image input ([N, 3, H, W] or [N, H, W, 3])",
            hint="give the rows as .npz instead",
        )
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    rows = []
    for file in files:
        try:
            with Image.open(file) as opened:
                picture = ImageOps.fit(opened.convert("RGB"), (layout.width, layout.height), Image.Resampling.BILINEAR)
        except (OSError, UnidentifiedImageError) as exc:
            raise ConfigurationError(f"{file}: not a readable image ({exc})") from exc
        mean, std = np.asarray(layout.mean, np.float32), np.asarray(layout.std, np.float32)
        scaled = (np.asarray(picture, dtype=np.float32) / 255.0 - mean) / std
        rows.append(scaled.transpose(2, 0, 1) if layout.channels_first else scaled)
    return np.stack(rows).astype(np.float32)


def _rows_sha256(x: np.ndarray, y: np.ndarray | None) -> str:
    """SHA-256 of the rows' values, shape and type (and the labels'), whatever file they were read from."""
    digest = hashlib.sha256()
    for array in (x, y):
        if array is not None:
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    """Calibration and evaluation row indices into the same rows: disjoint by construction."""

    calibration: np.ndarray
    evaluation: np.ndarray
    seed: int


def split_rows(rows: Rows, calibration: int, evaluation: int, seed: int = 0) -> Split:
    """`calibration` rows and `evaluation` other rows, drawn by one seeded permutation: the first rows of the
    permutation calibrate, the next ones evaluate, so no row does both. Asking for more rows than there are is
    an error that says how many there are."""
    if calibration < 0 or evaluation < 1:
        raise ConfigurationError(
            f"{calibration} calibration and {evaluation} evaluation rows", hint="evaluate on at least one row"
        )
    if calibration + evaluation > len(rows.x):
        raise ConfigurationError(
            f"{rows.source}: {calibration} calibration + {evaluation} evaluation rows asked, it holds {len(rows.x)}",
            hint="ask for fewer rows (they never overlap), or give more data",
        )
    order = np.random.default_rng(seed).permutation(len(rows.x))
    return Split(order[:calibration], order[calibration : calibration + evaluation], seed)


def write_rows(rows: Rows, indices: np.ndarray, folder: Path, purpose: str, seed: int, offset: int) -> DataSplit:
    """The chosen rows (and labels) written as `<purpose>-<sha>.npz` in folder, and their record."""
    buffer = io.BytesIO()
    arrays = {"x": rows.x[indices], **({"y": rows.y[indices]} if rows.y is not None else {})}
    np.savez(buffer, **arrays)
    content = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{purpose}-{hashlib.sha256(content).hexdigest()[:16]}.npz"
    if not path.is_file() or file_sha256(path) != hashlib.sha256(content).hexdigest():
        temporary = path.with_suffix(".partial")
        temporary.write_bytes(content)
        temporary.replace(path)
    return DataSplit(
        path=str(path.resolve()),
        sha256=file_sha256(path),
        samples=len(indices),
        source=rows.source,
        source_sha256=rows.sha256,
        rows=f"rows {offset} to {offset + len(indices) - 1} of a permutation of all {len(rows.x)}, seed {seed}",
    )
