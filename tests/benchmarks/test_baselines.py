"""The baselines pick their settings on dev, never on test: TF-IDF + LR its C (and n-gram range), fastText its grid."""

import json
import random

import numpy as np
import pytest

from benchmarks import baselines
from benchmarks.baselines import (
    FastTextSetting,
    baseline,
    baseline_tokenizer,
    fasttext_accuracy,
    fasttext_unit,
    fit_fasttext,
    score_unit,
    write_fasttext_file,
)
from benchmarks.common import kim
from textcnn.data.files import TextDataset
from textcnn.data.splits import Unit, split_off_dev
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


def accuracies(C: float, ngram_range: tuple[int, int] = (1, 2)) -> tuple[float, float]:
    model = baseline(TOKENIZER, C, ngram_range).fit(SPLITS["train"].texts, SPLITS["train"].labels)
    dev, test = SPLITS["dev"], SPLITS["test"]
    return model.score(dev.texts, dev.labels), model.score(test.texts, test.labels)


def test_the_chosen_c_has_the_best_dev_accuracy_and_its_test_accuracy_is_reported():
    grid = (0.001, 0.1, 1.0, 10.0)  # 0.1 and 1 tie on dev here; the smaller wins
    test_acc, chosen, ngram_range = score_unit(SPLITS, TOKENIZER, grid)
    by_c = {C: accuracies(C) for C in grid}
    best_dev = max(dev for dev, _ in by_c.values())
    assert chosen == min(C for C, (dev, _) in by_c.items() if dev == best_dev)
    assert test_acc == by_c[chosen][1] and ngram_range == (1, 2)
    assert by_c[0.001][0] < best_dev  # the grid matters on this data: a tiny C underfits


def test_the_ngram_range_is_chosen_on_dev_with_c_and_ties_go_to_the_shorter_range():
    c_grid, ranges = (0.001, 1.0, 10.0), ((1, 1), (1, 3))
    test_acc, chosen_c, chosen_range = score_unit(SPLITS, TOKENIZER, c_grid, ranges)
    by_pair = {(r, C): accuracies(C, r) for r in ranges for C in c_grid}
    best_dev = max(dev for dev, _ in by_pair.values())
    first_best = next(pair for pair in by_pair if by_pair[pair][0] == best_dev)  # grid order: range, then C
    assert (chosen_range, chosen_c) == first_best
    assert test_acc == by_pair[first_best][1]


def test_a_one_value_grid_is_a_plain_fit():
    test_acc, chosen, _ = score_unit(SPLITS, TOKENIZER, (3.0,))
    assert chosen == 3.0 and test_acc == accuracies(3.0)[1]


def test_without_a_dev_split_it_holds_out_the_same_ten_percent_as_the_cnn():
    splits = {"train": SPLITS["train"], "test": SPLITS["test"]}
    test_acc, _, _ = score_unit(splits, TOKENIZER, (1.0,))
    kept, _ = split_off_dev(SPLITS["train"], 0.1, seed=0)
    model = baseline(TOKENIZER, 1.0).fit(kept.texts, kept.labels)
    assert len(kept) == 270
    assert test_acc == model.score(SPLITS["test"].texts, SPLITS["test"].labels)


def test_both_baselines_read_kims_tokens_for_kims_datasets_and_characters_for_chinese():
    assert baseline_tokenizer("mr")("It's a GOOD film, really.") == ["it", "'s", "a", "good", "film", ",", "really"]
    assert baseline_tokenizer("sst2")("a GOOD film , really .") == ["a", "good", "film", ",", "really"]
    assert baseline_tokenizer("trec")("What is NASA ?") == ["What", "is", "NASA", "?"]  # Kim keeps TREC's case
    assert baseline_tokenizer("zh_reviews")("这部电影 非常好看OK") == list("这部电影非常好看ok")


# ---------------------------------------------------------------- fastText


