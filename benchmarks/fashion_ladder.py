"""The course material's Fashion-MNIST ladder: five rungs, each one change on the last, one table.

Rungs: (1) the MNIST model, SGD, 5 epochs; (2) the wider model (conv 7×7×64 'same' → pool → conv
3×3×128 'same' → pool → dense 64 → 10), SGD; (3) the same with Adam; (4) plus batch-norm (after each conv and
the dense 64) and dropout 0.5 (before the dense 64 and before the output layer);
(5) plus more epochs with the material's two callbacks: a learning-rate schedule (the trainer's
`lr_schedule="plateau"`, torch's ReduceLROnPlateau on dev accuracy, like Keras's callback) and early stopping
(`patience`). The lr is cut before training gives up (--lr-patience below --patience).

Two protocols (--protocol): "ours" holds out 10% of the training images as dev and keeps the best-dev epoch's
weights, batch 100, PyTorch's layer defaults; "keras" is the material's `model.fit(train_images, train_labels,
epochs=5)`: every training image, no validation data, the weights after the last epoch, Keras's default batch 32 and
Keras's defaults (Glorot-uniform weights, zero biases, batch-norm momentum 0.99 = PyTorch 0.01 and ε 1e-3, Adam ε
1e-7). Rung 5's callbacks watch validation data, so under "keras" it holds out 10% (Keras's `validation_split=0.1`)
and keeps the best epoch (`EarlyStopping(restore_best_weights=True)`).

Each finished rung is written at once to benchmarks/results/fashion_ladder/<rung>-seed<k>.json (protocol keras:
fashion_ladder/keras/; under limit<N>/ with --limit) and skipped on the next run. The table (rungs not yet run show
"pending"), both protocols side by side, goes to benchmarks/results/fashion_ladder.md.

    python -m benchmarks.fashion_ladder --rungs 1            # one rung
    python -m benchmarks.fashion_ladder --rungs all --epochs 5 --long-epochs 30 --patience 5 --lr-patience 2
    python -m benchmarks.fashion_ladder --rungs all --protocol keras --threads 1
    python -m benchmarks.fashion_ladder --rungs 4 --protocol keras --change head-dropout --threads 1

--change NAME (rungs 4-5, keras protocol) changes one thing at a time (CHANGES below), into fashion_ladder/keras/study/.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.image_rows import (
    PROTOCOLS,
    RESULTS,
    accuracy_text,
    add_common_args,
    add_protocol_arg,
    cells_dir,
    command_text,
    keras_protocol,
    load_fashion,
    model_parameters,
    parse_common,
    row_runs,
    run_row,
    setup_text,
)
from benchmarks.common.machine import describe_machine
from textcnn.estimators.image import ImageCNNClassifier

BATCH_SIZE = 100  # protocol "ours": the batch size of our earlier MNIST-family runs
KERAS_VALIDATION_SPLIT = 0.1  # protocol "keras", rung 5: Keras's usual validation_split for its callbacks
# SGD as Keras's optimizer="sgd" defaults (lr 0.01, no momentum): our assumption about the material's setting.
SGD_LR, SGD_MOMENTUM = 0.01, 0.0
ADAM_LR = 1e-3  # Kingma & Ba 2015 default


@dataclass(frozen=True)
class Rung:
    """One rung: a MODELS entry, its optimizer, whether it trains long (plateau LR, early stop), the material's %."""

    name: str
    description: str
    model: str
    optimizer: str
    long: bool
    material: float


RUNGS = (
    Rung("1-mnist-cnn-sgd", "MNIST model, SGD", "mnist-cnn", "sgd", False, 85.93),
    Rung("2-wide-cnn-sgd", "wider model, SGD", "wide-cnn", "sgd", False, 86.28),
    Rung("3-wide-cnn-adam", "wider model, Adam", "wide-cnn", "adam", False, 90.99),
    Rung("4-wide-cnn-bn-adam", "+ batch-norm, dropout 0.5", "wide-cnn-bn", "adam", False, 92.56),
    Rung("5-wide-cnn-bn-adam-plateau", "+ more epochs, LR schedule (plateau), early stopping", "wide-cnn-bn", "adam",
         True, 94.54),
)


