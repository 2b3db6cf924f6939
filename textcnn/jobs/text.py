"""End-to-end jobs behind the CLI: train a run directory on a dataset, evaluate a saved run."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import f1_score

from ..analysis.metrics import classification_metrics, format_report, mean_std
from ..analysis.plots import plot_confusion, plot_history
from ..base.atomic import read_json, write_json
from ..base.errors import CheckpointError, DataError
from ..data.files import TextDataset, load_files
from ..data.registry import DATASETS, load_demo, load_named_dataset
from ..data.splits import Unit, plan_units, resolve_cv, unit_splits
from ..estimators.labels import label_matrix
from ..estimators.text import TextCNNClassifier
from ..storage.rundir import METRICS, point_latest
from ..training import distributed
from ..training.resume import RESUME_DIR, reused_seconds
from .units import CURVE, JOB, UnitState, job_directory, run_unit, run_units

log = logging.getLogger(__name__)

RUNS_ROOT = Path("runs")
SUMMARY = "summary.json"


@dataclass(frozen=True)
class DataSource:
    """Where a job's examples come from: a named dataset, explicit files, or (neither) the demo set."""

    dataset: str | None = None
    train_file: str | None = None
    dev_file: str | None = None
    test_file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    label_sep: str | None = None  # multi-label TSV/CSV: the separator of a cell's labels, e.g. "|"
    phrases: bool = False  # SST: train on every labelled phrase of the training trees (Kim 2014 §3.1)
    on_disk: bool = False  # tokenise train_file once into a memory-mapped cache (TextCNNClassifier.fit_corpus)

    @property
    def name(self) -> str:
        if self.dataset:
            return self.dataset
        return Path(self.train_file).stem if self.train_file else "demo"

    def load(self, multi_label: bool = False) -> dict[str, TextDataset]:
        """The splits of this source, keyed train/dev/test; `multi_label` reads zero or more labels per example."""
        splits = self._load(multi_label)
        if splits["train"].multi_label != multi_label:
            kind = "multi-label" if splits["train"].multi_label else "single-label"
            advice = "pass --multi-label" if splits["train"].multi_label else "drop --multi-label"
            raise DataError(f"{self.name} is a {kind} dataset; {advice}")
        return splits

    def _load(self, multi_label: bool) -> dict[str, TextDataset]:
        if self.dataset and self.train_file:
            raise DataError("give either --dataset or --train-file, not both")
        if self.phrases and not self.dataset:
            raise DataError("--phrases needs --dataset sst1 or sst2")
        if self.dataset:
            return load_named_dataset(self.dataset, phrases=self.phrases)
        if self.train_file:
            return load_files(self.train_file, self.dev_file, self.test_file, text_column=self.text_column,
                              label_column=self.label_column, multi_label=multi_label, label_sep=self.label_sep)
        if self.label_sep is not None:
            raise DataError("--label-sep applies to --train-file; named datasets know their labels")
        if self.dev_file or self.test_file:
            raise DataError("--dev-file/--test-file need --train-file")
        return load_demo()

    def default_tokenizer(self) -> tuple[str, bool]:
        """The tokenizer the source calls for: Kim's for registry datasets, unicode for user files."""
        spec = DATASETS.get(self.dataset or "")
        return (spec.tokenizer, spec.lowercase) if spec else ("unicode", True)


@dataclass(frozen=True)
class JobConfig(DataSource):
    """A `textcnn train` job beside the estimator's parameters: the data source, the protocol and the output."""

    out: str | None = None  # the run directory (default runs/<dataset>-<variant>-<time>)
    force: bool = False  # overwrite an existing run directory
    cv: int | None = None  # k-fold cross-validation (Kim's 10 for a dataset without a test split)
    n_seeds: int = 1  # seeds seed, seed+1, ...: mean ± std over them
    resume: str | None = None  # continue this run directory; every other setting then comes from its job.json

    @property
    def source(self) -> DataSource:
        """The data-source part of the job."""
        return DataSource(**{f.name: getattr(self, f.name) for f in dataclasses.fields(DataSource)})


@dataclass
class RunSummary:
    """What a finished training job reports."""

    run_dir: Path
    metrics: dict[str, Any]
    primary: bool = True  # False on DDP ranks other than 0, which write and print nothing


