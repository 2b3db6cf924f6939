"""Labels as the estimators take and give them: class names ↔ indices, multi-label sets ↔ 0/1 indicator matrices,
per-label decision thresholds. NumPy only (no scikit-learn at import: prediction must start fast).

Multi-label `y` is either a list of label collections (`[["sports", "politics"], [], ["art"]]`; a list of lists is
always read as collections) or a 0/1 indicator NumPy array (n, K) in class order, scikit-learn's multi-label
convention: `predict` returns the indicator matrix, so `f1_score(y_true, clf.predict(X), average="micro")` works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base.errors import DataError


def is_indicator(y: Any) -> bool:
    """Whether `y` is a 2-D NumPy indicator matrix (rather than a list of label collections)."""
    return isinstance(y, np.ndarray) and y.ndim == 2


def multi_label_classes(y: Any, label_names: Sequence[Any] | None) -> np.ndarray:
    """The label names of multi-label `y`: `label_names`, else the indicator's columns 0..K-1 or the sorted labels."""
    if label_names is not None:
        classes = np.asarray(label_names)
        if is_indicator(y) and y.shape[1] != len(classes):
            raise DataError(f"y has {y.shape[1]} indicator columns but label_names names {len(classes)} labels")
        return classes
    if is_indicator(y):
        return np.arange(y.shape[1])
    seen = {label for labels in _collections(y) for label in labels}
    try:
        return np.asarray(sorted(seen))
    except TypeError:  # mixed types: order by their text
        return np.asarray(sorted(seen, key=str))


def encode_label_sets(y: Any, classes: np.ndarray, n: int) -> list[tuple[int, ...]]:
    """Each example's label indices (sorted tuples), checked against `classes` and the `n` inputs they label."""
    if is_indicator(y):
        if not np.isin(y, (0, 1)).all():
            raise DataError("a multi-label indicator matrix holds only 0 and 1")
        if y.shape[1] != len(classes):
            raise DataError(f"y has {y.shape[1]} indicator columns but the model has {len(classes)} labels")
        sets = [tuple(int(j) for j in np.flatnonzero(row)) for row in y]
    else:
        index = {str(c): i for i, c in enumerate(classes)}
        collections = _collections(y)
        unknown = sorted({str(label) for labels in collections for label in labels} - set(index))
        if unknown:
            raise DataError(f"labels {unknown[:5]} are not among the labels {list(index)}")
        sets = [tuple(sorted({index[str(label)] for label in labels})) for labels in collections]
    if len(sets) != n:
        raise DataError(f"got {n} inputs but {len(sets)} label sets")
    return sets


def label_matrix(label_sets: Sequence[Sequence[int]], n_labels: int) -> np.ndarray:
    """Label-index sets as a 0/1 float32 indicator matrix (N, K)."""
    matrix = np.zeros((len(label_sets), n_labels), dtype=np.float32)
    for row, labels in enumerate(label_sets):
        matrix[row, list(labels)] = 1.0
    return matrix


def decide(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The multi-label decision: 1 where a label's probability reaches its threshold, (N, K) int."""
    return (probs >= np.asarray(thresholds)[None, :]).astype(np.int64)


def label_sets_of(decisions: np.ndarray, probs: np.ndarray, classes: Sequence[Any]) -> list[list[Any]]:
    """The label names each row of `decisions` selects, most probable first."""
    return [[classes[j] for j in sorted(np.flatnonzero(row), key=lambda j: -p[j])] for row, p in zip(decisions, probs)]


def predictions(probs: np.ndarray, classes: np.ndarray, multi_label: bool,
                thresholds: np.ndarray | None) -> np.ndarray:
    """What `predict` returns: each row's most probable class, or (multi-label) the 0/1 matrix above `thresholds`."""
    return decide(probs, thresholds) if multi_label else classes[probs.argmax(axis=1)]


def predicted_labels(probs: np.ndarray, classes: Sequence[Any], multi_label: bool,
                     thresholds: np.ndarray | None) -> list[list[Any]]:
    """What `predict_labels` returns: per row the labels above their thresholds, most probable first
    (multi-label), or the most probable class alone."""
    if multi_label:
        return label_sets_of(decide(probs, thresholds), probs, classes)
    return [[classes[k]] for k in probs.argmax(axis=1)]


def tune_thresholds(probs: np.ndarray, y_true: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per label, a threshold on dev probabilities that maximises that label's F1 (scikit-learn's PR curve).

    Of the cut points with the best F1 the lowest is taken, and moved halfway down to the next lower dev
    probability: the same dev decisions, with a margin on both sides (on separable dev data the lowest cut is
    the least probable positive itself, often 0.99+). A label without a positive dev example keeps `default`.
    """
    from sklearn.metrics import precision_recall_curve

    thresholds = np.full(probs.shape[1], default, dtype=np.float64)
    for j in range(probs.shape[1]):
        if y_true[:, j].sum() == 0:
            continue
        precision, recall, cuts = precision_recall_curve(y_true[:, j], probs[:, j])
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        cut = cuts[int(np.argmax(f1[:-1]))]  # the last PR point has no threshold
        below = probs[:, j][probs[:, j] < cut]
        thresholds[j] = float((cut + below.max()) / 2 if len(below) else cut)
    return thresholds


def _collections(y: Any) -> list[Any]:
    """Multi-label `y` as a list of label collections; a bare string where a collection belongs is an error."""
    if isinstance(y, str):
        raise DataError("multi-label y is one collection of labels per example, not a single string")
    rows = list(y)
    for i, labels in enumerate(rows):
        if isinstance(labels, str) or not isinstance(labels, Sequence | set | frozenset | np.ndarray):
            raise DataError(f"example {i}'s labels are {labels!r}; multi-label y takes a collection of labels "
                            "per example, e.g. [['sports'], [], ['sports', 'politics']]")
    return rows
