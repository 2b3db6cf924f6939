import pytest

from textcnn.analysis.metrics import mean_std
from textcnn.base.errors import DataError
from textcnn.data.files import TextDataset
from textcnn.data.splits import KIM_CV_FOLDS, Unit, cv_folds, plan_units, resolve_cv, unit_splits

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


def test_mean_std():
    assert mean_std([1.0]) == (1.0, 0.0)
    mean, std = mean_std([1.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.41421356)
