"""Class imbalance and multi-label data (issue 18): class weights and per-label thresholds, CNN beside TF-IDF + LR.

Two derived data sets, both from local SST files and both deterministic:
- imbalanced SST-2: the SST-2 training sentences less 90% of the positive ones; which positives go is
  `numpy.random.default_rng(0).permutation(positive indices)`, the first 90% dropped (the kept count rounded
  down); dev and test unchanged. Configurations: the CNN (`rand`) without and with `class_weight="balanced"`, and
  TF-IDF (word 1–2-grams) + LogisticRegression without and with `class_weight="balanced"`. Test macro-F1 and the
  recall of each class. The CNN keeps its best dev epoch by macro-F1, TF-IDF its C by dev macro-F1.
- multi-label SST-1: SST-1's sentences with three labels derived from the five gold classes: `negative` (very
  negative, negative), `positive` (positive, very positive), `strong` (very negative, very positive). The CNN
  (`rand`, multi-label) is trained once per seed with `threshold="tune"` (per-label thresholds chosen on dev) and
  scored twice on test, at 0.5 and at the tuned thresholds; beside it one-vs-rest TF-IDF + LR at 0.5, C by dev
  micro-F1. Test micro- and macro-F1.
Metrics are scikit-learn's (`f1_score`, `recall_score`). The CNN: Kim's `rand` recipe (Adadelta, batch 50,
dropout 0.5, max-norm 3, filters 3,4,5 × 100), SST's `kim-sst` tokenizer, --epochs epochs.

Each (configuration, seed) unit is written to benchmarks/results/imbalance/<config>/seed<k>.json as soon as it
finishes and skipped on the next run (TF-IDF is deterministic: one unit, seed0); a CNN unit cut off mid-training
resumes from its last finished epoch (state under runs/benchmarks/imbalance/, git-ignored), and several
processes may share the units. The table (cells not yet complete show "pending") goes to
benchmarks/results/imbalance.md.

    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.imbalance --seeds 3
    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.imbalance --configs tfidf-lr,tfidf-lr-ovr
    python -m benchmarks.imbalance --table-only
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score, recall_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MultiLabelBinarizer

from benchmarks.baselines import C_GRID, baseline, baseline_tokenizer
from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.kim import parse_list
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, STATES
from textcnn.analysis.metrics import mean_std
from textcnn.data.files import TextDataset
from textcnn.data.registry import load_named_dataset
from textcnn.data.splits import Unit, plan_units
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.units import UnitState, run_units

CELLS = RESULTS / "imbalance"
TABLE = RESULTS / "imbalance.md"
STATE_ROOT = STATES / "imbalance"

KEEP_PERCENT = 10  # issue 18: 90% of the positive training sentences removed
DROP_SEED = 0  # numpy.random.default_rng(DROP_SEED) picks the positives that go
# issue 18: three labels from SST-1's five classes; a neutral sentence has none, a very negative/positive one two
LABEL_CLASSES = {
    "negative": ("very negative", "negative"),
    "positive": ("positive", "very positive"),
    "strong": ("very negative", "very positive"),
}
LABELS = tuple(LABEL_CLASSES)
SOURCES = {"imbalanced": "sst2", "multi-label": "sst1"}  # each derived data set's registry dataset
CNN_PARAMS: dict[str, Any] = {"variant": "rand", "tokenizer": "kim-sst", "lowercase": True}  # DATASETS["sst*"]

# configuration -> (data set, model, class_weight); the order is the tables' row order
CONFIGS: dict[str, tuple[str, str, str | None]] = {
    "cnn-rand": ("imbalanced", "cnn", None),
    "cnn-rand-balanced": ("imbalanced", "cnn", "balanced"),
    "tfidf-lr": ("imbalanced", "tfidf", None),
    "tfidf-lr-balanced": ("imbalanced", "tfidf", "balanced"),
    "cnn-rand-multilabel": ("multi-label", "cnn", None),
    "tfidf-lr-ovr": ("multi-label", "tfidf", None),
}


# ---------------------------------------------------------------- the two data sets


def drop_positives(splits: dict[str, TextDataset]) -> dict[str, TextDataset]:
    """SST-2 less all but KEEP_PERCENT% (rounded down) of its positive training sentences; dev and test as given."""
    train = splits["train"]
    positives = np.flatnonzero(np.asarray(train.labels) == train.label_names.index("positive"))
    kept = len(positives) * KEEP_PERCENT // 100
    dropped = set(np.random.default_rng(DROP_SEED).permutation(positives)[: len(positives) - kept].tolist())
    return {**splits, "train": train.subset([i for i in range(len(train)) if i not in dropped])}


def label_sets(split: TextDataset) -> list[tuple[str, ...]]:
    """Each sentence's derived labels (LABEL_CLASSES), in LABELS order: () for neutral, two for the strong ones."""
    names = [split.label_names[y] for y in split.labels]
    return [tuple(label for label, classes in LABEL_CLASSES.items() if name in classes) for name in names]


