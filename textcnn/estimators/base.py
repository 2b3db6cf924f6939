"""What the text and image estimators share: scikit-learn's bases, NotFittedError, parameters declared by the config
dataclasses, the fit skeleton, one save/load and one resume check.

A task (text, image) names its config classes (`CONFIGS`, from `textcnn.storage.rundir.TASKS`): every field is a
parameter of the estimator, except those training fixes (`LEARNED`). The subclass's `__init__` lists the same
names with the same defaults (`tests/estimators/test_base.py` checks this), and `save`/`load`, `config.json` and the
resume check all go through the configs. A subclass fills in the hooks marked "per task".
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import sklearn.exceptions
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ..base.config import THRESHOLD_TUNE, BatchConfig, TrainConfig, to_json
from ..base.errors import CheckpointError, ConfigError, DataError, TextCNNError
from ..models.ensemble import ProbabilityAverage
from ..storage.card import write_model_card
from ..storage.hub import resolve_run, upload_run
from ..storage.rundir import (
    TASKS,
    SavedRun,
    check_resumable,
    describe_run,
    load_run,
    member_settings,
    prepare_run_dir,
    save_run,
)
from ..training import distributed
from ..training.loop import (
    ADVERSARIAL_SCALE_WARNING,
    EpochRecord,
    FitResult,
    fit_model,
    predict_logits,
    resolve_device,
)
from ..training.members import MemberStore, data_fingerprint, keep_member, reuse_member
from ..training.objective import balanced_weights, dev_score
from ..training.resume import RESUME_DIR, REUSED, has_train_state, member_resume_dir
from .labels import (
    encode_label_sets,
    label_matrix,
    multi_label_classes,
    predicted_labels,
    predictions,
    tune_thresholds,
)

log = logging.getLogger(__name__)


class NotFittedError(TextCNNError, sklearn.exceptions.NotFittedError):
    """The estimator was used before `fit` or `load` (scikit-learn's checks and `except` clauses catch it too)."""


def store_params(estimator: Any, params: dict[str, Any]) -> None:
    """`__init__`'s body: keep every argument unchanged, as scikit-learn's `get_params`/`clone` expect."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def require_resume_state(run_dir: Path | None) -> None:
    """A run directory to resume must hold a committed resume state."""
    if run_dir is None or not has_train_state(run_dir / RESUME_DIR):
        raise CheckpointError(f"{run_dir} holds no resume state ({RESUME_DIR}/state.json); nothing to resume")


class CNNClassifierBase(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier plumbing and the fit skeleton; subclasses add their task's data and model hooks."""

    TASK: ClassVar[str]
    LEARNED: ClassVar[frozenset[str]] = frozenset()  # config fields fit sets from the data, not parameters

    # ---- parameters ↔ configs ----
    @classmethod
    def configs(cls) -> dict[str, type]:
        """The config class of each section ("model", "data", "train") of this task."""
        return TASKS[cls.TASK]

    @classmethod
    def config_fields(cls) -> list[dataclasses.Field]:
        """Every parameter's config field, in section order."""
        return [f for config in cls.configs().values() for f in dataclasses.fields(config) if f.name not in cls.LEARNED]

    def config(self, section: str, **learned: Any) -> Any:
        """The `section` config these parameters describe (validated there), with the `learned` fields fit adds."""
        cls = self.configs()[section]
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(cls) if f.name not in self.LEARNED}
        return cls(**values, **learned)

    def job_params(self) -> dict[str, Any]:
        """Every parameter as JSON, for a job description (`progress` is left out: the caller's choice)."""
        return {f.name: to_json(getattr(self, f.name)) for f in self.config_fields() if f.name != "progress"}

    def train_config(self) -> TrainConfig:
        """Optimisation settings: the fit loop reads these and nothing else."""
        return self.config("train")

    def _check_selection(self, data: BatchConfig, train: TrainConfig) -> None:
        if data.dev_fraction == 0 and train.needs_dev:
            raise ConfigError("dev_fraction 0 holds out no dev set, but the kept epoch, patience or the plateau "
                              "schedule need one; set selection='last' (and no patience or plateau) or a "
                              "dev_fraction such as 0.1")

    # ---- classes ----
    def _set_classes(self, y: Sequence[Any], label_names: Sequence[Any] | None) -> None:
        """`classes_` in the given order, else the sorted distinct labels; at least two are needed."""
        if self.multi_label:
            self.classes_ = multi_label_classes(y, label_names)
        else:
            self.classes_ = np.asarray(label_names if label_names is not None else np.unique(np.asarray(y)))
        if len(self.classes_) < 2:
            raise DataError(f"training needs at least two classes; got {list(self.classes_)}")

    def _encode_labels(self, y: Sequence[Any], n: int) -> list[int] | list[tuple[int, ...]]:
        """Class indices of `y` (multi-label: index tuples), checked against `classes_` and the `n` inputs."""
        if self.multi_label:
            return encode_label_sets(y, self.classes_, n)
        y = list(y)
        if len(y) != n:
            raise DataError(f"got {n} inputs but {len(y)} labels")
        index = {str(c): i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(v) for v in y} - set(index))
        if unknown:
            raise DataError(f"labels {unknown[:5]} are not among the classes {list(index)}")
        return [index[str(v)] for v in y]

    # ---- the fit skeleton ----
    def fit(
        self, X: Any, y: Sequence[Any], *, dev: tuple[Any, Sequence[Any]] | None = None,
        label_names: Sequence[Any] | None = None, checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False, on_epoch: Callable[[EpochRecord], None] | None = None,
        member_store: str | os.PathLike | None = None,
    ) -> CNNClassifierBase:
        """Train on inputs `X` with labels `y`; `dev` for early stopping (else `dev_fraction` of train is held out).

        `label_names` fixes the class order (e.g. a dataset's); by default it is the sorted labels.
        `checkpoint_dir`: a run directory (made if missing); config and labels (and the vocabulary) are written there
        before training and the per-epoch resume state into its `resume/` folder. With `resume`, training continues
        after the last finished epoch saved there (same data needed; other settings are refused, naming the first).
        `on_epoch`: called with every finished epoch's record (`textcnn.training.loop.EpochRecord`; an ensemble's
        members each count their own epochs from 1); an exception it raises stops training and propagates.
        `member_store`: a folder of finished models by seed (`textcnn.training.members`; needs `checkpoint_dir`): a
        member (or the single model) whose seed was trained there on the same data with the same settings is taken
        from it instead of trained, and every model this fit trains is added to it.
        """
        data_cfg, train_cfg = self.config("data"), self.config("train")
        self._check_selection(data_cfg, train_cfg)
        inputs = self._check_inputs(X)
        self._set_classes(y, label_names)
        train = self._dataset(inputs, self._encode_labels(y, len(inputs)))
        if dev is not None:
            dev_inputs = self._check_inputs(dev[0])
            dev_set = self._dataset(dev_inputs, self._encode_labels(dev[1], len(dev_inputs)))
        elif data_cfg.dev_fraction > 0:
            train, dev_set = self._split_off_dev(train, data_cfg.dev_fraction, train_cfg.seed)
        else:
            dev_set = None
        run_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        store = None
        if member_store is not None:
            if run_dir is None:
                raise ConfigError("member_store needs checkpoint_dir: members are trained and taken in its resume "
                                  "folder")
            if distributed.launched_world_size() > 1:
                raise ConfigError("member_store works in one process; under torchrun every rank would copy members")
            held_out = train_cfg.seed if dev is None and data_cfg.dev_fraction > 0 else None  # the split's seed
            store = MemberStore(Path(member_store), data_fingerprint([inputs, y, dev_inputs if dev else None,
                                                                      dev[1] if dev else None, held_out,
                                                                      [str(c) for c in self.classes_]]))
        prepared = self._build(train, run_dir, resume)
        return self._fit_module(self._batches(prepared, shuffle=True), self._dev_batches(dev_set), run_dir, resume,
                                on_epoch, store)

    def _fit_module(self, train: Any, dev: Any, run_dir: Path | None, resume: bool,
                    on_epoch: Callable[[EpochRecord], None] | None = None,
                    store: MemberStore | None = None) -> CNNClassifierBase:
        """Train `module_` with the fit loop, keeping its resume state in `run_dir`/resume; then set thresholds."""
        config = self.train_config()
        self.class_weights_ = None
        if config.class_weight == "balanced":  # from the training labels (N,) or (N, K): `train.labels`
            self.class_weights_ = balanced_weights(train.labels.cpu().numpy(), len(self.classes_),
                                                   [str(c) for c in self.classes_], config.multi_label)
        self.thresholds_ = None
        resume_dir = None if run_dir is None else self._prepare_checkpoint(run_dir, resume)
        if store is not None:
            store = dataclasses.replace(store, settings=member_settings(self._description()))
        if config.ensemble == 1:
            self.fit_result_: FitResult = self._fit_member(self.module_, train, config, dev, resume_dir, resume,
                                                           on_epoch, store)
        else:
            self.fit_result_ = self._fit_ensemble(train, config, dev, resume_dir, resume, on_epoch, store)
        self.device_ = next(self.module_.parameters()).device
        if config.multi_label:
            self.thresholds_ = self._fitted_thresholds(config, dev)
        self._after_fit()
        return self

    def _fit_ensemble(self, train: Any, config: TrainConfig, dev: tuple[Any, torch.Tensor] | None,
                      resume_dir: Path | None, resume: bool,
                      on_epoch: Callable[[EpochRecord], None] | None = None,
                      store: MemberStore | None = None) -> FitResult:
        """Train `config.ensemble` members (seeds seed, seed+1, ...) one after another, then average them.

        Member 0 is `module_` as `_build` made it; its resume state is `resume_dir` itself, member i's is
        `resume_dir`/member<i>, so an interrupted ensemble resumes at the member and epoch it had reached. The
        result's history and best epoch are member 0's; its dev accuracy and score are the ensemble's.
        """
        members, results = [], []
        for i in range(config.ensemble):
            member = self.module_ if i == 0 else self._member(self.seed + i)
            folder = None if resume_dir is None else member_resume_dir(resume_dir, i)
            log.info("ensemble member %d/%d (seed %d)", i + 1, config.ensemble, config.seed + i)
            with warnings.catch_warnings():
                if i > 0:  # the same data and settings: the first member has said it
                    warnings.filterwarnings("ignore", message=ADVERSARIAL_SCALE_WARNING)
                results.append(self._fit_member(member, train, dataclasses.replace(config, seed=config.seed + i),
                                                dev, folder, resume, on_epoch, store))
            members.append(member)
        self.module_ = ProbabilityAverage(members, config.multi_label)
        dev_acc, score = (None, None) if dev is None else self._dev_scores(config, dev)
        first = results[0]
        return FitResult(first.history, first.best_epoch, dev_acc, score, members=results)

    def _fit_member(self, member: torch.nn.Module, train: Any, config: TrainConfig, dev: Any, folder: Path | None,
                    resume: bool, on_epoch: Callable[[EpochRecord], None] | None,
                    store: MemberStore | None) -> FitResult:
        """Train one model on `config.seed` with its resume state in `folder`: resumed when `resume` finds a state
        there, else taken from `store` when kept there, else trained afresh; a store then keeps it."""
        resumed = resume and folder is not None and has_train_state(folder)
        if folder is not None and not resumed:
            (folder / REUSED).unlink(missing_ok=True)  # what is trained now is this run's own
        if store is not None and not resumed:
            resumed = reuse_member(store.folder, config.seed, folder, store.identity)
            if resumed:
                log.info("seed %d: taken from the member store %s", config.seed, store.folder)
        result = fit_model(member, train, config, dev=dev, resume_dir=folder, resume=resumed,
                           class_weights=self.class_weights_, on_epoch=on_epoch)
        if store is not None:
            keep_member(folder, store.folder, config.seed, store.identity)
        return dataclasses.replace(result, reused=folder is not None and (folder / REUSED).is_file())

    def _dev_scores(self, config: TrainConfig, dev: tuple[Any, torch.Tensor]) -> tuple[float, float]:
        batches, labels = dev
        logits = predict_logits(self.module_, batches, next(self.module_.parameters()).device)  # (N, K)
        return dev_score(logits, labels, config.multi_label, config.dev_metric)

    def _fitted_thresholds(self, config: TrainConfig, dev: tuple[Any, torch.Tensor] | None) -> np.ndarray:
        """The multi-label thresholds: `threshold` for every label, or each label's best on dev ("tune")."""
        if config.threshold != THRESHOLD_TUNE:
            return np.full(len(self.classes_), float(config.threshold))
        batches, labels = dev  # needs_dev made sure there is a dev set
        probs = torch.sigmoid(predict_logits(self.module_, batches, self.device_)).numpy()
        return tune_thresholds(probs, labels.cpu().numpy())

    def _prepare_checkpoint(self, run_dir: Path, resume: bool) -> Path:
        """The resume folder of `run_dir`: described for a fresh run, checked against this run when resuming."""
        if resume:
            require_resume_state(run_dir)
            check_resumable(run_dir, self._description(), list(self.classes_))
        elif distributed.is_primary():
            run_dir.mkdir(parents=True, exist_ok=True)
            self._save_files(run_dir)  # first, so that a resumed run rebuilds this very model
        return run_dir / RESUME_DIR

    # ---- persistence ----
    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write a run directory: safetensors weights, config.json (every parameter), labels (and vocabulary)."""
        self._check_fitted()
        run_dir = prepare_run_dir(path, force)
        self._save_files(run_dir)
        return run_dir

    def _save_files(self, run_dir: Path) -> None:
        save_run(run_dir, self.module_, self._description(), list(self.classes_), getattr(self, "vocab_", None))
        write_model_card(run_dir)

    def _description(self) -> dict[str, Any]:
        """config.json's contents: every section config, and what training fixed."""
        model, fitted = self._model_description()
        trained = {key: getattr(self, f"{key}_").tolist() for key in ("class_weights", "thresholds")
                   if getattr(self, f"{key}_", None) is not None}
        return describe_run(self.TASK, {"model": model, "data": self.config("data"), "train": self.train_config()},
                            fitted, trained)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None, **overrides: Any) -> CNNClassifierBase:
        """Rebuild a classifier from a run directory written by `save` (nothing is unpickled).

        Its parameters are those it was saved with; `device` and other `overrides` (e.g. `max_tokens`) replace them.
        """
        saved = load_run(path, task=cls.TASK)
        params = {f.name: getattr(getattr(saved, f"{section}_config"), f.name)
                  for section, config in cls.configs().items() for f in dataclasses.fields(config)
                  if f.name not in cls.LEARNED}
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            raise ConfigError(f"unknown parameters {unknown}; valid: {', '.join(params)}")
        clf = cls(**{**params, **overrides, **({} if device is None else {"device": device})})
        clf.classes_ = np.asarray(saved.label_names)
        weights, thresholds = saved.trained.get("class_weights"), saved.thresholds
        clf.class_weights_ = None if weights is None else torch.tensor(weights)
        clf.thresholds_ = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        clf.device_ = resolve_device(clf.device)
        clf.module_ = clf._restore(saved, str(path)).to(clf.device_).eval()
        return clf

    @classmethod
    def from_pretrained(
        cls, path_or_repo_id: str | os.PathLike, *, revision: str | None = None,
        cache_dir: str | os.PathLike | None = None, token: str | None = None, local_files_only: bool = False,
        device: str | None = None, **overrides: Any,
    ) -> CNNClassifierBase:
        """`load` a local run directory, or a Hugging Face Hub repo id (`owner/name`) through its cached snapshot."""
        run_dir = resolve_run(path_or_repo_id, revision=revision, cache_dir=cache_dir, token=token,
                              local_files_only=local_files_only)
        return cls.load(run_dir, device=device, **overrides)

    def push_to_hub(self, repo_id: str, *, private: bool = False, token: str | None = None,
                    commit_message: str = "Upload textcnn model") -> str:
        """Save this model (with its model card) and upload it as the Hub model repo `repo_id`; the commit URL.

        To publish a job's run directory with its metrics and job.json, use `textcnn.storage.hub.upload_run`.
        """
        self._check_fitted()
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = self.save(Path(tmp) / repo_id.split("/")[-1])
            return upload_run(run_dir, repo_id, private=private, token=token, commit_message=commit_message)

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            name = type(self).__name__
            raise NotFittedError(f"this {name} is not fitted yet; call fit(...) or {name}.load(dir)")

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each input; multi-label: the 0/1 indicator matrix (n, K) of `classes_`."""
        return predictions(self.predict_proba(X), self.classes_, self.multi_label, getattr(self, "thresholds_", None))

    def predict_labels(self, X: Any) -> list[list[Any]]:
        """The label names of each input, most probable first: those above their thresholds (multi-label), or
        the predicted class alone."""
        return predicted_labels(self.predict_proba(X), self.classes_.tolist(), self.multi_label,
                                getattr(self, "thresholds_", None))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy on (X, y); multi-label: subset accuracy (every label right), as scikit-learn scores it."""
        from sklearn.metrics import accuracy_score

        if not self.multi_label:
            return super().score(X, y, sample_weight)
        self._check_fitted()
        inputs = self._check_inputs(X)
        truth = label_matrix(encode_label_sets(y, self.classes_, len(inputs)), len(self.classes_))
        return float(accuracy_score(truth, self.predict(inputs), sample_weight=sample_weight))

    # ---- per task ----
    def _check_inputs(self, X: Any) -> Any:
        """`X` validated and in the form the task's dataset holds."""
        raise NotImplementedError

    def _dataset(self, inputs: Any, labels: list[int]) -> Any:
        """A dataset of `inputs` and class indices, named by `classes_`."""
        raise NotImplementedError

    def _split_off_dev(self, train: Any, fraction: float, seed: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def _build(self, train: Any, run_dir: Path | None, resume: bool) -> Any:
        """Set `module_` (and what the task needs to feed it) for `train`, rebuilt from `run_dir` when resuming.

        Returns `train` in the form `_batches` takes (e.g. tokenised once).
        """
        raise NotImplementedError

    def _batches(self, prepared: Any, shuffle: bool) -> Any:
        """Mini-batches of the prepared training data for the fit loop."""
        raise NotImplementedError

    def _dev_batches(self, dev: Any) -> tuple[Any, torch.Tensor] | None:
        """(batches without labels, labels) of the dev set, or None."""
        raise NotImplementedError

    def _model_description(self) -> tuple[Any, dict[str, Any]]:
        """(the "model" section's config, what training fixed beyond it)."""
        raise NotImplementedError

    def _after_fit(self) -> None:
        """Drop what only training needed (e.g. loaded vectors)."""

    def _member(self, seed: int) -> torch.nn.Module:
        """A fresh model for ensemble member `seed` (initialised as `_build` initialises one for that seed)."""
        raise NotImplementedError

    def _restore(self, saved: SavedRun, source: str) -> torch.nn.Module:
        """The saved module with its weights, and what the task needs to feed it (`vocab_`, `config_`, ...)."""
        raise NotImplementedError
