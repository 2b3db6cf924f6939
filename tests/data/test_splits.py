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
