"""The course material's 8×8 digits model (digits-cnn) on scikit-learn's 1,797 digits, two protocols, two evaluations.

Protocols (--protocol):
- keras: the material's TensorFlow recipe (issue 21): MinMaxScaler on the 64 pixels, batch 8, Adam lr 1e-3,
  1,000 epochs, every training image (no dev split), the weights after the last epoch; Keras's layer defaults
  (Glorot-uniform weights, zero biases, batch-norm momentum 0.99 = PyTorch 0.01, ε 1e-3) and Adam ε 1e-7.
- ours: the README's settings: pixels / 16, batch 16, Adam lr 3e-3, 200 epochs, 10% of the training images held
  out as dev, the best-dev epoch's weights, PyTorch's layer defaults.
Evaluations (--evaluations):
- train-all: train on all 1,797 images and score the same 1,797 (the material's 99.89% is this number).
- held-out: train on our stratified 80% split (1,437 images, `load_digits_splits()`, split seed 0 for every
  training seed) and score the other 360.

Each (protocol, evaluation, seed) unit is written to benchmarks/results/digits/<protocol>/<evaluation>/seed<k>.json
as soon as it finishes and skipped on the next run; a unit cut off mid-training resumes from its last finished epoch
(state under runs/benchmarks/digits/, git-ignored), and several processes may share the units. The table goes to
benchmarks/results/digits.md. A quick check with --epochs N is kept apart (digits/epochs<N>/, digits_epochs<N>.md).

    OMP_NUM_THREADS=1 python -m benchmarks.digits --protocol keras --seeds 5
    OMP_NUM_THREADS=1 python -m benchmarks.digits --protocol ours --seeds 5
    python -m benchmarks.digits --table-only --seeds 5
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.image_rows import PROTOCOLS, add_protocol_arg, keras_protocol
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, STATES
from textcnn.analysis.metrics import mean_std
from textcnn.data.images import ImageDataset, load_digits_splits
from textcnn.data.splits import Unit, plan_units
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.jobs.units import UnitState, run_units

CELLS = RESULTS / "digits"
STATE = STATES / "digits"
EVALUATIONS: tuple[str, ...] = ("train-all", "held-out")
MATERIAL_TRAIN_ACC = 99.89  # the material's accuracy on its own 1,797 training images (issue 21)
TRAIN_ACC_TOLERANCE = 0.5  # issue 21's target: within 0.5 points of the material's number
HELD_OUT_TARGET = 97.0  # issue 21: held-out accuracy expected ≥ 97%
MATERIAL_BATCH_SIZE, MATERIAL_EPOCHS, MATERIAL_LR = 8, 1000, 1e-3  # the material's TensorFlow code (issue 21)
# the README's digits settings, chosen on dev accuracy (README "Images")
PARAMS: dict[str, dict[str, Any]] = {
    "keras": {**keras_protocol(MATERIAL_BATCH_SIZE), "lr": MATERIAL_LR, "epochs": MATERIAL_EPOCHS},
    "ours": {"batch_size": 16, "lr": 3e-3, "epochs": 200},
}
SCALING = {"keras": "minmax", "ours": "divide"}  # MinMaxScaler on the 64 pixels, or pixel counts / 16


def load_evaluation(evaluation: str, protocol: str) -> tuple[ImageDataset, ImageDataset | None]:
    """(training images, held-out images or None) of `evaluation`, scaled as `protocol` scales them."""
    splits = load_digits_splits()  # pixels / 16; the stratified 80/20 split of seed 0
    train, test = splits["train"], splits["test"]
    if evaluation == "train-all":
        train = ImageDataset(np.concatenate([train.images, test.images]), np.concatenate([train.labels, test.labels]),
                             train.label_names)
        test = None
    if SCALING[protocol] == "minmax":
        train, test = minmax_scale(train, test)
    return train, test


def minmax_scale(train: ImageDataset, test: ImageDataset | None) -> tuple[ImageDataset, ImageDataset | None]:
    """scikit-learn's MinMaxScaler on the 64 pixels, fitted on the training images (the material's preprocessing)."""
    from sklearn.preprocessing import MinMaxScaler

    n, c, h, w = train.images.shape
    scaler = MinMaxScaler().fit(train.images.reshape(n, -1))

    def scaled(data: ImageDataset) -> ImageDataset:
        images = scaler.transform(data.images.reshape(len(data), -1)).astype(np.float32)
        return ImageDataset(images.reshape(len(data), c, h, w), data.labels, data.label_names)

    return scaled(train), None if test is None else scaled(test)


def classifier(protocol: str, seed: int, args: argparse.Namespace) -> ImageCNNClassifier:
    params = {**PARAMS[protocol], **({"epochs": args.epochs} if args.epochs else {})}
    return ImageCNNClassifier(model="digits-cnn", seed=seed, device=args.device, deterministic=True, **params)


def train_unit(protocol: str, evaluation: str, args: argparse.Namespace, unit: Unit, state: UnitState) -> dict:
    """Fit and score one (protocol, evaluation, seed) unit in its state folder."""
    logging.info("digits %s %s %s%s", protocol, evaluation, unit.name, " (resuming)" * state.resume)
    train, test = load_evaluation(evaluation, protocol)
    clf = classifier(protocol, unit.seed, args)
    start = time.perf_counter()
    clf.fit(train.images, train.labels, checkpoint_dir=state.folder, resume=state.resume)
    seconds = time.perf_counter() - start
    result = clf.fit_result_
    return {
        "protocol": protocol, "evaluation": evaluation, "seed": unit.seed, "params": clf.job_params(),
        "scaling": SCALING[protocol], "train_images": len(train), "test_images": 0 if test is None else len(test),
        "train_acc": float(clf.score(train.images, train.labels)),
        "test_acc": None if test is None else float(clf.score(test.images, test.labels)),
        "epochs_run": len(result.history), "kept_epoch": result.best_epoch, "best_dev_acc": result.best_dev_acc,
        "wall_seconds": seconds, "resumed": state.resume, "device": str(clf.device_), "torch": torch.__version__,
        "machine": describe_machine(),
    }


def cells_of(protocol: str, evaluation: str, epochs: int | None) -> Path:
    """Where the units of (protocol, evaluation) live; runs with an --epochs override are kept apart."""
    return CELLS / (f"epochs{epochs}" if epochs else "") / protocol / evaluation


def table_path(epochs: int | None) -> Path:
    """benchmarks/results/digits.md, or digits_epochs<N>.md for runs with an --epochs override."""
    return CELLS.parent / (f"digits_epochs{epochs}.md" if epochs else "digits.md")


def run_evaluation(protocol: str, evaluation: str, args: argparse.Namespace) -> None:
    cells = cells_of(protocol, evaluation, args.epochs)
    state = STATE / cells.relative_to(CELLS)
    run_units(plan_units(range(args.seeds)), partial(train_unit, protocol, evaluation, args),
              result=lambda unit: cells / f"{unit.name}.json", folder=lambda unit: state / unit.name,
              seconds_key="wall_seconds")


def measured(evaluation: str) -> str:
    """The accuracy a row reports: on the training images (train-all) or on the 360 held-out images."""
    return "train_acc" if evaluation == "train-all" else "test_acc"


def target_text(evaluation: str, mean: float) -> str:
    """Issue 21's target for this evaluation, and whether the mean meets it."""
    if evaluation == "train-all":
        met = abs(mean - MATERIAL_TRAIN_ACC) <= TRAIN_ACC_TOLERANCE
        return f"{MATERIAL_TRAIN_ACC} ± {TRAIN_ACC_TOLERANCE} (material) | {'met' if met else 'not met'}"
    return f"≥ {HELD_OUT_TARGET:g} | {'met' if mean >= HELD_OUT_TARGET else 'not met'}"


