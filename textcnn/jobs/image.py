"""Image jobs behind the CLI: train an image run directory on a dataset, resume an interrupted one."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.plots import plot_history
from ..base.atomic import read_json
from ..base.errors import CheckpointError, DataError
from ..data.images import ImageDataset, load_idx_folder, load_image_dataset, load_png_folder
from ..estimators.image import ImageCNNClassifier
from ..storage.rundir import METRICS, point_latest
from ..training import distributed
from .units import CURVE, JOB, UnitState, job_directory, run_unit

IMAGE_RUNS_ROOT = Path("runs") / "image"  # runs/image/latest points at the newest image run


# ---- the job behind `textcnn train-image` ----
@dataclass(frozen=True)
class ImageSource:
    """Where `train-image` reads its images: a named dataset, PNG folders or an IDX folder (one of them)."""

    dataset: str | None = None
    train_dir: str | None = None
    test_dir: str | None = None
    idx_dir: str | None = None

    @property
    def name(self) -> str:
        return self.dataset or self.train_dir or self.idx_dir or "digits"

    def load(self) -> dict[str, ImageDataset]:
        """train (and test, when there is one)."""
        if sum(x is not None for x in (self.dataset, self.train_dir, self.idx_dir)) > 1:
            raise DataError("give only one of --dataset, --train-dir and --idx-dir")
        if self.train_dir is not None:
            splits = {"train": load_png_folder(self.train_dir)}
            if self.test_dir is not None:
                splits["test"] = load_png_folder(self.test_dir)
            return splits
        if self.test_dir is not None:
            raise DataError("--test-dir needs --train-dir")
        return load_idx_folder(self.idx_dir) if self.idx_dir is not None else load_image_dataset(self.name)


@dataclass(frozen=True)
class ImageJobConfig(ImageSource):
    """A `textcnn train-image` job beside the estimator's parameters: the images and the output."""

    out: str | None = None  # the run directory (default runs/image/<dataset>-<model>-<time>)
    force: bool = False  # overwrite an existing run directory
    resume: str | None = None  # continue this run directory; every other setting then comes from its job.json

    @property
    def source(self) -> ImageSource:
        """The image-source part of the job."""
        return ImageSource(self.dataset, self.train_dir, self.test_dir, self.idx_dir)


def run_image_job(job: ImageJobConfig, params: dict[str, Any], progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """Train (or, with `job.resume`, continue) the image job with these estimator parameters."""
    if job.resume:
        return resume_image_run(job.resume, progress=progress)
    return train_image_run(ImageCNNClassifier(progress=progress, **params), job.source, job.out, job.force)


def train_image_run(clf: ImageCNNClassifier, source: ImageSource, out: str | os.PathLike | None = None,
                    force: bool = False, *, resume: bool = False) -> tuple[Path, dict[str, Any]]:
    """Fit `clf` on the source's train split, score its test split once, save the run directory and its metrics.

    The job (source and estimator parameters) goes to `job.json` first and the state after every epoch to
    `resume/` (removed once training ends), so `resume_image_run(run_dir)` continues an interrupted run; its
    train_seconds then count the earlier processes' epochs too (`textcnn.jobs.units`).
    """
    distributed.start()  # under torchrun: the one place an image job starts the process group
    splits = source.load()
    run_dir = Path(out) if out else IMAGE_RUNS_ROOT / f"{source.name}-{clf.model}-{datetime.now():%Y%m%d-%H%M%S}"
    if resume and (run_dir / METRICS).is_file():
        raise CheckpointError(f"{run_dir} is a finished run; there is nothing to resume")
    primary = distributed.is_primary()
    job = {"source": asdict(source), "params": clf.job_params()}
    with job_directory(run_dir, job, resume=resume, force=force, primary=primary, command="textcnn train-image"):
        metrics = run_unit(run_dir / METRICS, run_dir, partial(_fit_images, clf, splits, source.name, primary),
                           resume=resume, skip_held=False, primary=primary)
    if primary and run_dir.parent.resolve() == IMAGE_RUNS_ROOT.resolve():
        point_latest(run_dir, IMAGE_RUNS_ROOT)
    return run_dir, metrics


def _fit_images(
    clf: ImageCNNClassifier, splits: dict[str, ImageDataset], name: str, primary: bool, state: UnitState,
) -> dict[str, Any]:
    """Fit and score the image model in its run directory; on the primary, save the model and training curve there."""
    train = splits["train"]
    names = np.asarray(train.label_names)
    start = time.perf_counter()
    clf.fit(train.images, names[train.labels], label_names=train.label_names, checkpoint_dir=state.folder,
            resume=state.resume)
    history = [vars(r) for r in clf.fit_result_.history]
    metrics: dict[str, Any] = {"dataset": name, "model": clf.model, "train_seconds": time.perf_counter() - start,
                               "best_epoch": clf.fit_result_.best_epoch,
                               "best_dev_acc": clf.fit_result_.best_dev_acc, "history": history}
    if "test" in splits:
        test = splits["test"]
        metrics["test_acc"] = float(clf.score(test.images, np.asarray(test.label_names)[test.labels]))
    if primary:
        clf.save(state.folder, force=True)
        plot_history(history, state.folder / CURVE, title=f"{name} {clf.model}")
    return metrics


def resume_image_run(run_dir: str | os.PathLike, progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """Continue the job of `run_dir` (see `train_image_run`) with the data and parameters it was started with."""
    job = read_json(Path(run_dir) / JOB)
    try:
        source, clf = ImageSource(**job["source"]), ImageCNNClassifier(**job["params"], progress=progress)
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{Path(run_dir) / JOB} is not a textcnn image job description: {err}") from err
    return train_image_run(clf, source, run_dir, resume=True)
