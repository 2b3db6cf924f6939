from collections import Counter

import pytest

from textcnn.base.errors import DataError
from textcnn.data.files import TextDataset
from textcnn.data.splits import KIM_CV_FOLDS, Unit, cv_folds, plan_units, resolve_cv, split_off_dev, unit_splits

LABELS = [0] * 30 + [1] * 20 + [2] * 10


def test_cv_folds_are_disjoint_cover_the_data_and_are_stratified():
    folds = cv_folds(LABELS, 10)
    tests = [set(test) for _, test in folds]
    assert sorted(i for t in tests for i in t) == list(range(len(LABELS)))  # each example tested exactly once
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == len(LABELS)
        assert [sum(LABELS[i] == c for i in test) for c in (0, 1, 2)] == [3, 2, 1]  # class shares kept


def test_cv_folds_are_seeded():
    assert cv_folds(LABELS, 5, seed=1) == cv_folds(LABELS, 5, seed=1)
    assert cv_folds(LABELS, 5, seed=1) != cv_folds(LABELS, 5, seed=2)


def test_too_many_folds_for_the_smallest_class_is_an_error():
    with pytest.raises(DataError, match="smallest class has 10"):
        cv_folds(LABELS, 11)


def test_plan_units():
    assert plan_units([3, 4]) == [Unit(3), Unit(4)]
    assert [u.name for u in plan_units([0], cv=3)] == ["fold00-seed0", "fold01-seed0", "fold02-seed0"]


def test_datasets_without_a_test_split_default_to_kims_ten_folds():
    data = TextDataset(["x"] * len(LABELS), LABELS, ["a", "b", "c"])
    assert resolve_cv({"all": data}, None) == KIM_CV_FOLDS
    assert resolve_cv({"train": data, "test": data}, None) is None
    assert resolve_cv({"all": data}, 5) == 5


def test_a_fold_unit_has_its_own_dev_split_and_a_disjoint_test_fold():
    data = TextDataset([f"text {i}" for i in range(len(LABELS))], LABELS, ["a", "b", "c"])
    splits = unit_splits({"all": data}, Unit(seed=0, fold=2), cv=5)
    train, dev, test = (set(splits[k].texts) for k in ("train", "dev", "test"))
    assert len(test) == 12 and len(dev) == 5 and len(train) == 43
    assert not (train & dev) and not (train & test) and not (dev & test)
    assert test == {data.texts[i] for i in cv_folds(LABELS, 5)[2][1]}


# ------------------------------------------------------------------ split_off_dev


def imbalanced(n_pos: int = 30, n_neg: int = 70) -> TextDataset:
    labels = [1] * n_pos + [0] * n_neg
    return TextDataset([f"s{i}" for i in range(len(labels))], labels, ["neg", "pos"])


def test_split_off_dev_sizes_and_stratification():
    full = imbalanced()
    train, dev = split_off_dev(full, 0.1, seed=0)
    assert (len(train), len(dev)) == (90, 10)
    assert Counter(dev.labels) == {0: 7, 1: 3}  # the 70/30 class ratio is kept
    assert sorted(train.texts + dev.texts) == sorted(full.texts)
    assert train.label_names == dev.label_names == ["neg", "pos"]


def test_split_off_dev_is_seeded():
    full = imbalanced()
    assert split_off_dev(full, 0.2, seed=1)[1].texts == split_off_dev(full, 0.2, seed=1)[1].texts
    assert split_off_dev(full, 0.2, seed=1)[1].texts != split_off_dev(full, 0.2, seed=2)[1].texts


def test_split_off_dev_tiny_class_falls_back():
    train, dev = split_off_dev(imbalanced(n_pos=1, n_neg=9), 0.3, seed=0)
    assert (len(train), len(dev)) == (7, 3)


def test_split_off_dev_bad_fraction():
    with pytest.raises(DataError, match="between 0 and 1, got 1.5"):
        split_off_dev(imbalanced(), 1.5, seed=0)


# ------------------------------------------------------------------ multi-label


def multi_label(n: int = 40) -> TextDataset:
    """Label sets that are mostly unique (as in GoEmotions): no set has enough examples to stratify by."""
    sets = [tuple(c for c in range(4) if (i >> c) & 1) for i in range(n)]  # includes () and repeats only every 16
    return TextDataset([f"t{i}" for i in range(n)], sets, ["a", "b", "c", "d"], multi_label=True)


def test_split_off_dev_of_a_multi_label_dataset_keeps_every_example_once():
    full = multi_label()
    train, dev = split_off_dev(full, 0.1, seed=0)
    assert (len(train), len(dev)) == (36, 4)
    assert sorted(train.texts + dev.texts) == sorted(full.texts)
    assert train.multi_label and dev.multi_label and dev.label_names == full.label_names
    by_text = dict(zip(full.texts, full.labels))
    assert all(by_text[t] == y for part in (train, dev) for t, y in zip(part.texts, part.labels))
    assert split_off_dev(full, 0.1, seed=0)[1].texts == dev.texts != split_off_dev(full, 0.1, seed=1)[1].texts


def test_cv_folds_without_stratification_cover_every_example_once():
    labels = multi_label().labels
    folds = cv_folds(labels, 5, stratify=False)
    assert sorted(i for _, test in folds for i in test) == list(range(len(labels)))
    assert all(len(test) == 8 and not set(train) & set(test) for train, test in folds)
    assert folds == cv_folds(labels, 5, stratify=False) != cv_folds(labels, 5, seed=1, stratify=False)
    with pytest.raises(DataError, match="cannot make 41 folds of 40 examples; use --cv between 2 and 40"):
        cv_folds(labels, 41, stratify=False)


def test_multi_label_cv_units_test_every_example_once():
    data = multi_label()
    tested = []
    for fold in range(4):
        splits = unit_splits({"all": data}, Unit(seed=0, fold=fold), cv=4)
        train, dev, test = (splits[k] for k in ("train", "dev", "test"))
        assert all(part.multi_label for part in (train, dev, test))
        assert sorted(train.texts + dev.texts + test.texts) == sorted(data.texts)
        tested += test.texts
    assert sorted(tested) == sorted(data.texts)