def indicator(sets: Sequence[Sequence[str]]) -> np.ndarray:
    """(n, K) 0/1 matrix of label sets, columns in LABELS order."""
    return MultiLabelBinarizer(classes=list(LABELS)).fit_transform(sets)


def load_set(name: str) -> dict[str, TextDataset]:
    """The splits of one derived data set ("imbalanced": SST-2, "multi-label": SST-1), single-label as loaded."""
    splits = load_named_dataset(SOURCES[name])
    return drop_positives(splits) if name == "imbalanced" else splits


# ---------------------------------------------------------------- metrics (scikit-learn's)


def single_label_scores(truth: Sequence[str], predicted: Sequence[str], names: Sequence[str]) -> dict[str, Any]:
    recalls = recall_score(truth, predicted, labels=list(names), average=None, zero_division=0)
    return {"macro_f1": float(f1_score(truth, predicted, labels=list(names), average="macro", zero_division=0)),
            "recall": {name: float(r) for name, r in zip(names, recalls)}}


def multi_label_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    per_label = f1_score(truth, predicted, average=None, zero_division=0)
    return {"micro_f1": float(f1_score(truth, predicted, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
            "f1_per_label": {label: float(f) for label, f in zip(LABELS, per_label)}}


def _names(split: TextDataset) -> list[str]:
    return [split.label_names[y] for y in split.labels]


def train_counts(splits: dict[str, TextDataset], multi_label: bool) -> dict[str, int]:
    """Training sentences per class (imbalanced) or per derived label (multi-label), and in all."""
    train = splits["train"]
    if multi_label:
        counts = dict(zip(LABELS, indicator(label_sets(train)).sum(axis=0).tolist()))
    else:
        counts = {name: _names(train).count(name) for name in train.label_names}
    return {**counts, "sentences": len(train)}


# ---------------------------------------------------------------- TF-IDF + LR (deterministic: one unit)


def tfidf_model(C: float, class_weight: str | None = None, multi_label: bool = False) -> Pipeline | OneVsRestClassifier:
    """benchmarks.baselines' TF-IDF (word 1–2-grams, Kim's SST tokens) + LR; one-vs-rest for multi-label.

    One-vs-rest wraps the whole pipeline: each label's copy fits the same vocabulary, as one shared vectorizer would.
    """
    tokenizer = baseline_tokenizer(SOURCES["multi-label" if multi_label else "imbalanced"])  # kim-sst, lowercased
    model = baseline(tokenizer, C).set_params(logisticregression__class_weight=class_weight)
    return OneVsRestClassifier(model) if multi_label else model


def tfidf_unit(splits: dict[str, TextDataset], class_weight: str | None, multi_label: bool,
               c_grid: Sequence[float] | None = None) -> dict[str, Any]:
    """Fit each C of the grid, keep the best on dev (macro-F1, multi-label micro-F1; ties: smaller C), score test."""
    c_grid = C_GRID if c_grid is None else c_grid
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    target = (lambda s: indicator(label_sets(s))) if multi_label else _names
    key = "micro_f1" if multi_label else "macro_f1"
    best: tuple[float, float, Any] = (-1.0, 0.0, None)
    for C in c_grid:
        model = tfidf_model(C, class_weight, multi_label).fit(train.texts, target(train))
        dev_score = _scores(model.predict(dev.texts), dev, multi_label)[key]
        if dev_score > best[0]:
            best = (dev_score, C, model)
    dev_score, C, model = best
    scores = _scores(model.predict(test.texts), test, multi_label)
    return {"test": scores, f"dev_{key}": dev_score, "C": C, "C_grid": list(c_grid), "class_weight": class_weight}


def _scores(predicted: Any, split: TextDataset, multi_label: bool) -> dict[str, Any]:
    if multi_label:
        return multi_label_scores(indicator(label_sets(split)), np.asarray(predicted))
    return single_label_scores(_names(split), list(predicted), split.label_names)


# ---------------------------------------------------------------- the CNN


def cnn(seed: int, args: argparse.Namespace, **params: Any) -> TextCNNClassifier:
    return TextCNNClassifier(**CNN_PARAMS, **params, seed=seed, epochs=args.epochs, device=args.device)


def cnn_imbalanced_unit(splits: dict[str, TextDataset], class_weight: str | None, args: argparse.Namespace,
                        unit: Unit, state: UnitState) -> dict[str, Any]:
    """One seed of the single-label CNN on imbalanced SST-2; the kept epoch is the best on dev by macro-F1."""
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    clf = cnn(unit.seed, args, class_weight=class_weight, selection="macro-f1")
    clf.fit(train.texts, _names(train), dev=(dev.texts, _names(dev)), label_names=train.label_names,
            checkpoint_dir=state.folder, resume=state.resume)
    return {"test": single_label_scores(_names(test), list(clf.predict(test.texts)), train.label_names),
            "dev_macro_f1": single_label_scores(_names(dev), list(clf.predict(dev.texts)), train.label_names)[
                "macro_f1"],
            "class_weight": class_weight, "selection": "macro-f1", **_fit_facts(clf)}


def cnn_multi_label_unit(splits: dict[str, TextDataset], args: argparse.Namespace, unit: Unit,
                         state: UnitState) -> dict[str, Any]:
    """One seed of the multi-label CNN on SST-1, scored at 0.5 and at its per-label thresholds tuned on dev."""
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    clf = cnn(unit.seed, args, multi_label=True, threshold="tune", selection="micro-f1")
    clf.fit(train.texts, label_sets(train), dev=(dev.texts, label_sets(dev)), label_names=list(LABELS),
            checkpoint_dir=state.folder, resume=state.resume)
    order = [list(map(str, clf.classes_)).index(label) for label in LABELS]  # columns in LABELS order
    truth = indicator(label_sets(test))
    at_half = (clf.predict_proba(test.texts) >= 0.5).astype(int)[:, order]
    tuned = np.asarray(clf.predict(test.texts))[:, order]
    return {"test_at_0.5": multi_label_scores(truth, at_half), "test_tuned": multi_label_scores(truth, tuned),
            "thresholds": dict(zip(LABELS, np.asarray(clf.thresholds_)[order].tolist())),
            "selection": "micro-f1", **_fit_facts(clf)}


def _fit_facts(clf: TextCNNClassifier) -> dict[str, Any]:
    return {"best_epoch": clf.fit_result_.best_epoch, "device": str(clf.device_), "torch": torch.__version__}


# ---------------------------------------------------------------- units


def train_unit(config: str, splits: dict[str, TextDataset], args: argparse.Namespace, unit: Unit,
               state: UnitState) -> dict[str, Any]:
    """Fit and score one (configuration, seed) unit; its JSON record."""
    data_set, model, class_weight = CONFIGS[config]
    multi_label = data_set == "multi-label"
    logging.info("imbalance %s %s%s", config, unit.name, " (resuming)" * state.resume)
    start = time.perf_counter()
    if model == "tfidf":
        metrics = tfidf_unit(splits, class_weight, multi_label)
    elif multi_label:
        metrics = cnn_multi_label_unit(splits, args, unit, state)
    else:
        metrics = cnn_imbalanced_unit(splits, class_weight, args, unit, state)
    metrics.update(config=config, unit=unit.name, data_set=data_set, train_counts=train_counts(splits, multi_label),
                   wall_seconds=time.perf_counter() - start, resumed=state.resume, machine=describe_machine())
    if model == "cnn":
        metrics.update(seed=unit.seed, epochs=args.epochs)
    else:
        metrics.update(scikit_learn=version("scikit-learn"))
    return metrics


def run_config(config: str, splits: dict[str, TextDataset], args: argparse.Namespace) -> None:
    units = plan_units(range(args.seeds) if CONFIGS[config][1] == "cnn" else [0])
    run_units(units, partial(train_unit, config, splits, args),
              result=lambda unit: CELLS / config / f"{unit.name}.json",
              folder=lambda unit: STATE_ROOT / config / unit.name, seconds_key="wall_seconds")


# ---------------------------------------------------------------- the table


def finished(config: str, seeds: int) -> list[dict[str, Any]] | None:
    """The config's finished units, or None while any is missing (TF-IDF has one)."""
    runs = [json.loads(p.read_text()) for p in sorted((CELLS / config).glob("*.json"))]
    wanted = seeds if CONFIGS[config][1] == "cnn" else 1
    return runs if len(runs) >= wanted else None


def pct(runs: list[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> str:
    """Mean ± std over runs as %; a single run (TF-IDF) has no spread to show."""
    mean, std = mean_std([100 * value(r) for r in runs])
    return f"{mean:.1f}" if len(runs) == 1 else f"{mean:.1f} ± {std:.1f}"


def done_text(config: str, seeds: int) -> str:
    n = len(list((CELLS / config).glob("*.json")))
    return f"{n}/{seeds if CONFIGS[config][1] == 'cnn' else 1}"


def wall_text(runs: list[dict[str, Any]]) -> str:
    return f"{sum(r['wall_seconds'] for r in runs) / 60:.1f} min"


def chosen_text(runs: list[dict[str, Any]]) -> str:
    """What dev chose: TF-IDF's C, or the CNN's kept epoch per seed."""
    if "C" in runs[0]:
        return f"C {runs[0]['C']:g}"
    return "epochs " + ", ".join(str(r["best_epoch"]) for r in runs)


def imbalanced_row(config: str, seeds: int) -> str:
    _, model, class_weight = CONFIGS[config]
    name = {"cnn": "CNN rand", "tfidf": "TF-IDF + LR"}[model]
    runs = finished(config, seeds)
    if runs is None:
        cells = ["pending"] * 4 + [done_text(config, seeds), "–"]
    else:
        cells = [pct(runs, lambda r: r["test"]["macro_f1"]), pct(runs, lambda r: r["test"]["recall"]["negative"]),
                 pct(runs, lambda r: r["test"]["recall"]["positive"]), chosen_text(runs), done_text(config, seeds),
                 wall_text(runs)]
    return f"| {name} | {class_weight or 'none'} | " + " | ".join(cells) + " |"


def multi_label_rows(seeds: int) -> list[str]:
    cnn_runs, ovr_runs = finished("cnn-rand-multilabel", seeds), finished("tfidf-lr-ovr", seeds)
    rows = []
    for key, label in (("test_at_0.5", "0.5"), ("test_tuned", "tuned on dev, per label")):
        if cnn_runs is None:
            cells = ["pending"] * 3 + [done_text("cnn-rand-multilabel", seeds), "–"]
        else:
            thresholds = ("0.5" if key == "test_at_0.5" else " / ".join(
                f"{np.mean([r['thresholds'][name] for r in cnn_runs]):.2f}" for name in LABELS))
            cells = [pct(cnn_runs, lambda r, k=key: r[k]["micro_f1"]), pct(cnn_runs, lambda r, k=key: r[k]["macro_f1"]),
                     thresholds, done_text("cnn-rand-multilabel", seeds),
                     wall_text(cnn_runs) if key == "test_at_0.5" else "(same models)"]
        rows.append(f"| CNN rand, multi-label | {label} | " + " | ".join(cells) + " |")
    if ovr_runs is None:
        cells = ["pending"] * 3 + [done_text("tfidf-lr-ovr", seeds), "–"]
    else:
        cells = [pct(ovr_runs, lambda r: r["test"]["micro_f1"]), pct(ovr_runs, lambda r: r["test"]["macro_f1"]),
                 "0.5", done_text("tfidf-lr-ovr", seeds), wall_text(ovr_runs)]
    label = f"0.5 ({chosen_text(ovr_runs)} on dev)" if ovr_runs else "0.5"
    return rows + [f"| TF-IDF + LR, one-vs-rest | {label} | " + " | ".join(cells) + " |"]


def recorded_counts(data_set: str) -> dict[str, int] | None:
    """The training counts recorded by any finished unit on `data_set`, or None before one finished."""
    for config in (c for c, (d, _, _) in CONFIGS.items() if d == data_set):
        for path in sorted((CELLS / config).glob("*.json")):
            return json.loads(path.read_text())["train_counts"]
    return None


def counts_text(data_set: str) -> str:
    """The derived training set's size in words, e.g. "3,671 training sentences: 3,310 negative, 361 positive"."""
    counts = recorded_counts(data_set)
    if counts is None:
        return "training counts pending (no unit finished yet)"
    names = ("negative", "positive") if data_set == "imbalanced" else LABELS
    return f"{counts['sentences']:,} training sentences: " + ", ".join(f"{counts[n]:,} {n}" for n in names)


def table(args: argparse.Namespace) -> str:
    lines = [
        "# Class imbalance and multi-label data: class weights and tuned thresholds",
        "",
        f"Command: `TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.imbalance --seeds {args.seeds} "
        f"--epochs {args.epochs}`  ",
        f"Machine: {describe_machine()} (per-unit machine in each JSON); scikit-learn {version('scikit-learn')}.  ",
        f"CNN: `rand` (Kim's recipe, SST's kim-sst tokens), {args.epochs} epochs, the kept epoch the best on dev; "
        f"mean ± std over {args.seeds} seeds. TF-IDF + LR: word 1–2-grams as benchmarks.baselines, C from "
        f"{', '.join(f'{c:g}' for c in C_GRID)} chosen on dev (ties: the smaller C); one deterministic fit. "
        "Metrics: scikit-learn's f1_score and recall_score on test, %.",
        "",
        "## Imbalanced SST-2",
        "",
        f"SST-2 sentences with {100 - KEEP_PERCENT}% of the positive training sentences removed (chosen with "
        f"`numpy.random.default_rng({DROP_SEED})`, the kept count rounded down): {counts_text('imbalanced')}. "
        "Dev (872) and test (1,821) unchanged. "
        "The kept epoch (CNN) and C (TF-IDF) are chosen by dev macro-F1.",
        "",
        "| model | class_weight | test macro-F1 % | recall negative % | recall positive % | chosen on dev | seeds | "
        "wall time |",
        "|---|---|---|---|---|---|---|---|",
        *[imbalanced_row(c, args.seeds) for c in CONFIGS if CONFIGS[c][0] == "imbalanced"],
        "",
        "## Multi-label SST-1",
        "",
        "SST-1 sentences (train / dev / test as shipped) with three labels derived from the five gold classes: "
        "`negative` = very negative or negative, `positive` = positive or very positive, `strong` = very negative "
        "or very positive. A neutral sentence has no label; a very negative or very positive sentence has two "
        f"(e.g. negative + strong); {counts_text('multi-label')} (sentences per label). "
        "The CNN is trained once per seed with `threshold=\"tune\"` (each label's threshold chosen on dev for its "
        "F1) and its kept epoch is the best on dev by micro-F1; both CNN rows score the same models on test, at "
        "0.5 (`predict_proba >= 0.5`) and at the tuned thresholds (`predict`). One-vs-rest TF-IDF + LR: C by dev "
        "micro-F1, threshold 0.5.",
        "",
        "| model | threshold | test micro-F1 % | test macro-F1 % | thresholds (negative / positive / strong, "
        "mean) | seeds | wall time |",
        "|---|---|---|---|---|---|---|",
        *multi_label_rows(args.seeds),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = benchmark_parser("benchmarks.imbalance", __doc__)
    parser.add_argument("--configs", default="all", help=f"comma-separated from {', '.join(CONFIGS)}, or all")
    parser.add_argument("--seeds", type=int, default=3, help="CNN seeds (TF-IDF is one deterministic fit)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished units")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    configs = parse_list(args.configs, tuple(CONFIGS))
    if not args.table_only:
        for data_set in ("imbalanced", "multi-label"):
            todo = [c for c in configs if CONFIGS[c][0] == data_set]
            splits = load_set(data_set) if todo else None
            for config in todo:
                run_config(config, splits, args)
                TABLE.write_text(table(args))  # after each configuration, so a stopped run leaves its table
    TABLE.write_text(table(args))
    print(table(args), end="")


if __name__ == "__main__":
    run_benchmark(main)
