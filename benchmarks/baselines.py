"""The model a user would pick instead of a CNN: word + bigram TF-IDF and logistic regression.

Same data and protocol as benchmarks/reproduce_kim.py: Kim's tokenizer, SST trained on phrases,
10-fold CV (the same folds) for MR, Subj, CR, MPQA, the fixed test split for SST-1, SST-2, TREC.
The training part of each unit excludes its dev split, as for the CNN; scikit-learn defaults otherwise
(C = 1). Deterministic, so one seed. Writes benchmarks/results/baselines/<dataset>.json and
benchmarks/results/baselines.md.

    TEXTCNN_DATA=../shared/data python benchmarks/baselines.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from textcnn.checkpoint import write_json
from textcnn.data import DATASETS, TextDataset, split_off_dev
from textcnn.protocol import mean_std, unit_splits
from textcnn.tokenizer import Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe_machine  # noqa: E402
from reproduce_kim import KIM_DATASETS, RESULTS, units_for  # noqa: E402


def baseline(tokenizer: Tokenizer):
    return make_pipeline(
        TfidfVectorizer(
            tokenizer=tokenizer, lowercase=False, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True
        ),
        LogisticRegression(max_iter=2000),
    )


def score_unit(splits: dict[str, TextDataset], tokenizer: Tokenizer) -> float:
    train, test = splits["train"], splits["test"]
    if "dev" not in splits:  # the CNN holds out 10% of train for early stopping; so does the baseline
        train, _ = split_off_dev(train, 0.1, seed=0)
    model = baseline(tokenizer).fit(train.texts, train.labels)
    return float(model.score(test.texts, test.labels))


def main() -> None:
    out_dir = RESULTS / "baselines"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["| dataset | TF-IDF word+bigram + LR (acc %, mean ± std) | units |", "|---|---|---|"]
    for dataset in KIM_DATASETS:
        spec = DATASETS[dataset]
        splits, cv, units = units_for(dataset, seeds=1)
        start = time.perf_counter()
        tokenizer = Tokenizer(spec.tokenizer, spec.lowercase)
        accs = [score_unit(unit_splits(splits, unit, cv), tokenizer) for unit in units]
        mean, std = mean_std(accs)
        write_json(
            out_dir / f"{dataset}.json",
            {
                "dataset": dataset,
                "test_acc_mean": mean,
                "test_acc_std": std,
                "units": len(units),
                "test_accs": accs,
                "wall_seconds": round(time.perf_counter() - start, 1),
                "machine": describe_machine(),
            },
        )
        lines.append(f"| {dataset} | {100 * mean:.1f} ± {100 * std:.1f} | {len(units)} |")
        print(lines[-1], flush=True)
    header = (
        f"Command: `TEXTCNN_DATA=../shared/data python benchmarks/baselines.py`  \nMachine: {describe_machine()}\n\n"
    )
    (RESULTS / "baselines.md").write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