def negation_split(n: int, seed: int) -> TextDataset:
    """Label 1 sentences say 'good' or 'not bad', label 0 ones 'bad' or 'not good': only bigrams separate them."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.randrange(2)
        words = rng.sample(FILLER, 6)
        words.insert(rng.randrange(7), rng.choice(("good", "not bad") if label else ("bad", "not good")))
        texts.append(" ".join(words))
        labels.append(label)
    return TextDataset(texts, labels, ["negative", "positive"])


NEGATION = {"train": negation_split(300, 0), "dev": negation_split(120, 1), "test": negation_split(120, 2)}


@pytest.fixture
def files(tmp_path):
    pytest.importorskip("fasttext")
    return {name: write_fasttext_file(tmp_path / f"{name}.txt", data, TOKENIZER, shuffle=name == "train")
            for name, data in NEGATION.items()}


def test_the_fasttext_training_file_holds_every_example_once_shuffled(files):
    lines = files["train"].read_text().splitlines()
    train = NEGATION["train"]
    in_order = [f"__label__{y} {' '.join(TOKENIZER(t))}" for t, y in zip(train.texts, train.labels)]
    assert sorted(lines) == sorted(in_order) and lines != in_order


def test_fasttext_accuracy_is_the_share_of_examples_whose_top_label_is_right(files):
    model = fit_fasttext(files["train"], FastTextSetting(0.5, 5, 2))
    assert (model.lr, model.epoch, model.wordNgrams, model.dim, model.minCount) == (0.5, 5, 2, 100, 1)
    output = model.get_output_matrix()  # (K, E): predict() fails under numpy 2, so argmax by hand
    labels = [int(label.removeprefix("__label__")) for label in model.labels]
    test = NEGATION["test"]
    hits = [labels[int(np.argmax(output @ model.get_sentence_vector(" ".join(TOKENIZER(text)))))] == y
            for text, y in zip(test.texts, test.labels)]
    assert fasttext_accuracy(model, files["test"], len(test)) == pytest.approx(sum(hits) / len(hits))


def test_the_chosen_fasttext_setting_has_the_best_dev_accuracy_and_its_test_accuracy_is_reported(files):
    grid = (FastTextSetting(1.0, 5, 2), FastTextSetting(1.0, 25, 2), FastTextSetting(0.1, 5, 1))
    test_acc, chosen = fasttext_unit(NEGATION, TOKENIZER, grid)
    by_setting = {}
    for setting in grid:  # one thread, seed 0: the same models as fasttext_unit's
        model = fit_fasttext(files["train"], setting)
        by_setting[setting] = tuple(fasttext_accuracy(model, files[s], len(NEGATION[s])) for s in ("dev", "test"))
    best_dev = max(dev for dev, _ in by_setting.values())
    assert [dev for dev, _ in by_setting.values()].count(best_dev) == 2  # both bigram models tie on dev here
    assert chosen == next(s for s in grid if by_setting[s][0] == best_dev) == grid[0]  # ties: the earlier setting
    assert test_acc == by_setting[chosen][1]
    assert by_setting[grid[2]][1] < test_acc - 0.2  # the grid matters: unigrams cannot tell "not bad" from "bad"


def test_fasttext_without_a_dev_split_trains_on_the_same_ninety_percent_as_the_cnn(files, monkeypatch):
    trained_on = []

    def fit(train_file, setting):
        trained_on.append(sorted(train_file.read_text().splitlines()))
        return fit_fasttext(train_file, setting)

    monkeypatch.setattr(baselines, "fit_fasttext", fit)
    fasttext_unit({"train": NEGATION["train"], "test": NEGATION["test"]}, TOKENIZER, (FastTextSetting(1.0, 5, 2),))
    kept, _ = split_off_dev(NEGATION["train"], 0.1, seed=0)
    assert len(kept) == 270
    assert trained_on == [sorted(f"__label__{y} {' '.join(TOKENIZER(t))}" for t, y in zip(kept.texts, kept.labels))]


# ---------------------------------------------------------------- resuming


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(kim, "RESULTS", tmp_path)
    monkeypatch.setattr(baselines, "RESULTS", tmp_path)
    monkeypatch.setattr(baselines, "units_for", lambda dataset, seeds: (SPLITS, None, [Unit(0)]))
    monkeypatch.setattr(baselines, "baseline_tokenizer", lambda dataset: TOKENIZER)
    monkeypatch.setattr(baselines, "C_GRID", (1.0,))
    (tmp_path / "baselines").mkdir()
    return tmp_path / "baselines" / "trec.json"


def test_a_model_whose_result_exists_is_skipped_unless_forced(results):
    stored = {"test_acc_mean": 0.5, "test_acc_std": 0.0, "units": 1, "test_accs": [0.5]}
    results.write_text(json.dumps(stored))
    baselines.run_dataset("trec", ["tfidf"], force=False)
    assert json.loads(results.read_text()) == stored
    baselines.run_dataset("trec", ["tfidf"], force=True)
    assert json.loads(results.read_text())["test_accs"] == [accuracies(1.0)[1]]


def test_a_new_fasttext_result_keeps_the_tfidf_fields(results, monkeypatch):
    pytest.importorskip("fasttext")
    monkeypatch.setattr(baselines, "FASTTEXT_GRID", (FastTextSetting(0.5, 5, 1),))
    stored = {"test_acc_mean": 0.5, "test_acc_std": 0.0, "units": 1, "test_accs": [0.5]}
    results.write_text(json.dumps(stored))
    baselines.run_dataset("trec", ["tfidf", "fasttext"], force=False)
    result = json.loads(results.read_text())
    assert {k: result[k] for k in stored} == stored
    assert result["fasttext"]["chosen_on_dev"] == [{"lr": 0.5, "epoch": 5, "word_ngrams": 1}]
    assert kim.baseline_text("trec", "fasttext") == f"{100 * result['fasttext']['test_acc_mean']:.1f}"
