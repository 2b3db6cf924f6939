"""Kim (2014)'s protocol as the benchmarks share it: the datasets, variants, Table 2, the units of a dataset.

`benchmarks.reproduce_kim` trains the CNN cells, `benchmarks.baselines` the TF-IDF + LR and fastText baselines on
the same units, and `benchmarks.epoch_cap` a few units for longer; the reproduction's table shows the baselines
beside it.
"""

from __future__ import annotations

import json

from textcnn.data.files import TextDataset
from textcnn.data.registry import load_named_dataset
from textcnn.data.splits import Unit, plan_units, resolve_cv

from .paths import RESULTS

KIM_DATASETS = ("mr", "sst1", "sst2", "subj", "trec", "cr", "mpqa")
VARIANTS = ("rand", "static", "non-static", "multichannel")
PHRASE_DATASETS = ("sst1", "sst2")  # Kim 2014 §3.1: SST models are trained on phrases and sentences
# Kim 2014 Table 2 (accuracy %), columns rand / static / non-static / multichannel.
KIM_TABLE2 = {
    "mr": (76.1, 81.0, 81.5, 81.1),
    "sst1": (45.0, 45.5, 48.0, 47.4),
    "sst2": (82.7, 86.8, 87.2, 88.1),
    "subj": (89.6, 93.0, 93.4, 93.2),
    "trec": (91.2, 92.8, 93.6, 92.2),
    "cr": (79.8, 84.7, 84.3, 85.0),
    "mpqa": (83.4, 89.6, 89.5, 89.4),
}


def units_for(dataset: str, seeds: int) -> tuple[dict[str, TextDataset], int | None, list[Unit]]:
    """(splits, CV folds or None, units) of a dataset: `seeds` seeds on a fixed split, else one seed × 10 folds."""
    splits = load_named_dataset(dataset, phrases=dataset in PHRASE_DATASETS)
    cv = resolve_cv(splits, None)
    return splits, cv, plan_units([0] if cv else range(seeds), cv)


def baseline_result(dataset: str, model: str = "tfidf") -> dict | None:
    """One baseline's finished result in benchmarks/results/baselines/<dataset>.json, or None before it ran.

    `model` is "tfidf" (TF-IDF + LR: the file's top-level fields) or "fasttext" (its "fasttext" field).
    """
    path = RESULTS / "baselines" / f"{dataset}.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    record = result if model == "tfidf" else result.get(model, {})
    return record if "test_acc_mean" in record else None


def baseline_text(dataset: str, model: str = "tfidf") -> str:
    """A baseline's test accuracy % as table text; "pending" before benchmarks.baselines ran it."""
    result = baseline_result(dataset, model)
    if result is None:
        return "pending"
    if result["units"] == 1:  # one deterministic fit on a fixed test split: there is no spread to show
        return f"{100 * result['test_acc_mean']:.1f}"
    return f"{100 * result['test_acc_mean']:.1f} ± {100 * result['test_acc_std']:.1f}"


def parse_list(value: str, allowed: tuple[str, ...], every: str = "all") -> list[str]:
    """A comma-separated command-line list checked against `allowed`; the word `every` ("all") is every item."""
    items = list(allowed) if value == every else value.split(",")
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise SystemExit(f"unknown {unknown}; choose from {', '.join(allowed)} or {every}")
    return items