def row(protocol: str, evaluation: str, seeds: int, epochs: int | None) -> str:
    """One table row; "pending" until every seed is done."""
    runs = [json.loads(p.read_text()) for p in sorted(cells_of(protocol, evaluation, epochs).glob("seed*.json"))]
    images = "1,797 (all)" if evaluation == "train-all" else "1,437 (80%)"
    scored = "the 1,797 training images" if evaluation == "train-all" else "360 held-out images"
    head = f"| {protocol} | {evaluation} | {images} | {scored} | "
    if len(runs) < seeds:
        return head + f"pending ({len(runs)}/{seeds}) | | | | | |"
    acc, std = mean_std([100 * r[measured(evaluation)] for r in runs])
    train, train_std = mean_std([100 * r["train_acc"] for r in runs])
    kept = ", ".join(str(r["kept_epoch"]) for r in runs)
    minutes = sum(r["wall_seconds"] for r in runs) / 60 / len(runs)
    return (head + f"{acc:.2f} ± {std:.2f} (n={len(runs)}) | {target_text(evaluation, acc)} | "
            f"{train:.2f} ± {train_std:.2f} | {runs[0]['epochs_run']} (kept: {kept}) | {minutes:.1f} min |")


def machines(protocols: tuple[str, ...], epochs: int | None) -> list[str]:
    """The machines the finished units ran on."""
    found = {json.loads(p.read_text())["machine"] for protocol in protocols for evaluation in EVALUATIONS
             for p in cells_of(protocol, evaluation, epochs).glob("seed*.json")}
    return sorted(found) or [describe_machine()]


