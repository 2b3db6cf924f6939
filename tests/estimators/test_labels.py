"""Multi-label y in its two forms, the decision rule and the tuned thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from textcnn.base.errors import DataError
from textcnn.estimators.labels import (
    decide,
    encode_label_sets,
    label_matrix,
    label_sets_of,
    multi_label_classes,
    tune_thresholds,
)


def test_label_collections_and_indicator_matrices_encode_alike() -> None:
    y = [["sports", "art"], [], ["art"]]
    classes = multi_label_classes(y, None)
    assert classes.tolist() == ["art", "sports"]
    sets = encode_label_sets(y, classes, 3)
    assert sets == [(0, 1), (), (0,)]
    indicator = label_matrix(sets, 2)
    assert encode_label_sets(indicator.astype(int), classes, 3) == sets
    assert multi_label_classes(indicator, None).tolist() == [0, 1]


@pytest.mark.parametrize(("y", "message"), [
    (["sports", "art"], "collection of labels"),
    ([["sports"], ["chess"]], r"\['chess'\] are not among"),
    (np.array([[0, 2], [1, 0]]), "only 0 and 1"),
    ([["art"]], "2 inputs but 1 label sets"),
])
def test_bad_multi_label_y_is_a_clear_error(y, message) -> None:
    with pytest.raises(DataError, match=message):
        encode_label_sets(y, np.asarray(["art", "sports"]), 2)


def test_decisions_select_labels_at_or_above_their_threshold_most_probable_first() -> None:
    probs = np.array([[0.9, 0.2, 0.35], [0.1, 0.1, 0.1]])
    decisions = decide(probs, np.array([0.5, 0.5, 0.3]))
    assert decisions.tolist() == [[1, 0, 1], [0, 0, 0]]
    assert label_sets_of(decisions, probs, ["a", "b", "c"]) == [["a", "c"], []]


def test_tuned_thresholds_reach_the_best_f1_any_threshold_reaches() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 3))
    probs = np.clip(0.35 * y + rng.random((200, 3)) * 0.65, 0, 1)
    tuned = tune_thresholds(probs, y)
    for j in range(3):
        best_on_grid = max(f1_score(y[:, j], probs[:, j] >= t) for t in np.linspace(0.01, 0.99, 99))
        assert f1_score(y[:, j], probs[:, j] >= tuned[j]) >= best_on_grid - 1e-12


def test_a_label_without_positive_dev_examples_keeps_the_default_threshold() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0]])
    assert tune_thresholds(np.array([[0.8, 0.3], [0.2, 0.9], [0.7, 0.1]]), y)[1] == 0.5
