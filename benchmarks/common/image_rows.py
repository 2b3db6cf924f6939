"""Shared plumbing for the image benchmarks: Fashion-MNIST loading, one resumable row, table cells.

A row is one trained model at one seed, written at once to `<cells>/<row>-seed<k>.json` and skipped
when that file exists, so a benchmark can be stopped and rerun at any time. While a row trains, its state
after every epoch is kept under runs/benchmarks/ (git-ignored), and a rerun continues it from there
(the library's resumable runner, `textcnn.jobs.units`, which also lets several processes share the rows).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textcnn.data.images import ImageDataset, load_image_dataset
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.jobs.units import UnitState, run_unit
from textcnn.models.image import ImageCNNConfig, build_model, count_parameters

from .machine import describe_machine
from .paths import RESULTS, STATES

Splits = dict[str, ImageDataset]

# --protocol: "ours" = our settings (a dev split held out, the best-dev epoch, PyTorch's layer defaults);
# "keras" = the course material's Keras protocol (issue 21): `model.fit` on every training image without validation
# data, the weights after the last epoch, and Keras's layer and optimizer defaults
PROTOCOLS: tuple[str, ...] = ("ours", "keras")
KERAS_BATCH_SIZE = 32  # Keras's `model.fit(batch_size=None)` default
# Keras's defaults that differ from PyTorch's: Conv2D/Dense glorot_uniform weights and zero biases;
# BatchNormalization(momentum=0.99, epsilon=1e-3), i.e. PyTorch momentum 0.01 (PyTorch weighs the new batch, Keras
# the old value); Adam(epsilon=1e-7)
KERAS_DEFAULTS: dict[str, Any] = {"init": "keras", "bn_momentum": 0.01, "bn_eps": 1e-3, "adam_eps": 1e-7}
KERAS_FIT: dict[str, Any] = {"dev_fraction": 0.0, "selection": "last"}  # all training images, the last epoch


def keras_protocol(batch_size: int = KERAS_BATCH_SIZE) -> dict[str, Any]:
    """The estimator parameters of the Keras protocol: batch size, no dev split, last epoch, Keras defaults."""
    return {"batch_size": batch_size, **KERAS_FIT, **KERAS_DEFAULTS}


def load_fashion(limit: int | None) -> Splits:
    """Fashion-MNIST train/test from the local IDX files; train cut to its first `limit` images."""
    splits = load_image_dataset("fashion_mnist")
    if limit is not None:
        splits["train"] = splits["train"].subset(np.arange(min(limit, len(splits["train"]))))
    return splits


def model_parameters(model: str) -> int:
    """Trainable parameters of a MODELS entry on 28×28×1 Fashion-MNIST with 10 classes."""
    return count_parameters(build_model(ImageCNNConfig(model=model, in_channels=1, image_size=28), 10))


def run_row(path: Path, clf: ImageCNNClassifier, splits: Splits | Callable[[], Splits],
            extra: dict[str, Any]) -> None:
    """Fit `clf` on train (its `dev_fraction` held out for the best-dev epoch, or none), score test once, write
    the row's JSON.

    The row is a unit of `textcnn.jobs.units`: skipped when its JSON exists or another live process trains it,
    resumed from its state under runs/benchmarks/ when an earlier process was cut off.
    """
    folder = STATES / path.resolve().relative_to(RESULTS.resolve()).with_suffix("")
    run_unit(path, folder, partial(_fit_row, clf, splits, extra, path))


def _fit_row(clf: ImageCNNClassifier, splits: Splits | Callable[[], Splits], extra: dict[str, Any], path: Path,
             state: UnitState) -> dict[str, Any]:
    """Fit and score one row in its state folder; its metrics (train seconds of this process only)."""
    if callable(splits):
        splits = splits()
    train, test = splits["train"], splits["test"]
    names = np.asarray(train.label_names)
    logging.info("%s: %s on %d training images%s", path.stem, clf.model, len(train),
                 f", resuming from {state.folder}" if state.resume else "")
    start = time.perf_counter()
    clf.fit(train.images, names[train.labels], label_names=train.label_names, checkpoint_dir=state.folder,
            resume=state.resume)
    seconds = time.perf_counter() - start
    result = clf.fit_result_
    metrics = {
        **extra, "model": clf.model, "optimizer": clf.optimizer, "lr": clf.lr, "momentum": clf.momentum,
        "batch_size": clf.batch_size, "max_epochs": clf.epochs, "patience": clf.patience, "seed": clf.seed,
        "lr_schedule": clf.lr_schedule, "lr_factor": clf.lr_factor, "lr_patience": clf.lr_patience,
        "dev_fraction": clf.dev_fraction, "selection": clf.selection, "init": clf.init,
        "bn_momentum": clf.bn_momentum, "bn_eps": clf.bn_eps, "adam_eps": clf.adam_eps,
        "epochs_run": len(result.history), "best_epoch": result.best_epoch, "best_dev_acc": result.best_dev_acc,
        "train_images": len(train), "parameters": model_parameters(clf.model),
        "test_acc": float(clf.score(test.images, names[test.labels])),
        "train_seconds": seconds, "resumed": state.resume,  # the runner adds the earlier processes' seconds
        "device": str(clf.device_), "torch": torch.__version__, "machine": describe_machine(),
    }
    logging.info("%s: test accuracy %.2f%% in %.0f s", path.stem, 100 * metrics["test_acc"], seconds)
    return metrics


def row_runs(cells: Path, row: str) -> list[dict[str, Any]]:
    """Every finished seed of `row`."""
    return [json.loads(p.read_text()) for p in sorted(cells.glob(f"{row}-seed*.json"))]


def accuracy_text(runs: list[dict[str, Any]]) -> str:
    """Test accuracy as "mean ± std (n seeds)", or "pending" before any seed has finished."""
    if not runs:
        return "pending"
    accs = [100 * r["test_acc"] for r in runs]
    std = f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""
    return f"{statistics.mean(accs):.2f}{std} (n={len(accs)})"


def setup_text(runs: list[dict[str, Any]]) -> str:
    """Training images, epochs run (kept epoch) and wall time of a row, from its JSON files."""
    if not runs:
        return "– | – | –"
    images = ", ".join(sorted({f"{r['train_images']:,}" for r in runs}))
    epochs = ", ".join(f"{r['epochs_run']} ({r['best_epoch']})" for r in runs)
    minutes = sum(r["train_seconds"] for r in runs) / 60 / len(runs)
    return f"{images} | {epochs} | {minutes:.1f} min"


def command_text(script: str, options: str, cells: Path) -> str:
    """The command (`script`: a module of benchmarks/) that produced the rows in `cells`: one run per seed there."""
    seeds = sorted({json.loads(p.read_text())["seed"] for p in cells.glob("*-seed*.json")}) or [0]
    if len(seeds) == 1:
        return f"`python -m benchmarks.{script} {options} --seed {seeds[0]}`"
    listed = " ".join(str(s) for s in seeds)
    return f"`for seed in {listed}; do python -m benchmarks.{script} {options} --seed $seed; done`"


def add_protocol_arg(parser: argparse.ArgumentParser) -> None:
    """--protocol ours|keras (see PROTOCOLS)."""
    parser.add_argument("--protocol", choices=PROTOCOLS, default="ours",
                        help="ours: a dev split, the best-dev epoch, PyTorch's defaults; keras: the course material's "
                             "Keras protocol (every training image, the last epoch, Keras's defaults)")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The options every image benchmark takes: data limit, seed, threads, device."""
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="auto")


def parse_common(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options, set up logging and torch's CPU threads."""
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def cells_dir(name: str, limit: int | None, protocol: str = "ours") -> Path:
    """Where a benchmark's per-row JSON lives: "ours" at the top, another protocol in its own folder, runs on a
    limited slice kept apart."""
    return RESULTS / name / ("" if protocol == "ours" else protocol) / (f"limit{limit}" if limit else "")
