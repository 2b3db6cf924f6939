"""Fully connected vs CNN on the same parameter budget, on ordinary and pixel-permuted Fashion-MNIST.

The course material's experiment: an MLP 784-8-8-10 (6,442 parameters) against a CNN with two
conv 5×5×6 + max-pool stages and a 50-unit hidden layer (6,422 parameters), trained the same way.
Permuting the pixels (one fixed permutation for train and test) keeps every pixel's information but
destroys the spatial neighbourhoods the convolutions rely on; a fully connected net is blind to the
order, so its accuracy should not change, while the CNN's advantage should disappear.

Each finished row is written at once to benchmarks/results/fc_vs_cnn/<row>-seed<k>.json (under
limit<N>/ with --limit) and skipped on the next run. The table goes to benchmarks/results/fc_vs_cnn.md.

    python -m benchmarks.fc_vs_cnn --epochs 10
    python -m benchmarks.fc_vs_cnn --epochs 2 --limit 5000    # a quick run
"""

from __future__ import annotations

import argparse
import statistics
from functools import cache, partial
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.image_rows import (
    RESULTS,
    Splits,
    accuracy_text,
    add_common_args,
    cells_dir,
    command_text,
    load_fashion,
    model_parameters,
    parse_common,
    row_runs,
    run_row,
    setup_text,
)
from benchmarks.common.machine import describe_machine
from textcnn.data.images import ImageDataset
from textcnn.estimators.image import ImageCNNClassifier

MODELS = {"MLP 784-8-8-10": "mlp-8-8", "CNN 2×(conv 5×5×6 + pool), dense 50": "budget-cnn"}
IMAGES = ("ordinary", "permuted")
BATCH_SIZE = 100  # the course material's batch size for its MNIST-family runs


def permute_pixels(data: ImageDataset, order: np.ndarray) -> ImageDataset:
    """The same images with their H·W pixels reordered by `order` (one fixed permutation for every image)."""
    n, c, h, w = data.images.shape
    images = data.images.reshape(n, c, h * w)[:, :, order].reshape(n, c, h, w)
    return ImageDataset(np.ascontiguousarray(images), data.labels, data.label_names)


@cache
def splits_for(images: str, limit: int | None, seed: int) -> Splits:
    splits = load_fashion(limit)
    if images == "ordinary":
        return splits
    h, w = splits["train"].images.shape[2:]
    order = np.random.default_rng(seed).permutation(h * w)
    return {name: permute_pixels(split, order) for name, split in splits.items()}


def row_name(model: str, images: str) -> str:
    return f"{model}-{images}"


def gap_text(cells: Path, images: str) -> str:
    """The CNN's lead over the MLP in mean test accuracy, once both have a finished seed."""
    mlp, cnn = (row_runs(cells, row_name(model, images)) for model in MODELS.values())
    if not mlp or not cnn:
        return "pending"
    return f"{100 * (statistics.mean(r['test_acc'] for r in cnn) - statistics.mean(r['test_acc'] for r in mlp)):+.2f}"


def table(args: argparse.Namespace, cells: Path) -> str:
    threads = f" --threads {args.threads}" if args.threads else ""
    limit = f"the first {args.limit:,} training images (--limit)" if args.limit else "all 60,000 training images"
    options = f"--epochs {args.epochs}" + (f" --limit {args.limit}" if args.limit else "") + threads
    lines = [
        "# Fully connected vs CNN on the same parameter budget (Fashion-MNIST)",
        "",
        "Command: " + command_text("fc_vs_cnn", options, cells) + "  ",
        f"Protocol: {limit}, 10% of them held out as dev for the best-dev epoch of {args.epochs}; "
        f"Adam lr 1e-3, batch {BATCH_SIZE}; test = the 10,000 Fashion-MNIST test images. Permuted = one fixed "
        "random pixel order per seed, applied to train and test.  ",
        f"Hardware: {describe_machine()}; CPU shared with another job, so wall times are indicative only.  ",
        "Seeds: n per cell below (std shown when n > 1).",
        "",
        "| model | parameters | ordinary images (test acc %) | permuted images (test acc %) |",
        "|---|---|---|---|",
    ]
    for label, model in MODELS.items():
        accs = [accuracy_text(row_runs(cells, row_name(model, images))) for images in IMAGES]
        lines.append(f"| {label} | {model_parameters(model):,} | {accs[0]} | {accs[1]} |")
    lines.append(f"| CNN − MLP (points) | | {gap_text(cells, 'ordinary')} | {gap_text(cells, 'permuted')} |")
    lines += ["", "| row | training images | epochs run (best-dev epoch) | train wall time |", "|---|---|---|---|"]
    for model in MODELS.values():
        for images in IMAGES:
            row = row_name(model, images)
            lines.append(f"| {row} | {setup_text(row_runs(cells, row))} |")
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--epochs", type=int, default=10)
    add_common_args(parser)
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished rows")
    args = parse_common(parser)
    cells = cells_dir("fc_vs_cnn", args.limit)
    if not args.table_only:
        for images in IMAGES:
            for model in MODELS.values():
                clf = ImageCNNClassifier(model=model, optimizer="adam", batch_size=BATCH_SIZE, epochs=args.epochs,
                                         seed=args.seed, device=args.device)
                path = cells / f"{row_name(model, images)}-seed{args.seed}.json"
                run_row(path, clf, partial(splits_for, images, args.limit, args.seed),
                        {"images": images, "torch_threads": torch.get_num_threads()})
    text = table(args, cells)
    (RESULTS / "fc_vs_cnn.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
