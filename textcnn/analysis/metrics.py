"""Summary statistics of results over seeds and folds, and the per-class report `textcnn evaluate` prints.

Every metric is scikit-learn's (imported when a report is made: prediction never pays for it).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, probs: np.ndarray,
                           labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, micro/macro F1, per-class precision/recall/F1/support/ROC-AUC and the confusion matrix.

    Single-label: `y_true`, `y_pred` class indices (N,); multi-label: 0/1 indicator matrices (N, K), and then
    accuracy is subset accuracy (every label right) and the report adds the Hamming loss (no confusion
    matrix). ROC-AUC is given per class where the class both occurs and is absent in `y_true`, else None;
    `macro_roc_auc` is the mean over the classes where it is defined.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        hamming_loss,
        precision_recall_fscore_support,
    )

    multi_label = y_true.ndim == 2
    index = None if multi_label else np.arange(len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=index, zero_division=0)
    aucs = _roc_aucs(y_true, probs, len(labels))
    defined = [a for a in aucs if a is not None]
    metrics: dict[str, Any] = {
        "multi_label": multi_label,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "micro_f1": float(f1_score(y_true, y_pred, labels=index, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=index, average="macro", zero_division=0)),
        "macro_roc_auc": float(np.mean(defined)) if defined else None,
        "labels": list(labels),
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n),
                             "roc_auc": auc}
                      for name, p, r, f, n, auc in zip(labels, precision, recall, f1, support, aucs)},
    }
    if multi_label:
        metrics["hamming_loss"] = float(hamming_loss(y_true, y_pred))
    else:
        metrics["confusion_matrix"] = np.asarray(confusion_matrix(y_true, y_pred, labels=index)).tolist()
    return metrics


def _roc_aucs(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> list[float | None]:
    """One-vs-rest ROC-AUC of each class from its probability column; None where `y_true` has one value only."""
    from sklearn.metrics import roc_auc_score

    indicator = y_true if y_true.ndim == 2 else np.eye(n_classes, dtype=np.int64)[y_true]
    return [float(roc_auc_score(indicator[:, k], probs[:, k])) if 0 < indicator[:, k].sum() < len(indicator)
            else None for k in range(n_classes)]


def format_report(metrics: dict[str, Any]) -> list[str]:
    """The per-class table of `classification_metrics` as text lines."""
    width = max(8, *(len(x) for x in metrics["labels"]))
    lines = [f"{'class':<{width}}  precision  recall     f1  support  roc-auc"]
    for name, row in metrics["per_class"].items():
        auc = "-" if row["roc_auc"] is None else f"{row['roc_auc']:.4f}"
        lines.append(f"{name:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  "
                     f"{row['support']:7d}  {auc:>7}")
    return lines
