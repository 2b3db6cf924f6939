"""The zh_reviews table: a configuration shows numbers only when all its seeds are done."""

import json

import pytest

from benchmarks import zh_reviews
from benchmarks.zh_reviews import cell


@pytest.fixture(autouse=True)
def cells_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(zh_reviews, "CELLS", tmp_path)


def finish(tmp_path, seed: int, test_acc: float, dev_acc: float) -> None:
    folder = tmp_path / "rand-char"
    folder.mkdir(exist_ok=True)
    (folder / f"seed{seed}.json").write_text(
        json.dumps({"test_acc": test_acc, "best_dev_acc": dev_acc, "wall_seconds": 1800.0}))


def test_a_partly_run_configuration_is_pending(tmp_path):
    finish(tmp_path, 0, 0.85, 0.86)
    assert cell("rand-char", 3) == ("pending", "pending", "1/3", "–")


def test_a_finished_configuration_shows_test_and_dev_mean_and_std(tmp_path):
    for seed, (test, dev) in enumerate(((0.84, 0.85), (0.86, 0.87), (0.88, 0.89))):
        finish(tmp_path, seed, test, dev)
    assert cell("rand-char", 3) == ("86.0 ± 2.0", "87.0 ± 2.0", "3/3", "1.50 h")


def test_every_configuration_is_a_valid_estimator():
    from textcnn.estimators.text import TextCNNClassifier

    for params in zh_reviews.CONFIGS.values():
        TextCNNClassifier(**params).config("data")  # validated there: a typo in a tokenizer name fails
