"""Semantic preservation: a deployment's outputs against the FP32 reference's, on the same inputs.

Every output is compared as float64 (integer outputs such as labels included), over the flattened
concatenation of all inputs. A classifier's first output, a `[batch, classes]` score matrix, also gives
top-1 agreement with the reference and, with labels, both accuracies.

Non-finite values: a NaN or infinity the reference has at the same place counts as agreeing; any other
is counted in `nonfinite_mismatches`, a semantic failure of the deployment that the record keeps. The
error statistics and the cosine cover the places where both sides are finite (NaN cannot be stored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from deploybench.core.errors import MeasurementError
from deploybench.core.records import Fidelity, Interval, OutputFidelity

RELATIVE_ERROR_FLOOR = 1e-6
"""Smallest reference magnitude a relative error divides by: |a - b| / max(|b|, 1e-6).

Near-zero reference values would otherwise turn tiny absolute differences into huge relative ones;
below the floor the relative error reads as the absolute error scaled by 1e6.
"""


def compare(
    outputs: Sequence[Mapping[str, np.ndarray]],
    reference: Sequence[Mapping[str, np.ndarray]],
    reference_name: str,
    labels: np.ndarray | None = None,
    confidence: float = 0.95,
) -> Fidelity:
    """Compare outputs with the reference's, input by input, and summarize how far they drift.

    `outputs[i]` and `reference[i]` are the outputs for the i-th input; both must hold the same output
    names with the same shapes. The first output (in the reference's order) counts as class scores when
    it is a 2-D `[batch, classes]` matrix with at least two classes: then the share of rows with the same
    argmax is `top1_agreement`, and `labels` (one per row, over all inputs in order) give `accuracy` and
    `reference_accuracy`, and their paired difference `accuracy_drop` with its `confidence` interval. For any
    other first output these stay None. Raises MeasurementError on a
    mismatch of counts, names or shapes, and on a label count that does not match the rows.
    """
    if len(outputs) != len(reference):
        raise MeasurementError(
            f"fidelity: {len(outputs)} output sets against {len(reference)} reference sets",
            hint="run the deployment and the reference on the same inputs",
        )
    if not reference:
        raise MeasurementError("fidelity: no inputs to compare", hint="give at least one input")
    names = list(reference[0])
    if not names:
        raise MeasurementError("fidelity: the reference gave no outputs", hint="check the model has outputs")
    for index, (got, want) in enumerate(zip(outputs, reference, strict=True)):
        if set(want) != set(names):
            raise MeasurementError(
                f"fidelity: input {index}: the reference gave outputs {sorted(want)}, for input 0 {sorted(names)}",
                hint="the reference backend must give the same outputs for every input",
            )
        _check_same_outputs(index, got, want)
    per_output = tuple(
        _compare_output(name, [got[name] for got in outputs], [want[name] for want in reference]) for name in names
    )
    first = names[0]
    scores = _class_scores([got[first] for got in outputs])
    reference_scores = _class_scores([want[first] for want in reference])
    top1_agreement = accuracy = reference_accuracy = drop = None
    if scores is not None and reference_scores is not None:
        predicted = scores.argmax(axis=-1)
        expected = reference_scores.argmax(axis=-1)
        top1_agreement = float(np.mean(predicted == expected))
        if labels is not None:
            truth = _labels_for(labels, len(predicted), first)
            accuracy = float(np.mean(predicted == truth))
            reference_accuracy = float(np.mean(expected == truth))
            drop = accuracy_drop(expected == truth, predicted == truth, confidence)
    return Fidelity(
        reference=reference_name,
        inputs=len(reference),
        outputs=per_output,
        top1_agreement=top1_agreement,
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
        accuracy_drop=drop,
    )


def accuracy_drop(reference_correct: np.ndarray, correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """How much accuracy a deployment loses against its reference on the same rows, with a confidence interval.

    The rows are paired (both ran on each), so only the discordant ones carry information: b rows the reference
    got right and the deployment wrong, c the other way round. The drop is (b - c) / n; its interval is the Wald
    interval of a difference of paired proportions after adding 1/2 to each of the four cells (Agresti and Min,
    2005), which stays honest when no row disagrees, where the plain Wald interval collapses to a point.
    """
    from scipy.stats import norm

    reference_correct, correct = np.asarray(reference_correct, bool), np.asarray(correct, bool)
    n = reference_correct.size
    b = float(np.count_nonzero(reference_correct & ~correct))
    c = float(np.count_nonzero(~reference_correct & correct))
    adjusted_n, adjusted_b, adjusted_c = n + 2.0, b + 0.5, c + 0.5
    centre = (adjusted_b - adjusted_c) / adjusted_n
    variance = ((adjusted_b + adjusted_c) - (adjusted_b - adjusted_c) ** 2 / adjusted_n) / adjusted_n**2
    half = float(norm.ppf(0.5 + confidence / 2)) * variance**0.5
    return Interval(
        value=(b - c) / n if n else 0.0,
        low=max(-1.0, centre - half),
        high=min(1.0, centre + half),
        confidence=confidence,
        method="paired Wald, Agresti-Min (+1/2 per cell)",
    )


def _check_same_outputs(index: int, got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> None:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing output(s) {', '.join(f'`{n}`' for n in missing)}")
        if extra:
            parts.append(f"unexpected output(s) {', '.join(f'`{n}`' for n in extra)}")
        raise MeasurementError(
            f"fidelity: input {index}: {'; '.join(parts)} against the reference",
            hint="the deployment must keep the model's output names",
        )
    for name, expected in want.items():
        shape, reference_shape = np.shape(got[name]), np.shape(expected)
        if shape != reference_shape:
            raise MeasurementError(
                f"fidelity: input {index}: output `{name}` has shape {shape}, the reference {reference_shape}",
                hint="the deployment must keep the model's output shapes",
            )


def _compare_output(name: str, got: list[np.ndarray], want: list[np.ndarray]) -> OutputFidelity:
    a, b = _flat_float64(name, got), _flat_float64(name, want)
    agree = (a == b) | (np.isnan(a) & np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    diverged = int(np.count_nonzero(~agree & ~finite))
    a, b = a[finite], b[finite]
    error = np.abs(a - b)
    relative = error / np.maximum(np.abs(b), RELATIVE_ERROR_FLOOR)
    return OutputFidelity(
        name=name,
        max_abs_error=float(error.max(initial=0.0)),
        mean_abs_error=float(error.sum() / agree.size) if agree.size else 0.0,
        max_rel_error=float(relative.max(initial=0.0)),
        cosine_similarity=_cosine(a, b),
        nonfinite_mismatches=diverged,
    )


def _flat_float64(name: str, batches: list[np.ndarray]) -> np.ndarray:
    try:
        return np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in batches])
    except (TypeError, ValueError) as exc:
        raise MeasurementError(
            f"fidelity: output `{name}` cannot be compared as numbers ({exc})",
            hint="only numeric outputs (float, integer, bool) can be compared",
        ) from exc


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; two all-zero vectors are identical (1.0), one all-zero vector shares nothing (0.0)."""
    norm_a, norm_b = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if norm_a == 0.0 and norm_b == 0.0:
        return 1.0
    if norm_a == 0.0 or norm_b == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / (norm_a * norm_b), -1.0, 1.0))


def _class_scores(batches: list[np.ndarray]) -> np.ndarray | None:
    if not all(np.ndim(x) == 2 and np.shape(x)[-1] >= 2 for x in batches):
        return None
    scores = np.concatenate([np.asarray(x, dtype=np.float64) for x in batches])
    return scores if len(scores) else None


def _labels_for(labels: np.ndarray, rows: int, output: str) -> np.ndarray:
    truth = np.asarray(labels).ravel()
    if truth.size != rows:
        raise MeasurementError(
            f"fidelity: {truth.size} labels for {rows} rows of output `{output}`",
            hint="give one label per input row, in the order the inputs ran",
        )
    return truth
