"""`textcnn search`: tune the settings Zhang & Wallace (2015) found to matter most, on dev folds, with Optuna.

Zhang & Wallace's sensitivity analysis of this CNN ("A Sensitivity Analysis of (and Practitioners' Guide to)
Convolutional Neural Networks for Sentence Classification", 2015/2017) found the filter region sizes and the
number of feature maps to matter most, then dropout; the learning rate of the optimizer is the fourth knob here.
Each trial trains one model per fold: the training split is cut into `folds` stratified folds, and each fold in
turn is the dev set (early stopping and the score) for a model trained on the others; with `folds` 1 the
source's own dev split (or the estimator's `dev_fraction` of train) is used. The trial's score is the mean dev
score (`TrainConfig.dev_metric`) over its folds. After each epoch of each model (from its third, or from the end
of its first fifth of epochs if later) the running mean is reported: the finished folds' scores and the best dev
score so far of the model in training. Optuna's median pruner stops a trial whose running mean falls below the
median of earlier trials at that point, in the middle of a fold too, so a single-fold search prunes as well. A
pruned trial's record says where (`pruned_at`). The sampler (TPE) is seeded with the estimator's seed, so a
search is repeatable on the same machine.

The best settings then train the final model through the ordinary `train` job, in the same run directory, so the
model, its config.json (which holds the chosen settings), metrics and test score are those of any run; the
search itself (space, every trial's settings, fold scores and state, the best settings) goes to `search.json`.
The test split is read only by that final model, once.

A search is resumable: each finished trial is kept in an Optuna journal (`search.journal`) and the search's own
settings in `search-job.json`, both in the run directory, so `search_resume(run_dir)` (`textcnn search --resume
DIR`) keeps the finished trials, runs the remaining ones and then trains the final model (continuing it at its
last finished epoch if it had started). A trial cut off mid-way is run again from its start; the sampler restarts
from its seed with the finished trials as history, so a resumed search need not draw what an uninterrupted one
would have, and `timeout` counts from each start.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from ..base.atomic import read_json, write_json
from ..base.errors import CheckpointError, ConfigError, DataError, TrainingInterrupted
from ..data.files import TextDataset
from ..estimators.text import TextCNNClassifier
from ..training import distributed
from ..training.loop import EpochRecord
from .text import RUNS_ROOT, DataSource, RunSummary, job_estimator, train_run
from .units import JOB, JOURNAL

log = logging.getLogger(__name__)

SEARCH = "search.json"
SEARCH_JOB = "search-job.json"  # what a resumed search needs: the data source, fixed estimator parameters, config
# filter region sizes: Kim's 3,4,5, the neighbours Zhang & Wallace recommend combining around the best single
# size, and single sizes
FILTER_SIZES: tuple[str, ...] = ("3,4,5", "2,3,4", "1,2,3", "3,4", "4,5", "3", "5", "1,2,3,4,5")
N_FILTERS = (50, 400)  # log-uniform; Zhang & Wallace: 100-600 is a good range, more helps little
DROPOUT = (0.0, 0.6)  # Zhang & Wallace: 0-0.5 works; little difference between them
# a model's first epochs are not reported to the pruner: at least these, or a fifth of its epochs (a low learning
# rate starts slowly and may still end best)
WARMUP_EPOCHS = 3
LR: dict[str, tuple[float, float]] = {"adadelta": (0.1, 2.0), "adam": (1e-4, 3e-3), "sgd": (1e-3, 0.1)}  # log-uniform


@dataclass(frozen=True)
class SearchConfig:
    """How long and on what a search runs (beside the estimator's own parameters)."""

    trials: int = 20  # Optuna trials (fewer when `timeout` ends the search first)
    folds: int = 3  # stratified folds of the training split; 1 = the source's dev split
    timeout: float | None = None  # seconds after which no new trial starts

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials must be at least 1; got {self.trials}")
        if self.folds < 1:
            raise ConfigError(f"--folds must be at least 1; got {self.folds}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"--timeout must be positive seconds; got {self.timeout}")


def space(optimizer: str) -> dict[str, Any]:
    """The search space, as search.json records it."""
    return {"filter_sizes": list(FILTER_SIZES), "n_filters": list(N_FILTERS), "dropout": list(DROPOUT),
            "lr": list(LR[optimizer])}


def suggest(trial: Any, optimizer: str) -> dict[str, Any]:
    """One trial's estimator parameters."""
    sizes = trial.suggest_categorical("filter_sizes", FILTER_SIZES)
    return {
        "filter_sizes": tuple(int(h) for h in sizes.split(",")),
        "n_filters": trial.suggest_int("n_filters", *N_FILTERS, log=True),
        "dropout": trial.suggest_float("dropout", *DROPOUT),
        "lr": trial.suggest_float("lr", *LR[optimizer], log=True),
    }


def fold_splits(splits: dict[str, TextDataset], folds: int, seed: int) -> list[tuple[TextDataset, TextDataset | None]]:
    """(train, dev) pairs: `folds` stratified folds of train, or with 1 fold the source's dev split (None: the
    estimator holds out its `dev_fraction`)."""
    train = splits["train"]
    if folds == 1:
        return [(train, splits.get("dev"))]
    if train.multi_label:
        raise DataError("search folds are stratified by label: use --folds 1 (the dev split) for multi-label data")
    labels = np.asarray(train.labels)
    if np.bincount(labels, minlength=len(train.label_names)).min() < folds:
        raise DataError(f"a class has fewer than {folds} training examples; lower --folds")
    cut = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)
    return [(train.subset(fit.tolist()), train.subset(dev.tolist())) for fit, dev in cut]


def _names(split: TextDataset) -> list[str]:
    return [split.label_names[i] for i in split.labels]


def fold_score(clf: TextCNNClassifier, train: TextDataset, dev: TextDataset | None,
               on_epoch: Callable[[EpochRecord], None] | None = None) -> float:
    """The best dev score of `clf` trained on `train` (early-stopped on `dev`); `on_epoch` as in `clf.fit`."""
    clf.fit(train.texts, _names(train), dev=None if dev is None else (dev.texts, _names(dev)),
            label_names=train.label_names, on_epoch=on_epoch)
    score = clf.fit_result_.best_dev_score
    if score is None:
        raise ConfigError("a search scores trials on dev: keep a dev split (dev_fraction > 0, selection not 'last')")
    return float(score)


class _Pruned(Exception):
    """Optuna's pruner stopped a trial at `where` (fold, member, epoch), its running mean dev score `value`."""

    def __init__(self, value: float, where: dict[str, int]) -> None:
        super().__init__(f"pruned at {where}")
        self.value, self.where = value, where


class EpochReports:
    """A trial's `on_epoch` hook for one fold: it reports the running mean dev score (the finished folds' scores
    and the best score so far of the model now training) to Optuna and raises `_Pruned` when the pruner says so.

    Steps are numbered alike in every trial, by fold, ensemble member and epoch, so the pruner compares trials at the
    same point even when early stopping ends them at different epochs; each fold's last step is its final score
    (`fold_end`). Each model's epochs before max(WARMUP_EPOCHS, a fifth of its epochs) are not reported: their
    scores say little yet.
    """

    def __init__(self, trial: Any, fold: int, finished: list[float], epochs: int, members: int) -> None:
        self.trial, self.fold, self.finished, self.epochs, self.members = trial, fold, finished, epochs, members
        self.member, self.last_epoch, self.best = -1, epochs, float("-inf")

    def fold_end(self) -> int:
        return self.fold * (self.members * self.epochs + 1) + self.members * self.epochs

    def running(self, score: float) -> float:
        return (sum(self.finished) + score) / (len(self.finished) + 1)

    def __call__(self, record: EpochRecord) -> None:
        if record.epoch <= self.last_epoch:  # the next ensemble member starts
            self.member, self.best = self.member + 1, float("-inf")
        self.last_epoch = record.epoch
        if record.dev_score is None:
            return
        self.best = max(self.best, record.dev_score)
        if record.epoch < min(max(WARMUP_EPOCHS, self.epochs // 5), self.epochs):
            return
        step = self.fold_end() - self.members * self.epochs + self.member * self.epochs + record.epoch - 1
        self.report(self.running(self.best), step, {"member": self.member, "epoch": record.epoch})

    def report(self, value: float, step: int, where: dict[str, int] | None = None) -> None:
        """Report `value` at `step`; `where` names the member and epoch (none: the fold's final score)."""
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise _Pruned(value, {"fold": self.fold, **(where or {})})


def objective(clf: TextCNNClassifier, folds: list[tuple[TextDataset, TextDataset | None]],
              records: list[dict[str, Any]]) -> Callable[[Any], float]:
    """Optuna's objective: the mean dev score over folds, pruned epoch by epoch (EpochReports)."""
    import optuna

    config = clf.train_config()

    def score(trial: Any) -> float:
        params = suggest(trial, clf.optimizer)
        record = {"number": trial.number, "params": {**params, "filter_sizes": list(params["filter_sizes"])},
                  "fold_scores": [], "state": "running"}
        records.append(record)
        for k, (train, dev) in enumerate(folds):
            reports = EpochReports(trial, k, record["fold_scores"], config.epochs, config.ensemble)
            try:
                with _quiet_epochs():
                    record["fold_scores"].append(fold_score(clone(clf).set_params(**params), train, dev, reports))
                reports.report(statistics.mean(record["fold_scores"]), reports.fold_end())
            except _Pruned as pruned:
                record.update(state="pruned", value=pruned.value, pruned_at=pruned.where)
                trial.set_user_attr("record", record)
                log.info("trial %d pruned at %s: %.4f  %s", trial.number, pruned.where, pruned.value,
                         record["params"])
                raise optuna.TrialPruned() from None
        record.update(state="complete", value=statistics.mean(record["fold_scores"]))
        trial.set_user_attr("record", record)
        log.info("trial %d: %.4f  %s", trial.number, record["value"], record["params"])
        return record["value"]

    return score


@contextmanager
def _quiet_epochs() -> Iterator[None]:
    """No per-epoch log lines while a trial trains (one line per trial instead); the final model logs as usual."""
    loop_log = logging.getLogger("textcnn.training.loop")
    level = loop_log.level
    loop_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        loop_log.setLevel(level)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise ConfigError("textcnn search needs Optuna: pip install -e \".[search]\" (or pip install optuna)") from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log line per trial instead
    return optuna


@dataclass
class SearchResult:
    """What a search found: the best trial's estimator parameters and mean dev score, and every trial's record."""

    best_number: int
    best_params: dict[str, Any]  # JSON-ready: filter_sizes a list
    best_value: float
    trials: list[dict[str, Any]]

    def estimator_params(self) -> dict[str, Any]:
        """The best settings as estimator parameters (filter_sizes a tuple)."""
        return {**self.best_params, "filter_sizes": tuple(self.best_params["filter_sizes"])}

    def summary(self) -> dict[str, Any]:
        return {"best_params": self.best_params, "best_dev_score": self.best_value, "trials": len(self.trials),
                "pruned": sum(r["state"] == "pruned" for r in self.trials)}


def search_settings(clf: TextCNNClassifier, splits: dict[str, TextDataset], config: SearchConfig,
                    progress: bool = False, journal: Path | None = None) -> SearchResult:
    """Search `config.trials` settings for `clf` on the dev folds of `splits` (its train and dev splits; test is
    never read). With a `journal` file the finished trials are kept there, and a search started on it before
    continues with the trials it still lacks."""
    optuna = _import_optuna()
    folds = fold_splits(splits, config.folds, clf.seed)
    storage = None
    if journal is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        journal.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(study_name="search", storage=storage, load_if_exists=True, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=clf.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    records = [t.user_attrs["record"] for t in study.trials if "record" in t.user_attrs]
    if records:
        log.info("%d of %d trials already finished in %s", len(records), config.trials, journal)
    if len(records) < config.trials:
        study.optimize(objective(clone(clf).set_params(progress=False), folds, records),
                       n_trials=config.trials - len(records), timeout=config.timeout, show_progress_bar=progress)
    finished = [r for r in records if r["state"] == "complete"]
    if not finished:
        raise DataError("no search trial finished (all were pruned or the timeout came first); raise --timeout")
    best = max(finished, key=lambda r: r["value"])
    log.info("best settings (trial %d, mean dev %s %.4f): %s", best["number"], clf.train_config().dev_metric,
             best["value"], best["params"])
    return SearchResult(best["number"], best["params"], best["value"], records)


def search_run(
    clf: TextCNNClassifier, source: DataSource, config: SearchConfig, out: str | os.PathLike | None = None,
    force: bool = False, progress: bool = False,
) -> RunSummary:
    """Search `config.trials` settings for `clf` on `source`'s dev folds, then train and save the best (see module)."""
    _import_optuna()
    _check_single_process()
    run_dir = Path(out) if out else RUNS_ROOT / f"{source.name}-search-{datetime.now():%Y%m%d-%H%M%S}"
    if run_dir.exists() and not force and any(run_dir.iterdir()):
        raise DataError(f"{run_dir} already exists; choose another --out or pass --force to overwrite it")
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (JOURNAL, SEARCH_JOB, SEARCH, JOB):  # --force: an earlier search's trials are not this one's
        (run_dir / stale).unlink(missing_ok=True)
    write_json(run_dir / SEARCH_JOB, {"source": asdict(source), "params": clf.job_params(), "config": asdict(config)})
    return _search_and_train(clf, source, config, run_dir, progress, resume=False)


def search_resume(run_dir: str | os.PathLike, progress: bool = False) -> RunSummary:
    """Continue the search of `run_dir` with the data, settings and trials it was started with (see module)."""
    _import_optuna()
    _check_single_process()
    run_dir = Path(run_dir)
    if not (run_dir / SEARCH_JOB).is_file():
        raise CheckpointError(f"{run_dir} holds no search to resume (no {SEARCH_JOB}); start one with textcnn search")
    if (run_dir / SEARCH).is_file():
        raise CheckpointError(f"the search in {run_dir} is finished; there is nothing to resume")
    job = read_json(run_dir / SEARCH_JOB)
    clf, source = job_estimator(job, run_dir / SEARCH_JOB, progress)
    try:
        config = SearchConfig(**job["config"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{run_dir / SEARCH_JOB} is not a textcnn search description: {err}") from err
    return _search_and_train(clf, source, config, run_dir, progress, resume=(run_dir / JOB).is_file())


def _check_single_process() -> None:
    if distributed.launched_world_size() > 1:
        raise ConfigError("textcnn search runs in one process; launch it without torchrun")


def _search_and_train(clf: TextCNNClassifier, source: DataSource, config: SearchConfig, run_dir: Path,
                      progress: bool, resume: bool) -> RunSummary:
    """The trials (kept in the run directory's journal), then the final model in the same directory; `resume`
    continues a final model that had started."""
    try:
        found = search_settings(clf, source.load(multi_label=clf.multi_label), config, progress, run_dir / JOURNAL)
    except TrainingInterrupted as err:
        raise TrainingInterrupted(f"{err}; continue with: textcnn search --resume {run_dir}") from err
    # the directory is this search's own (checked when it started), hence force
    summary = train_run(clone(clf).set_params(**found.estimator_params()), source, run_dir, force=True, resume=resume,
                        command="textcnn search")
    if summary.primary:
        write_json(run_dir / SEARCH, {
            "config": asdict(config), "dev_metric": clf.train_config().dev_metric, "space": space(clf.optimizer),
            "trials": found.trials,
            "best": {"number": found.best_number, "params": found.best_params, "value": found.best_value},
        })
    summary.metrics["search"] = found.summary()
    return summary
