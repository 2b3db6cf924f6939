"""textcnn search: folds, trials scored on them, the best settings trained and saved (demo set, tiny models)."""

import json

import pytest
from click.testing import CliRunner

import textcnn.jobs.search as search_job
from textcnn.base.errors import CheckpointError, DataError, TrainingInterrupted
from textcnn.cli import main, search, train
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.search import FILTER_SIZES, SEARCH, SearchConfig, fold_splits, search_resume, search_run
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
    assert search_options == train_options - {"cv", "n_seeds", "on_disk"} | {"trials", "folds", "timeout"}
    result = CliRunner().invoke(main, ["search", "--folds", "0"])
    assert result.exit_code == 2 and "--folds" in result.output


class CutOff(Exception):
    """Stands in for the process being killed."""


def test_a_cut_off_search_resumes_with_its_finished_trials_and_trains_only_the_rest(tmp_path, monkeypatch):
    real, calls = search_job.fold_score, []

    def counted(clf, train, dev):  # noqa: ANN001
        calls.append(clf.n_filters)
        if len(calls) == 5:  # the third trial's first fold
            raise CutOff
        return real(clf, train, dev)

    monkeypatch.setattr(search_job, "fold_score", counted)
    run = tmp_path / "run"
    with pytest.raises(CutOff):
        search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=4, folds=2), run)
    assert not (run / SEARCH).exists() and not (run / "model.safetensors").exists()
    calls.clear()
    summary = search_resume(run)
    trials = json.loads((run / SEARCH).read_text())["trials"]
    assert len(trials) == 4 and [t["number"] for t in trials[:2]] == [0, 1]  # the finished two are kept
    assert len(calls) == sum(len(t["fold_scores"]) for t in trials[2:])  # only the other two trained again
    assert summary.metrics["search"]["trials"] == 4 and "test_acc" in summary.metrics
    assert json.loads((run / "config.json").read_text())["model"]["embedding_dim"] == 8  # the search's settings
    with pytest.raises(CheckpointError, match="is finished; there is nothing to resume"):
        search_resume(run)


def test_resume_needs_a_search_and_the_cli_continues_one(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="holds no search to resume"):
        search_resume(tmp_path)
    real = search_job.fold_score

    def cut_off_once(clf, train, dev):  # noqa: ANN001
        monkeypatch.setattr(search_job, "fold_score", real)
        raise CutOff

    monkeypatch.setattr(search_job, "fold_score", cut_off_once)
    with pytest.raises(CutOff):
        search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=2, folds=1),
                   tmp_path / "run")
    result = CliRunner().invoke(main, ["search", "--resume", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "run" / SEARCH).read_text())["trials"]) == 2


# the trial's fit stopped: it runs again (as trial 1); the final model's stopped: trial 0 is kept
@pytest.mark.parametrize(("stopped_fit", "best_trial"), [(1, 1), (2, 0)])
def test_an_interrupted_search_says_how_to_resume_it_and_resumes(tmp_path, monkeypatch, stopped_fit, best_trial):
    real_fit, fits = TextCNNClassifier.fit, []

    def fit(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        fits.append(self)
        if len(fits) == stopped_fit:
            raise TrainingInterrupted("training stopped by SIGINT after step 1 of epoch 1")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(TextCNNClassifier, "fit", fit)
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match=f"continue with: textcnn search --resume {run}$"):
        search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=1, folds=1), run)
    search_resume(run)
    assert json.loads((run / SEARCH).read_text())["best"]["number"] == best_trial