def make_classifier(source: DataSource, tokenizer: str | None = None, **params: Any) -> TextCNNClassifier:
    """A classifier for `source`; without an explicit tokenizer, the source's own (Kim's for Kim's data)."""
    default, lowercase = source.default_tokenizer()
    if tokenizer is None:
        return TextCNNClassifier(tokenizer=default, lowercase=lowercase, **params)
    return TextCNNClassifier(tokenizer=tokenizer, **params)


def run_job(job: JobConfig, params: dict[str, Any], progress: bool = False) -> RunSummary:
    """Train (or, with `job.resume`, continue) the job with these estimator parameters; what `textcnn train` runs."""
    if job.resume:
        return resume_run(job.resume, progress=progress)
    clf = make_classifier(job.source, progress=progress, **params)
    return train_run(clf, job.source, job.out, job.force, n_seeds=job.n_seeds, cv=job.cv)


MEMBERS = "members"  # a multi-seed ensemble job's member store (textcnn.training.members), removed once it finishes


def shares_members(ensemble: int, splits: dict[str, TextDataset] | DataSource, cv: int | None) -> bool:
    """Whether seed units of an `ensemble`-member model train the same member for the same seed: unit seed s trains
    seeds s, ..., s+ensemble-1, and on a fixed train and dev split (not CV folds, not a dev split held out with each
    unit's seed) each of them is the same model in every unit. One process only: ranks would copy members at once."""
    return (ensemble > 1 and cv is None and isinstance(splits, dict) and "dev" in splits
            and distributed.launched_world_size() == 1)


def default_run_dir(source: DataSource, variant: str) -> Path:
    """`runs/<dataset>-<variant>-<timestamp>`."""
    return RUNS_ROOT / f"{source.name}-{variant}-{datetime.now():%Y%m%d-%H%M%S}"


def train_run(
    clf: TextCNNClassifier, source: DataSource, out: str | os.PathLike | None = None, force: bool = False,
    *, n_seeds: int = 1, cv: int | None = None, resume: bool = False, command: str = "textcnn train",
) -> RunSummary:
    """Load the data, fit `clf` and save the best-dev model, metrics and training curve in a run directory.

    With `n_seeds` > 1 (seeds clf.seed, clf.seed+1, ...) or `cv` folds (the default for datasets
    without a test split: Kim's 10-fold CV), each unit gets a subdirectory and `summary.json` holds
    the test accuracy's mean ± std over units.

    The job (data source, protocol, estimator parameters) is written to `job.json` first and each unit keeps
    a `resume/` state after every epoch (removed once the unit finishes), so `resume_run(run_dir)` continues
    a killed job: finished units are kept, an interrupted unit restarts at its last finished epoch (an interruption's
    message names `command --resume run_dir`). Under torchrun only rank 0 writes.
    """
    if n_seeds < 1:
        raise DataError(f"--n-seeds must be at least 1; got {n_seeds}")
    distributed.start()  # under torchrun: the one place a text job starts the process group
    if source.on_disk:
        _check_on_disk(source, n_seeds, cv)
        splits: dict[str, TextDataset] | DataSource = source  # read by fit_and_score_on_disk, never loaded
    else:
        splits = source.load(multi_label=clf.multi_label)
        cv = resolve_cv(splits, cv)
    if cv is not None and "all" not in splits:
        log.info("cross-validating over the %s training split only", source.name)
    units = plan_units(range(clf.seed, clf.seed + n_seeds), cv)
    run_dir = Path(out) if out else default_run_dir(source, clf.variant)
    primary = distributed.is_primary()
    job = {"source": asdict(source), "n_seeds": n_seeds, "cv": cv, "params": clf.job_params()}
    with job_directory(run_dir, job, resume=resume, force=force, primary=primary, command=command):
        if len(units) == 1 and cv is None:
            metrics, best_dir = _train_unit(clf, splits, run_dir, source.name, resume), run_dir
        else:
            metrics, best_dir = _train_units(clf, splits, units, cv, run_dir, source.name, resume)
    if primary and run_dir.parent.resolve() == RUNS_ROOT.resolve():
        point_latest(best_dir, RUNS_ROOT)
    return RunSummary(run_dir, metrics, primary)


def resume_run(run_dir: str | os.PathLike, progress: bool = False) -> RunSummary:
    """Continue the job of `run_dir` (see `train_run`) with the data, protocol and parameters it was started with."""
    run_dir = Path(run_dir)
    job = read_json(run_dir / JOB)
    clf, source = job_estimator(job, run_dir / JOB, progress)
    return train_run(clf, source, run_dir, n_seeds=job["n_seeds"], cv=job["cv"], resume=True)


