"""The imbalance benchmark: its two derived data sets, the TF-IDF units' choices on dev, the table, the CNN units."""

import argparse
import json
import random

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from benchmarks import imbalance
from benchmarks.imbalance import (
    LABELS,
    drop_positives,
    indicator,
    label_sets,
    table,
    tfidf_model,
    tfidf_unit,
)
from textcnn.data.files import TextDataset

SST1_NAMES = ["very negative", "negative", "neutral", "positive", "very positive"]
WORDS = ["awful", "bad", "so-so", "good", "superb"]  # one cue word per SST-1 class
FILLER = [f"w{i}" for i in range(30)]


def sentences(n: int, seed: int, classes: int, positive_share: float | None = None) -> tuple[list, list]:
    """Filler plus a class's cue word; one in eight gets a random class's cue instead (noise)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        if positive_share is None:
            label = rng.randrange(classes)
        else:
            label = int(rng.random() < positive_share)
        cue = label if rng.random() > 1 / 8 else rng.randrange(classes)
        words = rng.sample(FILLER, 5) + [WORDS[cue if classes == 5 else 1 + 2 * cue]]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def sst2_split(n: int, seed: int, positive_share: float | None = None) -> TextDataset:
    return TextDataset(*sentences(n, seed, 2, positive_share), ["negative", "positive"])


def sst1_split(n: int, seed: int) -> TextDataset:
    return TextDataset(*sentences(n, seed, 5), list(SST1_NAMES))


SST2 = {"train": sst2_split(400, 0, positive_share=0.5), "dev": sst2_split(120, 1), "test": sst2_split(120, 2)}
GRID = (0.01, 1.0, 30.0)  # a short C grid keeps the tests fast
SST1 = {"train": sst1_split(300, 3), "dev": sst1_split(120, 4), "test": sst1_split(120, 5)}


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(imbalance, "CELLS", tmp_path / "cells")
    monkeypatch.setattr(imbalance, "TABLE", tmp_path / "imbalance.md")
    monkeypatch.setattr(imbalance, "STATE_ROOT", tmp_path / "states")
    monkeypatch.setattr(imbalance, "load_named_dataset", lambda name: {"sst2": SST2, "sst1": SST1}[name])
    monkeypatch.setattr(imbalance, "C_GRID", GRID)


# ---------------------------------------------------------------- the data sets


def test_ten_percent_of_the_positives_rounded_down_stay_chosen_with_rng_0_and_nothing_else_changes():
    labels = [1, 0, 1] * 15 + [0] * 5  # 30 positives, 20 negatives
    train = TextDataset([f"s{i}" for i in range(len(labels))], labels, ["negative", "positive"])
    dev, test = sst2_split(10, 1), sst2_split(10, 2)
    out = drop_positives({"train": train, "dev": dev, "test": test})
    positives = np.flatnonzero(np.asarray(labels) == 1)
    kept = np.random.default_rng(0).permutation(positives)[27:]  # 90% of 30 dropped: the first 27
    expected = sorted([i for i, y in enumerate(labels) if y == 0] + kept.tolist())
    assert out["train"].texts == [f"s{i}" for i in expected]  # in the original order
    assert out["train"].labels.count(1) == 3 and out["train"].labels.count(0) == 20
    assert out["dev"] is dev and out["test"] is test


def test_the_kept_count_is_rounded_down():
    train = TextDataset([f"s{i}" for i in range(39)], [1] * 39, ["negative", "positive"])
    assert len(drop_positives({"train": train})["train"]) == 3  # 10% of 39 = 3.9


def test_the_multi_label_set_derives_negative_positive_and_strong_from_the_five_classes():
    split = TextDataset(["a", "b", "c", "d", "e"], [0, 1, 2, 3, 4], list(SST1_NAMES))
    sets = label_sets(split)
    assert sets == [("negative", "strong"), ("negative",), (), ("positive",), ("positive", "strong")]
    assert LABELS == ("negative", "positive", "strong")
    assert indicator(sets).tolist() == [[1, 0, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 1]]


# ---------------------------------------------------------------- TF-IDF + LR


def names(split: TextDataset) -> list[str]:
    return [split.label_names[y] for y in split.labels]


def test_the_tfidf_c_has_the_best_dev_macro_f1_and_its_test_scores_are_sklearns():
    splits = drop_positives(SST2)
    result = tfidf_unit(splits, None, multi_label=False)
    assert result["C_grid"] == list(GRID)
    train, dev, test = (splits[s] for s in ("train", "dev", "test"))
    by_c = {}
    for C in GRID:
        model = tfidf_model(C).fit(train.texts, names(train))
        by_c[C] = (f1_score(names(dev), model.predict(dev.texts), average="macro"), model.predict(test.texts))
    best = max(dev for dev, _ in by_c.values())
    assert result["C"] == min(C for C, (dev, _) in by_c.items() if dev == best)
    assert result["dev_macro_f1"] == best
    predicted = by_c[result["C"]][1]
    assert result["test"]["macro_f1"] == f1_score(names(test), predicted, average="macro")
    recalls = recall_score(names(test), predicted, labels=["negative", "positive"], average=None)
    assert [result["test"]["recall"][n] for n in ("negative", "positive")] == recalls.tolist()


def test_balanced_class_weights_reach_the_logistic_regression_and_lift_the_minority_recall():
    model = tfidf_model(1.0, "balanced")
    assert model.get_params()["logisticregression__class_weight"] == "balanced"
    plain, balanced = (tfidf_unit(drop_positives(SST2), weight, False, (0.3,)) for weight in (None, "balanced"))
    assert balanced["test"]["recall"]["positive"] > plain["test"]["recall"]["positive"]


def test_one_vs_rest_tfidf_picks_c_by_dev_micro_f1_and_scores_at_half():
    result = tfidf_unit(SST1, None, multi_label=True)
    train, dev, test = (SST1[s] for s in ("train", "dev", "test"))
    by_c = {}
    for C in GRID:
        model = tfidf_model(C, multi_label=True).fit(train.texts, indicator(label_sets(train)))
        proba_half = (model.predict_proba(test.texts) >= 0.5).astype(int)
        assert (model.predict(test.texts) == proba_half).all()  # one-vs-rest LR predicts at 0.5
        by_c[C] = (f1_score(indicator(label_sets(dev)), model.predict(dev.texts), average="micro"), proba_half)
    best = max(dev for dev, _ in by_c.values())
    assert result["C"] == min(C for C, (dev, _) in by_c.items() if dev == best)
    truth = indicator(label_sets(test))
    assert result["test"]["micro_f1"] == f1_score(truth, by_c[result["C"]][1], average="micro")
    assert result["test"]["macro_f1"] == f1_score(truth, by_c[result["C"]][1], average="macro")
    assert set(result["test"]["f1_per_label"]) == set(LABELS)


# ---------------------------------------------------------------- resumable units and the table


def args(**overrides):
    return argparse.Namespace(**{"seeds": 3, "epochs": 10, **overrides})


def test_tfidf_units_are_written_once_skipped_next_time_and_tabled(monkeypatch):
    imbalance.main(["--configs", "tfidf-lr,tfidf-lr-ovr"])
    for config in ("tfidf-lr", "tfidf-lr-ovr"):
        record = json.loads((imbalance.CELLS / config / "seed0.json").read_text())
        assert record["config"] == config and record["wall_seconds"] >= 0
    assert json.loads((imbalance.CELLS / "tfidf-lr" / "seed0.json").read_text())["train_counts"] == {
        "negative": SST2["train"].labels.count(0), "positive": SST2["train"].labels.count(1) // 10,
        "sentences": SST2["train"].labels.count(0) + SST2["train"].labels.count(1) // 10}
    monkeypatch.setattr(imbalance, "tfidf_unit", lambda *a, **k: pytest.fail("a finished unit was rerun"))
    imbalance.main(["--configs", "tfidf-lr,tfidf-lr-ovr"])
    text = imbalance.TABLE.read_text()
    assert "| TF-IDF + LR | none | " in text and "| TF-IDF + LR | balanced | pending |" in text
    assert "| CNN rand | none | pending | pending | pending | pending | 0/3 | – |" in text
    assert "| TF-IDF + LR, one-vs-rest | 0.5 (C " in text


def finish(config: str, seed: int, record: dict) -> None:
    folder = imbalance.CELLS / config
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed{seed}.json").write_text(json.dumps({"wall_seconds": 60.0, **record}))


def test_a_cnn_cell_shows_mean_and_std_once_every_seed_is_done():
    counts = {"negative": 3310, "positive": 361, "sentences": 3671}
    for seed, (f1, neg, pos) in enumerate(((0.60, 0.98, 0.20), (0.70, 0.96, 0.40))):
        finish("cnn-rand", seed, {"test": {"macro_f1": f1, "recall": {"negative": neg, "positive": pos}},
                                  "best_epoch": 3 + seed, "train_counts": counts})
    assert "| CNN rand | none | pending | pending | pending | pending | 2/3 | – |" in table(args())
    row = "| CNN rand | none | 65.0 ± 7.1 | 97.0 ± 1.4 | 30.0 ± 14.1 | epochs 3, 4 | 2/2 | 2.0 min |"
    assert row in table(args(seeds=2))
    assert "3,671 training sentences: 3,310 negative, 361 positive" in table(args(seeds=2))


def test_the_multi_label_cnn_rows_score_the_same_models_at_half_and_at_the_tuned_thresholds():
    for seed, (half, tuned, t) in enumerate(((0.50, 0.60, 0.30), (0.54, 0.64, 0.40))):
        finish("cnn-rand-multilabel", seed, {
            "test_at_0.5": {"micro_f1": half, "macro_f1": half - 0.1},
            "test_tuned": {"micro_f1": tuned, "macro_f1": tuned - 0.1},
            "thresholds": {"negative": t, "positive": t + 0.1, "strong": t + 0.2}, "best_epoch": 2,
            "train_counts": {"negative": 3310, "positive": 3610, "strong": 2380, "sentences": 8544}})
    text = table(args(seeds=2))
    assert "| CNN rand, multi-label | 0.5 | 52.0 ± 2.8 | 42.0 ± 2.8 | 0.5 | 2/2 | 2.0 min |" in text
    assert ("| CNN rand, multi-label | tuned on dev, per label | 62.0 ± 2.8 | 52.0 ± 2.8 | 0.35 / 0.45 / 0.55 | "
            "2/2 | (same models) |") in text
    assert "8,544 training sentences: 3,310 negative, 3,610 positive, 2,380 strong" in text
    assert "| TF-IDF + LR, one-vs-rest | 0.5 | pending | pending | pending | 0/1 | – |" in text


# ---------------------------------------------------------------- the CNN (needs the multi-label estimator API)


def test_both_cnn_units_train_and_score_on_a_tiny_model(monkeypatch):
    tiny = {"n_filters": 4, "embedding_dim": 8, "filter_sizes": (2,)}
    monkeypatch.setattr(imbalance, "CNN_PARAMS", {**imbalance.CNN_PARAMS, **tiny})
    small = {name: {s: d.subset(range(40)) for s, d in splits.items()} for name, splits in (("sst2", SST2),
                                                                                           ("sst1", SST1))}
    monkeypatch.setattr(imbalance, "load_named_dataset", lambda name: small[name])
    imbalance.main(["--configs", "cnn-rand-balanced,cnn-rand-multilabel", "--seeds", "1", "--epochs", "1",
                    "--device", "cpu"])
    single = json.loads((imbalance.CELLS / "cnn-rand-balanced" / "seed0.json").read_text())
    assert single["class_weight"] == "balanced" and 0 <= single["test"]["macro_f1"] <= 1
    assert set(single["test"]["recall"]) == {"negative", "positive"}
    multi = json.loads((imbalance.CELLS / "cnn-rand-multilabel" / "seed0.json").read_text())
    assert set(multi["thresholds"]) == set(LABELS) and all(0 < t < 1 for t in multi["thresholds"].values())
    assert 0 <= multi["test_tuned"]["micro_f1"] <= 1 and 0 <= multi["test_at_0.5"]["macro_f1"] <= 1
    assert not (imbalance.STATE_ROOT / "cnn-rand-multilabel" / "seed0").exists()  # scratch state removed
    assert "| CNN rand | balanced | " in imbalance.TABLE.read_text()
