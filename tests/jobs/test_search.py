"""textcnn search: folds, trials scored on them, the best settings trained and saved (demo set, tiny models)."""

import json

import pytest
from click.testing import CliRunner

from textcnn.base.errors import DataError
from textcnn.cli import main, search, train
from textcnn.jobs.search import FILTER_SIZES, SEARCH, SearchConfig, fold_splits, search_run
from textcnn.jobs.text import DataSource, make_classifier

pytest.importorskip("optuna")
TINY = dict(variant="rand", embedding_dim=8, epochs=2, device="cpu", seed=3)


def test_folds_are_stratified_disjoint_and_cover_train_and_one_fold_is_the_dev_split():
    splits = DataSource().load()
    train = splits["train"]
    folds = fold_splits(splits, 3, seed=0)
    dev_texts = [t for _, dev in folds for t in dev.texts]
    assert sorted(dev_texts) == sorted(train.texts)  # each example is dev exactly once
    for fit, dev in folds:
        assert not set(fit.texts) & set(dev.texts)
        assert sorted(set(dev.labels)) == sorted(set(train.labels))  # every class in every fold
    [(whole, dev)] = fold_splits(splits, 1, seed=0)
    assert whole is train and dev is splits.get("dev")


def test_a_search_scores_each_trial_on_every_fold_and_saves_the_best_settings(tmp_path):
    clf = make_classifier(DataSource(), **TINY)
    summary = search_run(clf, DataSource(), SearchConfig(trials=3, folds=2), tmp_path / "run")
    record = json.loads((tmp_path / "run" / SEARCH).read_text())
    trials = record["trials"]
    assert len(trials) == 3 and record["config"] == {"trials": 3, "folds": 2, "timeout": None}
    for trial in trials:
        assert trial["state"] in ("complete", "pruned") and 1 <= len(trial["fold_scores"]) <= 2
        assert ",".join(map(str, trial["params"]["filter_sizes"])) in FILTER_SIZES
    complete = [t for t in trials if t["state"] == "complete"]
    assert record["best"]["value"] == max(t["value"] for t in complete)
    model = json.loads((tmp_path / "run" / "config.json").read_text())
    best = record["best"]["params"]
    assert (model["model"]["filter_sizes"], model["model"]["n_filters"], model["model"]["dropout"]) == (
        best["filter_sizes"], best["n_filters"], best["dropout"])
    assert model["train"]["lr"] == best["lr"] and model["model"]["embedding_dim"] == 8  # fixed settings kept
    assert "test_acc" in summary.metrics and summary.metrics["search"]["best_params"] == best
    again = search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=3, folds=2),
                       tmp_path / "again")
    assert again.metrics["search"]["best_params"] == best  # the sampler is seeded with the estimator's seed


def test_an_existing_run_directory_is_refused_before_any_trial(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists; choose another --out or pass --force"):
        search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=1), tmp_path / "run")
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


def test_search_takes_trains_options_except_the_protocol_ones():
    train_options = {p.name for p in train.params}
    search_options = {p.name for p in search.params}
    assert search_options == train_options - {"cv", "n_seeds", "resume", "on_disk"} | {"trials", "folds", "timeout"}
    result = CliRunner().invoke(main, ["search", "--folds", "0"])
    assert result.exit_code == 2 and "--folds" in result.output
