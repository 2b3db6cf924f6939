"""textcnn search: folds, trials scored on them, the best settings trained and saved (demo set, tiny models)."""

import json

import pytest
from click.testing import CliRunner

import textcnn.jobs.search as search_job
from textcnn.base.errors import CheckpointError, DataError, TrainingInterrupted
from textcnn.cli import main, search, train
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.search import (
    FILTER_SIZES,
    SEARCH,
    EpochReports,
    SearchConfig,
    fold_splits,
    objective,
    search_resume,
    search_run,
)
from textcnn.jobs.text import DataSource, make_classifier
from textcnn.training.loop import EpochRecord

optuna = pytest.importorskip("optuna")
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


def test_the_search_command_searches_trains_and_saves_the_best_settings(tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["search", "--trials", "2", "--folds", "1", "--epochs", "2", "--embedding-dim",
                                       "8", "--variant", "rand", "--device", "cpu", "--out", str(run)])
    assert result.exit_code == 0, result.output
    best = json.loads((run / SEARCH).read_text())["best"]["params"]
    assert json.loads((run / "config.json").read_text())["model"]["n_filters"] == best["n_filters"]
    assert (run / "model.safetensors").is_file()


class CutOff(Exception):
    """Stands in for the process being killed."""


def test_a_cut_off_search_resumes_with_its_finished_trials_and_trains_only_the_rest(tmp_path, monkeypatch):
    real, calls = search_job.fold_score, []

    def counted(clf, train, dev, on_epoch=None):  # noqa: ANN001
        calls.append(clf.n_filters)
        if len(calls) == 5:  # the third trial's first fold
            raise CutOff
        return real(clf, train, dev, on_epoch)

    monkeypatch.setattr(search_job, "fold_score", counted)
    run = tmp_path / "run"
    with pytest.raises(CutOff):
        search_run(make_classifier(DataSource(), **TINY), DataSource(), SearchConfig(trials=4, folds=2), run)
    assert not (run / SEARCH).exists() and not (run / "model.safetensors").exists()
    calls.clear()
    summary = search_resume(run)
    trials = json.loads((run / SEARCH).read_text())["trials"]
    assert len(trials) == 4 and [t["number"] for t in trials[:2]] == [0, 1]  # the finished two are kept
    # only the other two trained again (a trial pruned in the middle of a fold has no score for that fold)
    assert len(calls) == sum(len(t["fold_scores"]) + ("epoch" in t.get("pruned_at", {})) for t in trials[2:])
    assert summary.metrics["search"]["trials"] == 4 and "test_acc" in summary.metrics
    assert json.loads((run / "config.json").read_text())["model"]["embedding_dim"] == 8  # the search's settings
    with pytest.raises(CheckpointError, match="is finished; there is nothing to resume"):
        search_resume(run)


def test_resume_needs_a_search_and_the_cli_continues_one(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="holds no search to resume"):
        search_resume(tmp_path)
    real = search_job.fold_score

    def cut_off_once(clf, train, dev, on_epoch=None):  # noqa: ANN001
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


class FakeTrial:
    """An Optuna trial that suggests fixed settings, records its reports and prunes once it has had `prune_after`
    of them."""

    number = 0

    def __init__(self, prune_after: int) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_after = prune_after

    def set_user_attr(self, key: str, value: object) -> None:
        pass

    def suggest_categorical(self, name: str, choices: tuple) -> object:
        return choices[0]

    def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
        return low

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        return high if name == "lr" else low

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return len(self.reports) >= self.prune_after


def record(epoch: int, score: float) -> EpochRecord:
    return EpochRecord(epoch, 0.0, 0.0, score, 0.0, dev_score=score)


def test_epoch_reports_number_steps_by_fold_member_and_epoch_and_skip_the_warm_up():
    trial = FakeTrial(prune_after=99)
    reports = EpochReports(trial, fold=1, finished=[0.6], epochs=5, members=2)
    for epoch, score in ((1, 0.9), (2, 0.5), (3, 0.7), (4, 0.8)):  # member 0, stopped early after epoch 4
        reports(record(epoch, score))
    for epoch in range(1, 6):  # member 1
        reports(record(epoch, 0.5))
    first_step = 1 * (2 * 5 + 1)  # fold 1 starts after fold 0's 10 epoch steps and its final score
    assert [step for _, step in trial.reports] == [first_step + 2, first_step + 3, first_step + 7, first_step + 8,
                                                   first_step + 9]
    assert [round(v, 6) for v, _ in trial.reports[:2]] == [0.75, 0.75]  # (0.6 + best so far 0.9) / 2
    assert round(trial.reports[2][0], 6) == 0.55  # member 1's own best: (0.6 + 0.5) / 2
    assert reports.fold_end() == first_step + 10


def test_a_trial_pruned_in_the_middle_of_a_fold_stops_training_there_and_says_where(monkeypatch):
    fitted_epochs: list[int] = []
    real_fit = TextCNNClassifier.fit

    def fit(self, *args, on_epoch=None, **kwargs):  # noqa: ANN001, ANN002, ANN003
        def counted(rec: EpochRecord) -> None:
            fitted_epochs.append(rec.epoch)
            on_epoch(rec)

        return real_fit(self, *args, on_epoch=counted, **kwargs)

    monkeypatch.setattr(TextCNNClassifier, "fit", fit)
    clf = make_classifier(DataSource(), **{**TINY, "epochs": 6})
    records: list[dict] = []
    score = objective(clf, fold_splits(DataSource().load(), 1, seed=0), records)
    with pytest.raises(optuna.TrialPruned):
        score(FakeTrial(prune_after=2))  # reports at epochs 3 and 4: pruned after epoch 4 of 6
    assert fitted_epochs == [1, 2, 3, 4]
    assert records[0]["state"] == "pruned" and records[0]["pruned_at"] == {"fold": 0, "member": 0, "epoch": 4}
    assert records[0]["fold_scores"] == []
