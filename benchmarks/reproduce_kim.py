"""Reproduce Kim (2014) Table 2: every dataset × variant under the paper's protocol, mean ± std.

Fixed-split datasets (SST-1, SST-2, TREC) run `--seeds` seeds; the others run 10-fold CV (one seed,
the same folds for every variant). SST trains on all labelled phrases, as Kim did. Each finished unit
(one seed or one fold of one cell) is written at once to
benchmarks/results/kim_table2/<dataset>/<variant>/<unit>.json and skipped on the next run, so the
script can be stopped and restarted at any time; a unit cut off mid-training continues from its last finished
epoch (its resume state lives under runs/benchmarks/kim_table2/, git-ignored, until the unit finishes).
Several processes may run at once on the same cells: each unit is claimed by one of them and skipped by the rest
(on 2 cores, two processes with OMP_NUM_THREADS=1 finish sooner than one with two threads). The units are run by
the library's resumable runner, `textcnn.jobs.units.run_units`.
The table (cells not yet run show "pending") goes to benchmarks/results/kim_table2.md.

    TEXTCNN_DATA=../shared/data python -m benchmarks.reproduce_kim --datasets all --variants all
    TEXTCNN_DATA=../shared/data python -m benchmarks.reproduce_kim --datasets trec,cr --variants rand --table-only
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from functools import partial
from pathlib import Path

import torch

from benchmarks.common.cli import add_vectors_arg, benchmark_parser, run_benchmark
from benchmarks.common.kim import KIM_DATASETS, KIM_TABLE2, VARIANTS, baseline_text, parse_list, units_for
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT, STATES
from textcnn.analysis.metrics import mean_std
from textcnn.data.files import TextDataset
from textcnn.data.splits import Unit, unit_splits
from textcnn.jobs.text import DataSource, fit_and_score, make_classifier
from textcnn.jobs.units import UnitState, run_units

CELLS = RESULTS / "kim_table2"


def run_cell(dataset: str, variant: str, args: argparse.Namespace) -> None:
    """Train every unit of one cell not yet finished (nor held by another process)."""
    splits, cv, units = units_for(dataset, args.seeds)
    train = partial(train_unit, dataset, variant, splits, cv, args)
    run_units(units, train, result=lambda unit: CELLS / dataset / variant / f"{unit.name}.json",
              folder=lambda unit: STATES / "kim_table2" / dataset / variant / unit.name, seconds_key="wall_seconds")


def train_unit(
    dataset: str, variant: str, splits: dict[str, TextDataset], cv: int | None, args: argparse.Namespace, unit: Unit,
    state: UnitState,
) -> dict:
    """Fit and score one unit in its state folder; the result JSON of benchmarks/results/kim_table2."""
    logging.info("%s %s %s%s", dataset, variant, unit.name, " (resuming)" * state.resume)
    vectors = None if variant == "rand" else args.vectors
    clf = make_classifier(
        DataSource(dataset),
        variant=variant,
        seed=unit.seed,
        vectors=vectors,
        epochs=args.epochs,
        device=args.device,
    )
    start = time.perf_counter()
    metrics = fit_and_score(clf, unit_splits(splits, unit, cv), checkpoint_dir=state.folder, resume=state.resume)
    metrics.update(
        dataset=dataset,
        unit=unit.name,
        wall_seconds=time.perf_counter() - start,  # the runner adds the earlier processes' seconds
        resumed=state.resume,
        vectors=Path(vectors).name if vectors else None,
        epochs=args.epochs,
        device=str(clf.device_),
        torch=torch.__version__,
        machine=describe_machine(),
    )
    return metrics


def cell_text(dataset: str, variant: str, expected_units: int) -> tuple[str, str, str]:
    """(accuracy, units, wall time) of one cell as table text; "pending" until every unit is done."""
    runs = [json.loads(p.read_text()) for p in sorted((CELLS / dataset / variant).glob("*.json"))]
    if not runs:
        return "pending", f"0/{expected_units}", "–"
    mean, std = mean_std([100 * r["test_acc"] for r in runs])
    hours = sum(r["wall_seconds"] for r in runs) / 3600
    done = f"{len(runs)}/{expected_units}"
    text = f"{mean:.1f} ± {std:.1f}" if len(runs) == expected_units else "pending"  # no number until complete
    return text, done, f"{hours:.2f} h"


def table(datasets: list[str], variants: list[str], args: argparse.Namespace) -> str:
    lines = [
        "# Kim (2014) Table 2, reproduced",
        "",
        f"Command: `TEXTCNN_DATA=../shared/data python -m benchmarks.reproduce_kim --datasets all --variants all "
        f"--seeds {args.seeds} --epochs {args.epochs}`  ",
        "Protocol: SST-1/SST-2 trained on all labelled phrases, scored on test sentences, "
        f"{args.seeds} seeds; TREC {args.seeds} seeds, dev = 10% of train; MR, Subj, CR, MPQA 10-fold CV "
        "(one seed, stratified folds, each fold with its own 10% dev split). Best-dev epoch of "
        f"{args.epochs}; Adadelta, batch 50, dropout 0.5, max-norm 3, filters 3,4,5 × 100.  ",
        "Vectors: rand = 300-d random (Kim's k); pretrained variants use GloVe 6B **50-d** "
        "(`glove.6B.50d.kim7.txt`), not Kim's 300-d word2vec GoogleNews, so those columns are expected lower.  ",
        "CR and MPQA: 4 and 3 rows with empty text are dropped (3,771 and 10,603 remain).  ",
        "Padding: ours never lets a window that lies entirely in padding win the max; Kim's code does.  ",
        "Baselines: TF-IDF + LR and fastText on the same units and tokens, their settings chosen on the same dev "
        "splits (`python -m benchmarks.baselines`, benchmarks/results/baselines.md).  ",
        f"Machines: {describe_machine()} (per-unit machine recorded in each JSON).",
        "",
        "| dataset | variant | ours (acc %, mean ± std) | units | wall time | Kim 2014 | TF-IDF + LR baseline "
        "| fastText baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dataset in datasets:
        _, cv, units = units_for(dataset, args.seeds)
        for variant in variants:
            acc, done, wall = cell_text(dataset, variant, len(units))
            kim = KIM_TABLE2[dataset][VARIANTS.index(variant)]
            baselines = f"{baseline_text(dataset, 'tfidf')} | {baseline_text(dataset, 'fasttext')}"
            lines.append(f"| {dataset} | {variant} | {acc} | {done} | {wall} | {kim} | {baselines} |")
    return "\n".join(lines)


def update_readme(text: str, readme: Path = ROOT / "README.md") -> None:
    """Copy the table rows into the README, between its kim-table2 markers."""
    rows = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    block = f"<!-- kim-table2:start -->\n{rows}\n<!-- kim-table2:end -->"
    pattern = re.compile(r"<!-- kim-table2:start -->.*?<!-- kim-table2:end -->", re.S)
    readme.write_text(pattern.sub(lambda _: block, readme.read_text()))


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--datasets", default="all")
    parser.add_argument("--variants", default="all")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--device", default="auto")
    add_vectors_arg(parser)
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished units")
    parser.add_argument("--readme", action="store_true", help="also copy the table into README.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    datasets, variants = parse_list(args.datasets, KIM_DATASETS), parse_list(args.variants, VARIANTS)
    if not args.table_only:
        for dataset in datasets:
            for variant in variants:
                run_cell(dataset, variant, args)
    text = table(list(KIM_DATASETS), list(VARIANTS), args)
    (RESULTS / "kim_table2.md").write_text(text + "\n")
    if args.readme:
        update_readme(text)
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
