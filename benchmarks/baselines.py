"""The model a user would pick instead of a CNN: word + bigram TF-IDF and logistic regression.

Same data and protocol as benchmarks.reproduce_kim: Kim's tokenizer, SST trained on phrases,
10-fold CV (the same folds) for MR, Subj, CR, MPQA, the fixed test split for SST-1, SST-2, TREC.
The training part of each unit excludes its dev split, as for the CNN. The inverse regularisation strength C
is chosen per unit on that dev split (the CNN's early-stopping data), never on test: scikit-learn's default
C = 1 underfits word + bigram features by 0.9 to 4.2 points here. Deterministic, so one seed. Writes
benchmarks/results/baselines/<dataset>.json and benchmarks/results/baselines.md.

    TEXTCNN_DATA=../shared/data python -m benchmarks.baselines
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from benchmarks.common.kim import KIM_DATASETS, baseline_text, units_for
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS
from textcnn.analysis.metrics import mean_std
from textcnn.base.atomic import write_json
from textcnn.data.files import TextDataset
from textcnn.data.registry import DATASETS
from textcnn.data.splits import split_off_dev, unit_splits
from textcnn.data.tokenizer import Tokenizer

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def baseline(tokenizer: Tokenizer, C: float = 1.0) -> Pipeline:
    return make_pipeline(
        TfidfVectorizer(
            tokenizer=tokenizer, lowercase=False, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True
        ),
        LogisticRegression(C=C, max_iter=3000),
    )


def score_unit(
    splits: dict[str, TextDataset], tokenizer: Tokenizer, c_grid: Sequence[float] = C_GRID
) -> tuple[float, float]:
    """(test accuracy, C) of the grid's model with the best dev accuracy; ties go to the smaller C."""
    train, test = splits["train"], splits["test"]
    dev = splits.get("dev")
    if dev is None:  # the CNN holds out 10% of train for early stopping; so does the baseline
        train, dev = split_off_dev(train, 0.1, seed=0)
    best_dev, best_model, best_c = -1.0, None, None
    for C in c_grid:
        model = baseline(tokenizer, C).fit(train.texts, train.labels)
        dev_acc = model.score(dev.texts, dev.labels)
        if dev_acc > best_dev:
            best_dev, best_model, best_c = dev_acc, model, C
    return float(best_model.score(test.texts, test.labels)), best_c


def main() -> None:
    argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help; no options
    out_dir = RESULTS / "baselines"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["| dataset | TF-IDF word+bigram + LR (acc %, mean ± std) | units | C chosen on dev |", "|---|---|---|---|"]
    for dataset in KIM_DATASETS:
        spec = DATASETS[dataset]
        splits, cv, units = units_for(dataset, seeds=1)
        start = time.perf_counter()
        tokenizer = Tokenizer(spec.tokenizer, spec.lowercase)
        scored = [score_unit(unit_splits(splits, unit, cv), tokenizer) for unit in units]
        accs, chosen_c = [acc for acc, _ in scored], [c for _, c in scored]
        mean, std = mean_std(accs)
        write_json(
            out_dir / f"{dataset}.json",
            {
                "dataset": dataset,
                "test_acc_mean": mean,
                "test_acc_std": std,
                "units": len(units),
                "test_accs": accs,
                "C_grid": list(C_GRID),
                "C_chosen_on_dev": chosen_c,
                "wall_seconds": round(time.perf_counter() - start, 1),
                "machine": describe_machine(),
            },
        )
        c_text = ", ".join(f"{c:g}" for c in chosen_c)
        lines.append(f"| {dataset} | {baseline_text(dataset)} | {len(units)} | {c_text} |")
        print(lines[-1], flush=True)
    header = (
        f"Command: `TEXTCNN_DATA=../shared/data python -m benchmarks.baselines`  \nMachine: {describe_machine()}  \n"
        f"C chosen per unit from {', '.join(f'{c:g}' for c in C_GRID)} by dev accuracy (never test).\n\n"
    )
    (RESULTS / "baselines.md").write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
