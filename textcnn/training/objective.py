"""What training minimises and how dev scores are read, for single-label (softmax) and multi-label (sigmoid) heads.

Single-label: cross-entropy over the classes, labels (B,) class indices. Multi-label: binary cross-entropy per
label (`BCEWithLogitsLoss`), labels (B, K) 0/1 floats; a label is predicted where its logit is above 0 (probability
0.5) while training; thresholds are tuned after training (textcnn.estimators.base). Optional weights: per class
(single-label, Keras-style sample weights: the loss is the mean over examples of w[y] · loss) or per label
`pos_weight` (multi-label, as BCEWithLogitsLoss documents).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..base.errors import DataError


def example_losses(logits: Tensor, labels: Tensor, multi_label: bool, weights: Tensor | None = None) -> Tensor:
    """The loss of each example, (B,); the batch loss is their mean (or, under DDP, their sum scaled)."""
    # logits: (B, K); labels: (B,) class ids, or (B, K) 0/1 for multi-label
    if multi_label:
        per_label = nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=weights,
                                                                   reduction="none")  # (B, K)
        return per_label.mean(dim=1)
    losses = nn.functional.cross_entropy(logits, labels, reduction="none")  # (B,)
    return losses if weights is None else losses * weights[labels]


def predicted(logits: Tensor, multi_label: bool) -> Tensor:
    """Training-time predictions: class ids (B,), or multi-label 0/1 (B, K) at probability 0.5."""
    return (logits > 0).to(logits.dtype) if multi_label else logits.argmax(dim=1)


def correct(logits: Tensor, labels: Tensor, multi_label: bool) -> Tensor:
    """How many examples are right: the arg-max class, or (multi-label) every label (subset accuracy)."""
    hits = predicted(logits, multi_label) == labels
    return (hits.all(dim=1) if multi_label else hits).sum()


def dev_score(logits: Tensor, labels: Tensor, multi_label: bool, metric: str) -> tuple[float, float]:
    """(accuracy, the score of `metric`) of dev logits against dev labels; F1 by scikit-learn."""
    accuracy = correct(logits, labels, multi_label).item() / max(len(labels), 1)
    if metric == "accuracy":
        return accuracy, accuracy
    from sklearn.metrics import f1_score  # here: scikit-learn takes ~1.2 s to import, prediction never needs it

    average = metric.removesuffix("-f1")
    y_pred = predicted(logits, multi_label).long().numpy()
    y_true = labels.long().numpy()
    kwargs = {} if multi_label else {"labels": np.arange(logits.shape[1])}
    return accuracy, float(f1_score(y_true, y_pred, average=average, zero_division=0, **kwargs))


def balanced_weights(labels: np.ndarray, n_classes: int, names: list[str], multi_label: bool) -> Tensor:
    """`class_weight="balanced"`: n / (k · n_c) per class, or negatives / positives per label (pos_weight)."""
    if multi_label:  # labels: (N, K) 0/1
        positives = labels.sum(axis=0)
        missing = [names[j] for j in np.flatnonzero(positives == 0)]
        if missing:
            raise DataError(f"class_weight='balanced' needs a positive training example of every label; "
                            f"{missing[:5]} have none: drop those labels or leave class_weight unset")
        return torch.as_tensor((len(labels) - positives) / positives, dtype=torch.float32)
    from sklearn.utils.class_weight import compute_class_weight

    counts = np.bincount(labels, minlength=n_classes)
    missing = [names[j] for j in np.flatnonzero(counts == 0)]
    if missing:
        raise DataError(f"class_weight='balanced' needs a training example of every class; {missing[:5]} have "
                        "none: drop those classes or leave class_weight unset")
    weights = compute_class_weight("balanced", classes=np.arange(n_classes), y=labels)
    return torch.as_tensor(weights, dtype=torch.float32)