# One difference at a time from the keras-protocol row of rungs 4-5 (--change), to find what the distance to the
# material's number comes from: name → (what it changes, estimator parameters it overrides).
CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "head-dropout": ("dropout 0.5 before the output layer only, not also before the dense 64",
                     {"model": "wide-cnn-bn-head-dropout"}),
    "torch-bn": ("PyTorch's batch-norm defaults (momentum 0.1 = Keras 0.9, ε 1e-5)",
                 {"bn_momentum": 0.1, "bn_eps": 1e-5}),
    "torch-init": ("PyTorch's weight init (Kaiming-uniform a=√5, uniform biases)", {"init": "torch"}),
}
STUDY_RUNGS = (4, 5)  # the rungs with batch-norm and dropout, where the changes apply
STUDY = "study"  # their cells: fashion_ladder/keras/study/<rung>-<change>-seed<k>.json


def protocol_params(rung: Rung, protocol: str) -> dict[str, Any]:
    """The estimator parameters `protocol` sets (batch, dev split, kept epoch, layer and optimizer defaults)."""
    if protocol == "ours":
        return {"batch_size": BATCH_SIZE}
    params = keras_protocol()
    if rung.long:  # the callbacks need validation data: keep the best epoch, as early stopping restores it
        params.update(dev_fraction=KERAS_VALIDATION_SPLIT, selection="accuracy")
    return params


def classifier(rung: Rung, args: argparse.Namespace) -> ImageCNNClassifier:
    sgd = rung.optimizer == "sgd"
    params = dict(
        model=rung.model, optimizer=rung.optimizer, lr=SGD_LR if sgd else ADAM_LR,
        momentum=SGD_MOMENTUM if sgd else 0.9,
        epochs=args.long_epochs if rung.long else args.epochs, patience=args.patience if rung.long else None,
        lr_schedule="plateau" if rung.long else "none", lr_factor=args.lr_factor, lr_patience=args.lr_patience,
        seed=args.seed, device=args.device, **protocol_params(rung, args.protocol),
    )
    return ImageCNNClassifier(**{**params, **(CHANGES[args.change][1] if args.change else {})})


