"""The losses and dev scores of single- and multi-label training, and class_weight="balanced"."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight

from textcnn.base.errors import DataError
from textcnn.training.objective import balanced_weights, correct, dev_score, example_losses


def test_multi_label_losses_are_bce_with_logits_averaged_over_labels_then_examples() -> None:
    logits, labels = torch.randn(6, 3), torch.randint(0, 2, (6, 3)).float()
    pos_weight = torch.tensor([1.0, 2.0, 0.5])
    expected = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)(logits, labels)
    assert example_losses(logits, labels, True, pos_weight).mean().item() == pytest.approx(expected.item(), rel=1e-6)


def test_class_weights_scale_each_example_by_its_class_weight() -> None:
    logits, labels = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1])
    weights = torch.tensor([3.0, 0.5])
    plain = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    assert torch.allclose(example_losses(logits, labels, False, weights), plain * weights[labels])
    assert torch.allclose(example_losses(logits, labels, False), plain)


def test_balanced_weights_are_scikit_learns_and_pos_weight_is_negatives_over_positives() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert np.allclose(balanced_weights(y, 3, ["a", "b", "c"], False).numpy(), expected)
    Y = np.array([[1, 0], [1, 1], [0, 0], [0, 0]])
    assert balanced_weights(Y, 2, ["a", "b"], True).tolist() == [1.0, 3.0]


@pytest.mark.parametrize("multi_label", [False, True])
def test_balanced_weights_name_a_class_without_training_examples(multi_label) -> None:
    y = np.array([[1, 0], [1, 0]]) if multi_label else np.array([0, 0, 1])
    names = ["sports", "art"] if multi_label else ["sports", "politics", "art"]
    with pytest.raises(DataError, match=r"\['art'\]"):
        balanced_weights(y, len(names), names, multi_label)


def test_multi_label_accuracy_counts_an_example_only_when_every_label_is_right() -> None:
    logits = torch.tensor([[2.0, -1.0], [2.0, 1.0], [-3.0, -3.0]])
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    assert correct(logits, labels, True).item() == 2


@pytest.mark.parametrize("metric", ["macro-f1", "micro-f1"])
def test_dev_scores_are_scikit_learns_f1(metric) -> None:
    logits = torch.randn(40, 3)
    labels = torch.randint(0, 3, (40,))
    accuracy, score = dev_score(logits, labels, False, metric)
    predicted = logits.argmax(dim=1).numpy()
    assert accuracy == pytest.approx((predicted == labels.numpy()).mean())
    assert score == pytest.approx(f1_score(labels.numpy(), predicted, average=metric[:5], labels=[0, 1, 2]))