def job_estimator(job: dict[str, Any], path: Path, progress: bool = False) -> tuple[TextCNNClassifier, DataSource]:
    """The estimator and data source a job description (`path`, read into `job`) was started with."""
    try:
        # a job.json without tokenizer_version was written before version 2 existed: its run tokenises as version 1
        params = {"tokenizer_version": 1, **job["params"], "progress": progress}
        return TextCNNClassifier(**params), DataSource(**job["source"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path} is not a textcnn job description: {err}") from err


def _check_on_disk(source: DataSource, n_seeds: int, cv: int | None) -> None:
    """The on-disk path trains one model from --train-file (and optional --dev-file/--test-file)."""
    if source.dataset or not source.train_file:
        raise DataError("--on-disk needs --train-file (named datasets are small enough to load into memory)")
    if n_seeds > 1 or cv is not None:
        raise DataError("--on-disk trains one model on a fixed split; drop --n-seeds and --cv")


def _train_unit(
    clf: TextCNNClassifier, splits: dict[str, TextDataset] | DataSource, unit_dir: Path, name: str,
    resume: bool = False,
) -> dict[str, Any]:
    """Fit and score one unit (resuming it when it has a resume state), then write its model, metrics and curve."""
    if resume and (unit_dir / METRICS).is_file():
        raise CheckpointError(f"{unit_dir} is a finished run; there is nothing to resume")
    primary = distributed.is_primary()
    fit = partial(_fit_unit, clf, splits, name, primary)
    return run_unit(unit_dir / METRICS, unit_dir, fit, resume=resume, skip_held=False, primary=primary)


def _train_units(
    clf: TextCNNClassifier, splits: dict[str, TextDataset], units: list[Unit], cv: int | None, run_dir: Path,
    name: str, resume: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Train every unit in its own subdirectory; summarise test accuracy as mean ± std.

    Seed units of an ensemble that share members (`shares_members`) train each shared member once: later units take
    it from the job's member store, `run_dir`/members, which goes once every unit has finished.
    """
    primary = distributed.is_primary()
    store = run_dir / MEMBERS if shares_members(clf.ensemble, splits, cv) else None

    def fit(unit: Unit, state: UnitState) -> dict[str, Any]:
        log.info("unit %d/%d: %s", units.index(unit) + 1, len(units), unit.name)
        unit_clf = clone(clf).set_params(seed=unit.seed)
        return _fit_unit(unit_clf, unit_splits(splits, unit, cv, clf.dev_fraction), name, primary, state, store)

    done = run_units(units, fit, result=lambda unit: run_dir / unit.name / METRICS,
                     folder=lambda unit: run_dir / unit.name, resume=resume, skip_held=False, primary=primary)
    if store is not None:
        shutil.rmtree(store, ignore_errors=True)
    results = {unit.name: metrics for unit, metrics in done.items()}
    summary = summarize_units(results)
    summary.update(dataset=name, variant=clf.variant, protocol=f"{cv}-fold CV" if cv else "fixed split")
    if primary:
        write_json(run_dir / SUMMARY, summary)
    log.info("test accuracy over %d units: %.4f ± %.4f", len(units), summary["test_acc_mean"], summary["test_acc_std"])
    best = max(results, key=lambda u: results[u]["best_dev_acc"] or 0.0)
    return summary, run_dir / best


def _fit_unit(
    clf: TextCNNClassifier, splits: dict[str, TextDataset] | DataSource, name: str, primary: bool, state: UnitState,
    member_store: Path | None = None,
) -> dict[str, Any]:
    """Fit and score one unit in its state folder; on the primary, save its best-dev model and training curve there."""
    if isinstance(splits, DataSource):
        metrics = fit_and_score_on_disk(clf, splits, checkpoint_dir=state.folder, resume=state.resume)
    else:
        metrics = fit_and_score(clf, splits, checkpoint_dir=state.folder, resume=state.resume,
                                member_store=member_store)
    metrics = {"dataset": name, **metrics}
    if primary:
        clf.save(state.folder, force=True)
        plot_history(metrics["history"], state.folder / CURVE, title=f"{name} {clf.variant}")
    return metrics


def summarize_units(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std of test and dev accuracy over units, plus each unit's headline numbers."""
    keys = ("test_acc", "best_dev_acc", "best_epoch", "train_seconds", "reused_seconds")
    summary: dict[str, Any] = {"units": {u: {k: m.get(k) for k in keys} for u, m in results.items()}}
    for key, label in (("test_acc", "test_acc"), ("best_dev_acc", "dev_acc")):
        values = [m[key] for m in results.values() if m.get(key) is not None]
        if values:
            summary[f"{label}_mean"], summary[f"{label}_std"] = mean_std(values)
    return summary


def fit_and_score(
    clf: TextCNNClassifier, splits: dict[str, TextDataset], checkpoint_dir: Path | None = None, resume: bool = False,
    member_store: Path | None = None,
) -> dict[str, Any]:
    train, dev, test = splits["train"], splits.get("dev"), splits.get("test")
    names = train.label_names
    start = time.perf_counter()
    clf.fit(train.texts, _names(train), dev=(dev.texts, _names(dev)) if dev else None, label_names=names,
            checkpoint_dir=checkpoint_dir, resume=resume, member_store=member_store)
    metrics = _fit_metrics(clf, len(train), start)
    if member_store is not None:  # members taken from the store: their first training's seconds, not this run's
        metrics["reused_seconds"] = round(reused_seconds(Path(checkpoint_dir) / RESUME_DIR), 2)
    if test is not None:
        metrics["test_acc"] = float(clf.score(test.texts, _names(test)))  # multi-label: subset accuracy
        if clf.multi_label:
            metrics.update(_multi_label_f1(clf, test))
    return metrics


def _multi_label_f1(clf: TextCNNClassifier, test: TextDataset) -> dict[str, float]:
    """Test micro- and macro-F1 of a multi-label model at its thresholds."""
    truth = label_matrix(test.labels, len(test.label_names))
    predicted = clf.predict(test.texts)
    return {f"test_{average}_f1": float(f1_score(truth, predicted, average=average, zero_division=0))
            for average in ("micro", "macro")}


def fit_and_score_on_disk(
    clf: TextCNNClassifier, source: DataSource, checkpoint_dir: Path | None = None, resume: bool = False,
) -> dict[str, Any]:
    """`fit_and_score` for files streamed through the memory-mapped cache (`TextCNNClassifier.fit_corpus`)."""
    columns = {"text_column": source.text_column, "label_column": source.label_column}
    start = time.perf_counter()
    clf.fit_corpus(source.train_file, source.dev_file, checkpoint_dir=checkpoint_dir, resume=resume, **columns)
    metrics = _fit_metrics(clf, clf.train_examples_, start)
    if source.test_file is not None:
        metrics["test_acc"] = clf.score_file(source.test_file, **columns)
    return metrics


def _fit_metrics(clf: TextCNNClassifier, train_examples: int, start: float) -> dict[str, Any]:
    result = clf.fit_result_
    return {
        "variant": clf.variant,
        "train_examples": train_examples,
        "best_epoch": result.best_epoch,
        "best_dev_acc": result.best_dev_acc,
        "dev_metric": clf.train_config().dev_metric,
        "best_dev_score": result.best_dev_score,
        "thresholds": None if getattr(clf, "thresholds_", None) is None else clf.thresholds_.tolist(),
        "train_seconds": round(time.perf_counter() - start, 2),
        "coverage": None if clf.coverage_ is None else vars(clf.coverage_),
        "history": [vars(r) for r in result.history],
        # an ensemble: best_dev_acc/score above are the averaged model's; best_epoch and history are member 0's
        **({"ensemble": [{"seed": clf.seed + i, "best_epoch": m.best_epoch, "best_dev_acc": m.best_dev_acc,
                          "best_dev_score": m.best_dev_score, "reused": m.reused}
                         for i, m in enumerate(result.members)]}
           if result.members else {}),
    }


def _names(split: TextDataset) -> list[str] | list[list[str]]:
    """Each example's label name, or (multi-label) list of label names."""
    if split.multi_label:
        return [[split.label_names[i] for i in labels] for labels in split.labels]
    return [split.label_names[i] for i in split.labels]


def evaluate_run(
    model_dir: str | os.PathLike, source: DataSource, split: str = "test", plot: bool = False
) -> dict[str, Any]:
    """Accuracy, micro/macro F1, a per-class report (precision, recall, F1, support, ROC-AUC) and, single-label,
    the confusion matrix of a saved model on one split of a source; multi-label adds the Hamming loss (and
    accuracy is subset accuracy). See `textcnn.analysis.metrics.classification_metrics`. The report is also
    written to `evaluation_<source>_<split>.json` in `model_dir`.

    With `plot` (single-label), the confusion matrix is also drawn to `confusion_<source>_<split>.png` in `model_dir`.
    """
    clf = TextCNNClassifier.load(model_dir)
    splits = source.load(multi_label=clf.multi_label)
    if split not in splits:
        raise DataError(f"{source.name} has no {split!r} split (it has: {', '.join(splits)})")
    data = splits[split]
    labels = [str(c) for c in clf.classes_]
    y_true = _true_labels(data, labels, f"{source.name}/{split}")
    probs = clf.predict_proba(data.texts)
    y_pred = clf.predict(data.texts) if clf.multi_label else probs.argmax(axis=1)
    metrics = {"dataset": source.name, "split": split, "examples": len(data),
               **classification_metrics(y_true, y_pred, probs, labels)}
    if clf.multi_label:
        metrics["thresholds"] = dict(zip(labels, clf.thresholds_.tolist()))
    if plot and not clf.multi_label:
        path = Path(model_dir) / f"confusion_{source.name}_{split}.png"
        metrics["plot"] = str(plot_confusion(metrics["confusion_matrix"], labels, path, f"{source.name} {split}"))
    _keep_report(Path(model_dir) / f"evaluation_{source.name}_{split}.json", metrics)
    return metrics


def _keep_report(path: Path, metrics: dict[str, Any]) -> None:
    """The report as JSON beside the model; a read-only model folder (e.g. a Hub cache) only logs why not."""
    try:
        write_json(path, metrics)
        metrics["report"] = str(path)
    except OSError as err:
        log.warning("could not write %s (%s); the report is printed only", path, err)


def _true_labels(data: TextDataset, classes: list[str], where: str) -> np.ndarray:
    """Gold labels as indices of the model's classes, (N,), or a multi-label indicator matrix (N, K).

    Single-label integer labels index the classes if the names don't match; a label the model never saw is
    an error naming it.
    """
    index = {name: k for k, name in enumerate(classes)}
    unknown = {n for labels in _names(data) for n in (labels if data.multi_label else [labels])} - set(index)
    if data.multi_label:
        if unknown:
            raise DataError(f"labels {sorted(unknown)[:5]} of {where} are not among the model's labels {classes}")
        return label_matrix([[index[n] for n in labels] for labels in _names(data)], len(classes))
    if not unknown:
        return np.asarray([index[n] for n in _names(data)])
    if all(n.isdigit() for n in data.label_names) and len(data.label_names) <= len(classes):
        return np.asarray([int(data.label_names[i]) for i in data.labels])
    raise DataError(f"labels {sorted(unknown)[:5]} of {where} are not among the model's classes {classes}")


def format_evaluation(metrics: dict[str, Any]) -> str:
    """A human-readable report: accuracy, F1, the per-class table and (single-label) a labelled confusion matrix."""
    labels = metrics["labels"]
    width = max(8, *(len(x) for x in labels))
    accuracy = "subset accuracy" if metrics["multi_label"] else "accuracy"
    lines = [
        f"{metrics['dataset']}/{metrics['split']}: {metrics['examples']} examples",
        f"{accuracy}  {metrics['accuracy']:.4f}",
        f"micro-F1  {metrics['micro_f1']:.4f}",
        f"macro-F1  {metrics['macro_f1']:.4f}",
    ]
    if metrics["macro_roc_auc"] is not None:
        lines.append(f"macro ROC-AUC  {metrics['macro_roc_auc']:.4f}")
    if metrics["multi_label"]:
        lines.append(f"Hamming loss  {metrics['hamming_loss']:.4f}")
    lines += ["", *format_report(metrics)]
    if not metrics["multi_label"]:
        lines += ["", "confusion matrix (rows: true, columns: predicted)",
                  " " * width + "".join(f"{x:>{width + 1}}" for x in labels)]
        for name, row in zip(labels, metrics["confusion_matrix"]):
            lines.append(f"{name:<{width}}" + "".join(f"{n:>{width + 1}}" for n in row))
    for key in ("plot", "report"):
        if key in metrics:
            lines.append(f"{key}: {metrics[key]}")
    return "\n".join(lines)
