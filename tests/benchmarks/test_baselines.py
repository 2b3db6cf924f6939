"""The TF-IDF + LR baseline picks its regularisation on dev, never on test."""

import random

from benchmarks.baselines import baseline, score_unit
from textcnn.data.files import TextDataset
from textcnn.data.splits import split_off_dev
from textcnn.data.tokenizer import Tokenizer

TOKENIZER = Tokenizer("kim", lowercase=True)
FILLER = [f"w{i}" for i in range(40)]


def noisy_split(n: int, seed: int) -> TextDataset:
    """Label 1 sentences contain 'good', label 0 ones 'bad'; one in six is mislabelled."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.randrange(2)
        words = rng.sample(FILLER, 6) + ["good" if label else "bad"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label if rng.random() > 1 / 6 else 1 - label)
    return TextDataset(texts, labels, ["negative", "positive"])


SPLITS = {"train": noisy_split(300, 0), "dev": noisy_split(120, 1), "test": noisy_split(120, 2)}


def accuracies(C: float) -> tuple[float, float]:
    model = baseline(TOKENIZER, C).fit(SPLITS["train"].texts, SPLITS["train"].labels)
    dev, test = SPLITS["dev"], SPLITS["test"]
    return model.score(dev.texts, dev.labels), model.score(test.texts, test.labels)


def test_the_chosen_c_has_the_best_dev_accuracy_and_its_test_accuracy_is_reported():
    grid = (0.001, 0.1, 1.0, 10.0)  # 0.1 and 1 tie on dev here; the smaller wins
    test_acc, chosen = score_unit(SPLITS, TOKENIZER, grid)
    by_c = {C: accuracies(C) for C in grid}
    best_dev = max(dev for dev, _ in by_c.values())
    assert chosen == min(C for C, (dev, _) in by_c.items() if dev == best_dev)
    assert test_acc == by_c[chosen][1]
    assert by_c[0.001][0] < best_dev  # the grid matters on this data: a tiny C underfits


def test_a_one_value_grid_is_a_plain_fit():
    test_acc, chosen = score_unit(SPLITS, TOKENIZER, (3.0,))
    assert chosen == 3.0 and test_acc == accuracies(3.0)[1]


def test_without_a_dev_split_it_holds_out_the_same_ten_percent_as_the_cnn():
    splits = {"train": SPLITS["train"], "test": SPLITS["test"]}
    test_acc, _ = score_unit(splits, TOKENIZER, (1.0,))
    kept, _ = split_off_dev(SPLITS["train"], 0.1, seed=0)
    model = baseline(TOKENIZER, 1.0).fit(kept.texts, kept.labels)
    assert len(kept) == 270
    assert test_acc == model.score(SPLITS["test"].texts, SPLITS["test"].labels)
