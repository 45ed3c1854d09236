"""Fidelity of outputs against a reference, on crafted arrays."""

from __future__ import annotations

import numpy as np
import pytest

from deploybench.core.errors import MeasurementError
from deploybench.measure.fidelity import RELATIVE_ERROR_FLOOR, compare

SCORES = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]], dtype=np.float32)


def test_identical_outputs_have_zero_error_and_cosine_one() -> None:
    outputs = [{"scores": SCORES, "embedding": np.arange(6.0).reshape(2, 3)}] * 3
    fidelity = compare(outputs, outputs, "onnx-reference 1.0")
    assert fidelity.reference == "onnx-reference 1.0"
    assert fidelity.inputs == 3
    assert [o.name for o in fidelity.outputs] == ["scores", "embedding"]
    for output in fidelity.outputs:
        assert (output.max_abs_error, output.mean_abs_error, output.max_rel_error) == (0.0, 0.0, 0.0)
        assert output.cosine_similarity == pytest.approx(1.0)
    assert fidelity.top1_agreement == 1.0
    assert fidelity.accuracy is None and fidelity.reference_accuracy is None


def test_known_perturbation_gives_its_errors() -> None:
    reference = [{"y": np.array([1.0, -2.0, 4.0, 0.0])}, {"y": np.array([3.0, 0.5, 1.0, 2.0])}]
    outputs = [{"y": np.array([1.5, -2.0, 4.0, 0.0])}, {"y": np.array([3.0, 0.5, 1.0, 1.0])}]
    (result,) = compare(outputs, reference, "ref").outputs
    assert result.max_abs_error == pytest.approx(1.0)
    assert result.mean_abs_error == pytest.approx(1.5 / 8)
    assert result.max_rel_error == pytest.approx(0.5)
    a = np.array([1.5, -2.0, 4.0, 0.0, 3.0, 0.5, 1.0, 1.0])
    b = np.array([1.0, -2.0, 4.0, 0.0, 3.0, 0.5, 1.0, 2.0])
    assert result.cosine_similarity == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert result.cosine_similarity < 1.0


def test_relative_error_divides_by_the_floor_near_zero() -> None:
    (result,) = compare([{"y": np.array([1e-3])}], [{"y": np.array([0.0])}], "ref").outputs
    assert result.max_rel_error == pytest.approx(1e-3 / RELATIVE_ERROR_FLOOR)


def test_cosine_of_zero_vectors() -> None:
    zeros, ones = np.zeros(4), np.ones(4)
    (both,) = compare([{"y": zeros}], [{"y": zeros}], "ref").outputs
    (one,) = compare([{"y": zeros}], [{"y": ones}], "ref").outputs
    (opposite,) = compare([{"y": -ones}], [{"y": ones}], "ref").outputs
    assert both.cosine_similarity == 1.0
    assert one.cosine_similarity == 0.0
    assert opposite.cosine_similarity == pytest.approx(-1.0)


def test_top1_agreement_counts_rows_over_all_inputs() -> None:
    swapped = SCORES[:, [1, 0, 2]]  # row 0 argmax 1 -> 0, row 1 argmax 0 -> 1
    reference = [{"scores": SCORES}, {"scores": SCORES}]
    outputs = [{"scores": SCORES}, {"scores": swapped}]
    assert compare(outputs, reference, "ref").top1_agreement == pytest.approx(0.5)


def test_labels_give_both_accuracies() -> None:
    reference = [{"scores": SCORES}, {"scores": SCORES}]  # predicts 1, 0, 1, 0
    outputs = [{"scores": SCORES}, {"scores": SCORES[:, [1, 0, 2]]}]  # predicts 1, 0, 0, 1
    labels = np.array([1, 0, 0, 0], dtype=np.int64)
    fidelity = compare(outputs, reference, "ref", labels=labels)
    assert fidelity.accuracy == pytest.approx(0.75)
    assert fidelity.reference_accuracy == pytest.approx(0.75)
    fidelity = compare(outputs, reference, "ref", labels=np.array([[1, 0], [0, 1]]))
    assert fidelity.accuracy == 1.0
    assert fidelity.reference_accuracy == pytest.approx(0.5)
    assert compare(reference, reference, "ref", labels=np.array([1, 0, 1, 0])).accuracy == 1.0


def test_label_count_must_match_the_rows() -> None:
    with pytest.raises(MeasurementError, match=r"3 labels for 2 rows of output `scores`"):
        compare([{"scores": SCORES}], [{"scores": SCORES}], "ref", labels=np.array([0, 1, 2]))


def test_first_output_not_a_score_matrix_gives_no_top1_nor_accuracy() -> None:
    outputs = [{"label": np.array([1, 0]), "scores": SCORES}]
    fidelity = compare(outputs, outputs, "ref", labels=np.array([1, 0]))
    assert fidelity.top1_agreement is None
    assert fidelity.accuracy is None and fidelity.reference_accuracy is None
    single_class = [{"score": np.array([[0.2], [0.9]])}]
    assert compare(single_class, single_class, "ref").top1_agreement is None