def table(args: argparse.Namespace) -> str:
    epochs = f" --epochs {args.epochs}" if args.epochs else ""
    keras, ours = PARAMS["keras"], PARAMS["ours"]
    lines = [
        "# sklearn digits 8×8: the course material's digits model under its own protocol and ours",
        "",
        "Commands: " + ", ".join(f"`OMP_NUM_THREADS=1 python -m benchmarks.digits --protocol {p} --seeds "
                                 f"{args.seeds}{epochs}`" for p in PROTOCOLS) + "  ",
        f"Protocol keras (the material's TensorFlow recipe): MinMaxScaler on the 64 pixels (fitted on the training "
        f"images), batch {keras['batch_size']}, Adam lr {keras['lr']:g} (ε {keras['adam_eps']}), "
        f"{args.epochs or keras['epochs']:,} epochs, no dev split, the last epoch's weights; Glorot-uniform weights "
        f"and zero biases, batch-norm momentum 0.99 in Keras's terms (PyTorch {keras['bn_momentum']}) and ε "
        f"{keras['bn_eps']}. Differences that remain: the material initialised with `tf.random_normal`, and TF1's "
        "AdamOptimizer has ε 1e-8.  ",
        f"Protocol ours (README): pixels / 16, batch {ours['batch_size']}, Adam lr {ours['lr']:g}, "
        f"{args.epochs or ours['epochs']} epochs, 10% of the training images held out as dev, the best-dev epoch's "
        "weights, PyTorch's layer defaults.  ",
        "Evaluations: train-all trains on all 1,797 images and scores them (the material's 99.89% is this number); "
        "held-out trains on our stratified 80% split (split seed 0 for every training seed) and scores the other "
        "360.  ",
        "Machine: " + "; ".join(machines(PROTOCOLS, args.epochs)) + " (per-unit machine in each JSON); "
        "shared with other jobs, so wall times are upper bounds.  ",
        f"Seeds: 0–{args.seeds - 1} (training seeds: initial weights and batch order).",
        "",
        "| protocol | evaluation | training images | scored on | accuracy % (mean ± std) | target | met? | "
        "training-set acc % | epochs (kept epoch per seed) | wall time per seed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(p, e, args.seeds, args.epochs) for p in reversed(PROTOCOLS) for e in EVALUATIONS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("benchmarks.digits", __doc__)
    add_protocol_arg(parser)
    parser.add_argument("--evaluations", default="all", help=f"comma-separated from {', '.join(EVALUATIONS)}, or all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="override the protocol's epochs (a quick check)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished units")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    evaluations = list(EVALUATIONS) if args.evaluations == "all" else args.evaluations.split(",")
    unknown = sorted(set(evaluations) - set(EVALUATIONS))
    if unknown:
        raise SystemExit(f"unknown evaluations {unknown}; choose from {', '.join(EVALUATIONS)} or all")
    if not args.table_only:
        for evaluation in evaluations:
            run_evaluation(args.protocol, evaluation, args)
    text = table(args)
    table_path(args.epochs).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
