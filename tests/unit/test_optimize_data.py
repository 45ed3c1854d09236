"""Calibration and evaluation rows: read from the user's files with clear errors, drawn disjoint and seeded,
written and recorded exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deploybench.core.errors import ConfigurationError
from deploybench.core.hashing import file_sha256
from deploybench.optimize.data import load_rows, split_rows, write_rows


def _npz(path: Path, rows: int = 50, labels: bool = True) -> Path:
    x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
    arrays = {"x": x, **({"y": np.arange(rows) % 3} if labels else {})}
    np.savez(path, **arrays)
    return path


def test_calibration_and_evaluation_rows_never_overlap_and_follow_the_seed(tmp_path: Path) -> None:
    rows = load_rows(_npz(tmp_path / "rows.npz"))
    split = split_rows(rows, 20, 25, seed=3)
    assert len(split.calibration) == 20 and len(split.evaluation) == 25
    assert not set(split.calibration.tolist()) & set(split.evaluation.tolist())
    again = split_rows(rows, 20, 25, seed=3)
    assert np.array_equal(again.calibration, split.calibration) and np.array_equal(again.evaluation, split.evaluation)
    other = split_rows(rows, 20, 25, seed=4)
    assert not np.array_equal(other.calibration, split.calibration)


def test_written_rows_are_the_chosen_ones_with_their_labels_and_record(tmp_path: Path) -> None:
    rows = load_rows(_npz(tmp_path / "rows.npz"))
    split = split_rows(rows, 10, 5, seed=0)
    record = write_rows(rows, split.evaluation, tmp_path / "out", "evaluation", 0, 10)
    with np.load(record.path) as written:
        assert np.array_equal(written["x"], rows.x[split.evaluation])
        assert np.array_equal(written["y"], rows.y[split.evaluation])
    assert record.samples == 5 and record.sha256 == file_sha256(Path(record.path))
    assert record.source_sha256 == rows.sha256 and record.rows == "rows 10 to 14 of a permutation of all 50, seed 0"


def test_a_folder_of_npy_files_gives_one_row_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    for index in range(3):
        np.save(folder / f"{index}.npy", np.full((2, 2), index, dtype=np.float32))
    rows = load_rows(folder)
    assert rows.x.shape == (3, 2, 2) and rows.y is None and rows.x[2, 0, 0] == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.npz", "no such data file or folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no .npy file"),
        (lambda p: (p / "bad.npz").write_bytes(b"not a zip") and p / "bad.npz", "not a readable .npz"),
        (lambda p: np.savez(p / "nox.npz", rows=np.zeros(3)) or p / "nox.npz", "no array `x`"),
        (lambda p: np.savez(p / "s.npz", x=np.array(["a", "b"])) or p / "s.npz", "holds <U1 values"),
        (lambda p: np.savez(p / "e.npz", x=np.zeros((0, 4))) or p / "e.npz", "no rows"),
        (lambda p: np.savez(p / "y.npz", x=np.zeros((4, 2)), y=np.zeros(3)) or p / "y.npz", "3 labels `y` for 4"),
    ],
)
def test_unusable_data_is_a_one_line_error_naming_the_file(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_rows(path)
    assert "\n" not in str(caught.value)


def test_mixed_row_files_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((2, 2), dtype=np.float32))
    np.save(folder / "b.npy", np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ConfigurationError, match=r"b.npy: float32 \(3, 2\), unlike a.npy"):
        load_rows(folder)


def test_asking_for_more_rows_than_there_are_says_how_many(tmp_path: Path) -> None:
    rows = load_rows(_npz(tmp_path / "rows.npz"))
    with pytest.raises(ConfigurationError, match="30 calibration \\+ 30 evaluation rows asked, it holds 50"):
        split_rows(rows, 30, 30)
    with pytest.raises(ConfigurationError, match="evaluate on at least one row"):
        split_rows(rows, 10, 0)


def test_a_folder_of_images_becomes_rows_laid_out_and_normalized_for_the_model(tmp_path: Path) -> None:
    from PIL import Image

    from deploybench.optimize.data import ImageLayout

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (16, 8), (255, 0, 0)).save(folder / "a-red.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(folder / "b-blue.jpg", quality=100)
    first = load_rows(folder, ImageLayout(4, 4, True, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    assert first.x.shape == (2, 3, 4, 4) and first.x.dtype == np.float32 and first.y is None
    np.testing.assert_allclose(first.x[0, :, 0, 0], [1.0, -1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(first.x[1, :, 0, 0], [-1.0, -1.0, 1.0], atol=0.02)
    last = load_rows(folder, ImageLayout(4, 4, False))
    assert last.x.shape == (2, 4, 4, 3) and last.x[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ConfigurationError, match="needs an ONNX model with one RGB image input"):
        load_rows(folder)
    (folder / "c-broken.png").write_bytes(b"not an image")
    with pytest.raises(ConfigurationError, match=r"c-broken\.png: not a readable image"):
        load_rows(folder, ImageLayout(4, 4))


def test_a_dataset_module_gives_rows_and_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_rows.py").write_text(
        "import numpy as np\n"
        "def pairs():\n    return np.ones((6, 2), np.float32), np.arange(6)\n"
        "def mapping():\n    return {'x': np.zeros((4, 2), np.float32)}\n"
        "def text():\n    return 'rows'\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pairs = load_rows(Path("my_rows:pairs"))
    assert pairs.x.shape == (6, 2) and pairs.y is not None and pairs.y.tolist() == list(range(6))
    assert pairs.source == "my_rows:pairs"
    assert load_rows(Path("my_rows:mapping")).y is None
    with pytest.raises(ConfigurationError, match="my_rows:text: returned a str"):
        load_rows(Path("my_rows:text"))
    with pytest.raises(ConfigurationError, match="no dataset function `absent` in module `my_rows`"):
        load_rows(Path("my_rows:absent"))