def test_integer_outputs_compare_as_float64() -> None:
    reference = [{"label": np.array([3, 0, 9], dtype=np.int64)}]
    outputs = [{"label": np.array([3, 2, 9], dtype=np.int64)}]
    (result,) = compare(outputs, reference, "ref").outputs
    assert result.max_abs_error == 2.0
    assert result.mean_abs_error == pytest.approx(2 / 3)
    assert result.max_rel_error == pytest.approx(2 / RELATIVE_ERROR_FLOOR)
    unsigned = [{"v": np.array([0], dtype=np.uint8)}]
    (wrapped,) = compare(unsigned, [{"v": np.array([255], dtype=np.uint8)}], "ref").outputs
    assert wrapped.max_abs_error == 255.0


def test_mismatched_names_are_named() -> None:
    expected = r"input 1: missing output\(s\) `scores`; unexpected output\(s\) `logits`"
    with pytest.raises(MeasurementError, match=expected):
        compare(
            [{"scores": SCORES}, {"logits": SCORES}],
            [{"scores": SCORES}, {"scores": SCORES}],
            "ref",
        )


def test_mismatched_shapes_are_named() -> None:
    with pytest.raises(MeasurementError, match=r"output `scores` has shape \(3, 2\), the reference \(2, 3\)"):
        compare([{"scores": SCORES.T}], [{"scores": SCORES}], "ref")


def test_mismatched_input_counts_and_no_inputs() -> None:
    with pytest.raises(MeasurementError, match="1 output sets against 2 reference sets"):
        compare([{"y": SCORES}], [{"y": SCORES}] * 2, "ref")
    with pytest.raises(MeasurementError, match="no inputs"):
        compare([], [], "ref")
    with pytest.raises(MeasurementError, match="the reference gave no outputs"):
        compare([{}], [{}], "ref")
    with pytest.raises(MeasurementError, match=r"input 1: the reference gave outputs \['z'\], for input 0 \['y'\]"):
        compare([{"y": SCORES}, {"z": SCORES}], [{"y": SCORES}, {"z": SCORES}], "ref")


def test_non_finite_values_count_only_where_the_reference_differs() -> None:
    shared = [{"y": np.array([np.nan, np.inf, 1.0])}]
    (result,) = compare(shared, shared, "ref").outputs
    assert (result.max_abs_error, result.cosine_similarity, result.nonfinite_mismatches) == (0.0, 1.0, 0)
    (diverged,) = compare([{"y": np.array([np.nan, 1.0, 2.0])}], [{"y": np.array([0.5, 1.0, 2.5])}], "ref").outputs
    assert diverged.nonfinite_mismatches == 1
    assert diverged.max_abs_error == 0.5
    assert diverged.model_dump_json()


def test_non_numeric_output_is_refused() -> None:
    strings = [{"label": np.array(["cat", "dog"])}]
    with pytest.raises(MeasurementError, match=r"output `label` cannot be compared as numbers"):
        compare(strings, strings, "ref")


def test_the_accuracy_drop_and_its_interval_are_the_paired_agresti_min_ones() -> None:
    from deploybench.measure.fidelity import accuracy_drop

    # 10 rows: the reference is right and the deployment wrong on 3, the other way round on 1, both agree on 6.
    reference = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 0], bool)
    deployed = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 0], bool)
    drop = accuracy_drop(reference, deployed, 0.95)
    # By hand: (b - c) / n = (3 - 1) / 10; adding 1/2 per cell, n' = 12, b' = 3.5, c' = 1.5:
    # centre = 2 / 12, variance = (5 - 2**2 / 12) / 12**2, half width = 1.959964 * sqrt(variance).
    half = 1.959963984540054 * ((5 - 4 / 12) / 144) ** 0.5
    assert drop.value == pytest.approx(0.2)
    assert drop.low == pytest.approx(2 / 12 - half) and drop.high == pytest.approx(2 / 12 + half)
    assert drop.low == pytest.approx(-0.18617, abs=1e-5) and drop.high == pytest.approx(0.51950, abs=1e-5)


def test_without_disagreement_the_drop_is_zero_with_an_interval_that_is_not_a_point() -> None:
    from deploybench.measure.fidelity import accuracy_drop

    same = np.ones(200, bool)
    drop = accuracy_drop(same, same)
    assert drop.value == 0.0 and drop.low < 0 < drop.high and drop.high < 0.02


def test_labels_give_the_drop_in_the_fidelity_record() -> None:
    scores = [{"p": np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])}]
    reference = [{"p": np.array([[0.8, 0.2], [0.3, 0.7], [0.3, 0.7]])}]
    fidelity = compare(scores, reference, "ref", labels=np.array([0, 1, 1]))
    assert fidelity.accuracy == pytest.approx(2 / 3) and fidelity.reference_accuracy == 1.0
    assert fidelity.accuracy_drop is not None and fidelity.accuracy_drop.value == pytest.approx(1 / 3)