def table(args: argparse.Namespace) -> str:
    threads = f" --threads {args.threads}" if args.threads else ""
    limit = f"the first {args.limit:,} training images (--limit)" if args.limit else "all 60,000 training images"
    options = (f"--rungs all --epochs {args.epochs} --long-epochs {args.long_epochs} --patience {args.patience} "
               f"--lr-patience {args.lr_patience} --lr-factor {args.lr_factor}"
               + (f" --limit {args.limit}" if args.limit else "") + threads)
    cells = {p: cells_dir("fashion_ladder", args.limit, p) for p in PROTOCOLS}
    keras = keras_protocol()
    lines = [
        "# Fashion-MNIST ladder (course material), reproduced",
        "",
        "Commands: ours " + command_text("fashion_ladder", options, cells["ours"]) + "; keras "
        + command_text("fashion_ladder", options + " --protocol keras", cells["keras"]) + "  ",
        f"Protocol ours: {limit}, 10% of them held out as dev (the best-dev epoch's weights are kept); batch "
        f"{BATCH_SIZE}; PyTorch's layer defaults.  ",
        f"Protocol keras (the material's `model.fit`): {limit}, no dev split, the last epoch's weights; batch "
        f"{keras['batch_size']} (Keras's default); Glorot-uniform weights and zero biases, batch-norm momentum 0.99 in "
        f"Keras's terms (PyTorch {keras['bn_momentum']}) and ε {keras['bn_eps']}, Adam ε {keras['adam_eps']}. "
        f"Rung 5 holds out {KERAS_VALIDATION_SPLIT:.0%} for its callbacks (Keras's `validation_split`) and keeps the "
        "best epoch (`EarlyStopping(restore_best_weights=True)`).  ",
        f"Both: test = the 10,000 Fashion-MNIST test images. SGD = lr {SGD_LR}, no momentum (Keras's "
        f"`optimizer='sgd'` defaults, assumed); Adam lr {ADAM_LR}. Rungs 1-4: {args.epochs} epochs. Rung 5: up to "
        f"{args.long_epochs} epochs; the lr is multiplied by {args.lr_factor} after {args.lr_patience} epochs without "
        f"a better dev score (`lr_schedule='plateau'`: torch's ReduceLROnPlateau, as Keras's callback) and training "
        f"stops after {args.patience} (early stopping).  ",
        f"Hardware: {describe_machine()}; CPU shared with another job, so wall times are indicative only.  ",
        "Seeds: n per rung below (std shown when n > 1).",
        "",
        "| rung | change | model | parameters | material | ours (test acc %) | keras protocol (test acc %) | "
        "ours: training images; epochs run (kept epoch); train wall time | keras: the same |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, rung in enumerate(RUNGS, 1):
        runs = {p: row_runs(cells[p], rung.name) for p in PROTOCOLS}
        lines.append(f"| {i} | {rung.description} | {rung.model} | {model_parameters(rung.model):,} | "
                     f"{rung.material:.2f} | {accuracy_text(runs['ours'])} | {accuracy_text(runs['keras'])} | "
                     f"{setup_text(runs['ours']).replace(' | ', '; ')} | "
                     f"{setup_text(runs['keras']).replace(' | ', '; ')} |")
    return "\n".join(lines + study_table(cells["keras"]))


def study_table(keras_cells: Path) -> list[str]:
    """Rungs 4-5 under the keras protocol with one difference each (--change), beside the unchanged row."""
    rows = []
    for n in STUDY_RUNGS:
        rung = RUNGS[n - 1]
        for change, (what, _) in CHANGES.items():
            runs = row_runs(keras_cells / STUDY, f"{rung.name}-{change}")
            if runs:
                seeds = {r["seed"] for r in runs}
                unchanged = [r for r in row_runs(keras_cells, rung.name) if r["seed"] in seeds]
                rows.append(f"| {n} | {what} | {', '.join(map(str, sorted(seeds)))} | {accuracy_text(runs)} | "
                            f"{accuracy_text(unchanged)} | {rung.material:.2f} |")
    if not rows:
        return []
    return ["", "## One change at a time (keras protocol, rungs 4-5)", "",
            "Each row changes one thing of the keras-protocol row (`--change NAME`); the unchanged column is the "
            "keras-protocol row on the same seeds.", "",
            "| rung | change | seeds | changed (test acc %) | unchanged, same seeds | material |",
            "|---|---|---|---|---|---|",
            *rows]


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--rungs", default="all", help="comma-separated rung numbers (1-5) or all")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of rungs 1-4 (the material's 5)")
    parser.add_argument("--long-epochs", type=int, default=30, help="most epochs of rung 5")
    parser.add_argument("--patience", type=int, default=5, help="rung 5 stops after this many epochs without a "
                        "better dev score")
    parser.add_argument("--lr-patience", type=int, default=2, help="rung 5 cuts the lr after this many epochs "
                        "without a better dev score (below --patience, so the cut comes before the stop)")
    parser.add_argument("--lr-factor", type=float, default=0.5, help="rung 5's lr cut: lr *= this (Géron, "
                        "Hands-On ML ch. 11, ReduceLROnPlateau(factor=0.5))")
    add_common_args(parser)
    add_protocol_arg(parser)
    changes = "; ".join(f"{k}: {v[0]}" for k, v in CHANGES.items())
    parser.add_argument("--change", choices=sorted(CHANGES), help="one difference from the keras protocol, for "
                        f"rungs {STUDY_RUNGS[0]}-{STUDY_RUNGS[-1]}: {changes}")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished rungs")
    args = parse_common(parser)
    numbers = range(1, len(RUNGS) + 1) if args.rungs == "all" else [int(r) for r in args.rungs.split(",")]
    if any(n not in range(1, len(RUNGS) + 1) for n in numbers):
        raise SystemExit(f"--rungs takes numbers 1-{len(RUNGS)} or all; got {args.rungs}")
    cells = cells_dir("fashion_ladder", args.limit, args.protocol)
    if args.change and (args.protocol != "keras" or not set(numbers) <= set(STUDY_RUNGS)):
        raise SystemExit(f"--change studies the keras protocol of rungs {STUDY_RUNGS}: add --protocol keras and "
                         f"--rungs {','.join(map(str, STUDY_RUNGS))}")
    if args.change:
        cells = cells / STUDY
    if not args.table_only:
        load = partial(load_fashion, args.limit)
        for n in numbers:
            rung = RUNGS[n - 1]
            name = f"{rung.name}-{args.change}" if args.change else rung.name
            run_row(cells / f"{name}-seed{args.seed}.json", classifier(rung, args), load,
                    {"rung": n, "protocol": args.protocol, "change": args.change,
                     "torch_threads": torch.get_num_threads()})
    text = table(args)
    (RESULTS / "fashion_ladder.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
