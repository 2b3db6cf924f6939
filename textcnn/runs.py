"""End-to-end jobs behind the CLI: train a run directory on a dataset, evaluate a saved run."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from .checkpoint import METRICS, point_latest, prepare_run_dir, write_json
from .classifier import TextCNNClassifier
from .data import DATASETS, TextDataset, load_demo, load_files, load_named_dataset
from .errors import DataError

log = logging.getLogger(__name__)

RUNS_ROOT = Path("runs")


@dataclass(frozen=True)
class DataSource:
    """Where a job's examples come from: a named dataset, explicit files, or (neither) the demo set."""

    dataset: str | None = None
    train_file: str | None = None
    dev_file: str | None = None
    test_file: str | None = None
    text_column: str = "text"
    label_column: str = "label"

    @property
    def name(self) -> str:
        if self.dataset:
            return self.dataset
        return Path(self.train_file).stem if self.train_file else "demo"

    def load(self) -> dict[str, TextDataset]:
        """The splits of this source, keyed train/dev/test."""
        if self.dataset and self.train_file:
            raise DataError("give either --dataset or --train-file, not both")
        if self.dataset:
            return load_named_dataset(self.dataset)
        if self.train_file:
            return load_files(self.train_file, self.dev_file, self.test_file,
                              text_column=self.text_column, label_column=self.label_column)
        if self.dev_file or self.test_file:
            raise DataError("--dev-file/--test-file need --train-file")
        return load_demo()

    def default_tokenizer(self) -> tuple[str, bool]:
        """The tokenizer the source calls for: Kim's for registry datasets, unicode for user files."""
        spec = DATASETS.get(self.dataset or "")
        return (spec.tokenizer, spec.lowercase) if spec else ("unicode", True)


@dataclass
class RunSummary:
    """What a finished training job reports."""

    run_dir: Path
    metrics: dict[str, Any]


def make_classifier(source: DataSource, tokenizer: str | None = None, **params: Any) -> TextCNNClassifier:
    """A classifier for `source`; without an explicit tokenizer, the source's own (Kim's for Kim's data)."""
    default, lowercase = source.default_tokenizer()
    if tokenizer is None:
        return TextCNNClassifier(tokenizer=default, lowercase=lowercase, **params)
    return TextCNNClassifier(tokenizer=tokenizer, **params)


def default_run_dir(source: DataSource, variant: str) -> Path:
    """`runs/<dataset>-<variant>-<timestamp>`."""
    return RUNS_ROOT / f"{source.name}-{variant}-{datetime.now():%Y%m%d-%H%M%S}"


def train_run(
    clf: TextCNNClassifier, source: DataSource, out: str | os.PathLike | None = None, force: bool = False
) -> RunSummary:
    """Load the data, fit `clf`, save the best-dev model and metrics into a run directory."""
    splits = source.load()
    run_dir = Path(out) if out else default_run_dir(source, clf.variant)
    created = not run_dir.exists()
    prepare_run_dir(run_dir, force)  # fail before training, not after
    try:
        metrics = _fit_and_score(clf, splits)
        metrics["dataset"] = source.name
        clf.save(run_dir, force=True)
        write_json(run_dir / METRICS, metrics)
    except BaseException:
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-written is left behind
        raise
    if out is None or run_dir.parent.resolve() == RUNS_ROOT.resolve():
        point_latest(run_dir)
    return RunSummary(run_dir, metrics)


def _fit_and_score(clf: TextCNNClassifier, splits: dict[str, TextDataset]) -> dict[str, Any]:
    train, dev, test = splits["train"], splits.get("dev"), splits.get("test")
    names = train.label_names
    start = time.perf_counter()
    clf.fit(train.texts, _names(train), dev=(dev.texts, _names(dev)) if dev else None, label_names=names)
    result = clf.fit_result_
    metrics: dict[str, Any] = {
        "variant": clf.variant,
        "train_examples": len(train),
        "best_epoch": result.best_epoch,
        "best_dev_acc": result.best_dev_acc,
        "train_seconds": round(time.perf_counter() - start, 2),
        "coverage": None if clf.coverage_ is None else vars(clf.coverage_),
        "history": [vars(r) for r in result.history],
    }
    if test is not None:
        metrics["test_acc"] = float(clf.score(test.texts, _names(test)))
    return metrics


def _names(split: TextDataset) -> list[str]:
    return [split.label_names[i] for i in split.labels]


def evaluate_run(model_dir: str | os.PathLike, source: DataSource, split: str = "test") -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix of a saved model on one split of a source."""
    clf = TextCNNClassifier.load(model_dir)
    splits = source.load()
    if split not in splits:
        raise DataError(f"{source.name} has no {split!r} split (it has: {', '.join(splits)})")
    data = splits[split]
    labels = [str(c) for c in clf.classes_]
    y_true = _true_labels(data, labels, f"{source.name}/{split}")
    y_pred = [str(p) for p in clf.predict(data.texts)]
    return {
        "dataset": source.name,
        "split": split,
        "examples": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "labels": labels,
        "confusion_matrix": np.asarray(confusion_matrix(y_true, y_pred, labels=labels)).tolist(),
    }


def _true_labels(data: TextDataset, classes: list[str], where: str) -> list[str]:
    """Gold labels as the model's class names; integer labels index the classes if names don't match."""
    names = _names(data)
    unknown = sorted(set(names) - set(classes))
    if not unknown:
        return names
    if all(n.isdigit() for n in data.label_names) and len(data.label_names) <= len(classes):
        return [classes[int(data.label_names[i])] for i in data.labels]
    raise DataError(f"labels {unknown[:5]} of {where} are not among the model's classes {classes}")


def format_evaluation(metrics: dict[str, Any]) -> str:
    """A human-readable report: accuracy, macro-F1 and a labelled confusion matrix."""
    labels = metrics["labels"]
    width = max(8, *(len(x) for x in labels))
    lines = [
        f"{metrics['dataset']}/{metrics['split']}: {metrics['examples']} examples",
        f"accuracy  {metrics['accuracy']:.4f}",
        f"macro-F1  {metrics['macro_f1']:.4f}",
        "confusion matrix (rows: true, columns: predicted)",
        " " * width + "".join(f"{x:>{width + 1}}" for x in labels),
    ]
    for name, row in zip(labels, metrics["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>{width + 1}}" for n in row))
    return "\n".join(lines)
