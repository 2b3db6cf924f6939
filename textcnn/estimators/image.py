"""ImageCNNClassifier: the image sibling of TextCNNClassifier, a scikit-learn estimator over image arrays.

Same trainer (`fit_model`), same run-directory format (`model.safetensors` + `config.json` with
`"task": "image"` + `labels.json` + `metrics.json`), read and written with `textcnn.storage.rundir`'s functions.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base.atomic import read_json, write_json
from ..base.config import TrainConfig, config_from_dict, config_to_dict
from ..base.errors import CheckpointError, ConfigError, DataError
from ..base.version import __version__
from ..data.images import (
    ImageBatches,
    ImageDataset,
    read_image,
    split_off_dev,
)
from ..models.image import ImageCNN, ImageCNNConfig, build_model
from ..models.weights import load_weights_into
from ..storage.rundir import (
    CONFIG,
    FORMAT_VERSION,
    LABELS,
    load_weights,
    prepare_run_dir,
    save_weights,
)
from ..training.loop import FitResult, fit_model, predict_logits, resolve_device
from ..training.resume import RESUME_DIR, has_train_state
from .base import CNNClassifierBase
from .predictor import prediction_records

log = logging.getLogger(__name__)

TASK = "image"
PREDICT_BATCH_SIZE = 512
JOB, CURVE = "job.json", "training_curve.png"  # the same names as text runs (textcnn.jobs.text)


class ImageCNNClassifier(CNNClassifierBase):
    """An image CNN from `textcnn.models.image.MODELS` with the scikit-learn API: fit, predict, predict_proba, score.

    `X` is a float array (N, C, H, W) or (N, H, W) with pixels in [0, 1]; H must equal W.
    """

    def __init__(
        self, *, model: str = "digits-cnn", optimizer: str = "adam", lr: float | None = None, momentum: float = 0.9,
        batch_size: int = 16, epochs: int = 60, patience: int | None = None, lr_schedule: str = "none",
        lr_factor: float = 0.5, lr_patience: int = 5, dev_fraction: float = 0.1, augment: bool = False, seed: int = 0,
        device: str = "auto", deterministic: bool = False, dry_run: bool = False, progress: bool = False,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.dev_fraction = dev_fraction
        self.augment = augment
        self.seed = seed
        self.device = device
        self.deterministic = deterministic
        self.dry_run = dry_run
        self.progress = progress

    def model_config(self, images: np.ndarray) -> ImageCNNConfig:
        """The architecture for images shaped like `images` (N, C, H, W)."""
        return ImageCNNConfig(model=self.model, in_channels=images.shape[1], image_size=images.shape[2])

    def train_config(self) -> TrainConfig:
        """Optimisation settings (the text trainer's own config)."""
        return TrainConfig(
            optimizer=self.optimizer, lr=self.lr, momentum=self.momentum, batch_size=self.batch_size,
            epochs=self.epochs, patience=self.patience, lr_schedule=self.lr_schedule, lr_factor=self.lr_factor,
            lr_patience=self.lr_patience, dev_fraction=self.dev_fraction, seed=self.seed, device=self.device,
            deterministic=self.deterministic, dry_run=self.dry_run,
        )

    # ---- training ----
    def fit(self, X: Any, y: Sequence[Any], *, dev: tuple[Any, Sequence[Any]] | None = None,
            label_names: Sequence[Any] | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False) -> ImageCNNClassifier:
        """Train on images `X` with labels `y`; `dev` for early stopping (else `dev_fraction` of train is held out).

        `checkpoint_dir`: config and labels are written there before training and the per-epoch resume state
        into its `resume/` folder. With `resume`, training continues after the last finished epoch saved there
        (same X, y, dev and settings needed; a different config or label set is refused).
        """
        images, train_cfg = _check_images(X), self.train_config()
        self._set_classes(y, label_names)
        self.config_ = self.model_config(images)
        labels = np.asarray(self._encode_labels(y, len(images)), dtype=np.int64)
        train = ImageDataset(images, labels, [str(c) for c in self.classes_])
        if dev is None:
            train, dev_set = split_off_dev(train, train_cfg.dev_fraction, train_cfg.seed)
        else:
            dev_images = _check_images(dev[0])
            dev_labels = np.asarray(self._encode_labels(dev[1], len(dev_images)), dtype=np.int64)
            dev_set = ImageDataset(dev_images, dev_labels, train.label_names)
        torch.manual_seed(train_cfg.seed)  # the same initial weights for the same seed
        self.module_: ImageCNN = build_model(self.config_, len(self.classes_))
        resume_dir = None if checkpoint_dir is None else self._prepare_checkpoint(Path(checkpoint_dir), resume)
        batches = ImageBatches(train.images, train.labels, train_cfg.batch_size, shuffle=True, augment=self.augment)
        dev_batches = ImageBatches(dev_set.images, None, PREDICT_BATCH_SIZE), torch.from_numpy(dev_set.labels)
        self.fit_result_: FitResult = fit_model(self.module_, batches, train_cfg, dev=dev_batches,
                                                progress=self.progress, resume_dir=resume_dir, resume=resume)
        self.device_ = next(self.module_.parameters()).device
        return self

    # ---- prediction ----
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_images, n_classes); rows sum to 1. Batch-norm uses its running stats."""
        self._check_fitted()
        images = _check_images(X)
        expected = (self.config_.in_channels, self.config_.image_size, self.config_.image_size)
        if images.shape[1:] != expected:
            raise DataError(f"images have shape {images.shape[1:]} (C, H, W); this model takes {expected}")
        logits = predict_logits(self.module_, ImageBatches(images, None, PREDICT_BATCH_SIZE), self.device_)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def predict_files(self, paths: Sequence[str | os.PathLike], top_k: int | None = None) -> list[dict[str, Any]]:
        """One record per image file: file, label, probability and the `top_k` most probable classes."""
        self._check_fitted()
        mode = "L" if self.config_.in_channels == 1 else "RGB"
        probs = self.predict_proba(np.stack([read_image(p, mode) for p in paths]) if paths else np.empty((0,)))
        return prediction_records("file", [str(p) for p in paths], probs, self.classes_, top_k)

    # ---- persistence ----
    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write a run directory: safetensors weights, config.json (task "image"), labels.json."""
        self._check_fitted()
        run_dir = prepare_run_dir(path, force)
        save_weights(run_dir, self.module_)
        self._write_description(run_dir)
        return run_dir

    def _description(self) -> tuple[dict[str, Any], list[Any]]:
        """config.json's and labels.json's contents."""
        config = {"format_version": FORMAT_VERSION, "textcnn_version": __version__, "task": TASK,
                  "model": config_to_dict(self.config_), "train": config_to_dict(self.train_config())}
        return config, [c.item() if hasattr(c, "item") else c for c in self.classes_]

    def _write_description(self, run_dir: Path) -> None:
        config, labels = self._description()
        write_json(run_dir / CONFIG, config)
        write_json(run_dir / LABELS, labels)

    def _prepare_checkpoint(self, run_dir: Path, resume: bool) -> Path:
        """The resume folder of `run_dir`: described for a fresh run, checked against this run when resuming."""
        if not resume:
            self._write_description(prepare_run_dir(run_dir, force=True))
            return run_dir / RESUME_DIR
        if not has_train_state(run_dir / RESUME_DIR):
            raise CheckpointError(f"{run_dir} holds no resume state ({RESUME_DIR}/state.json); nothing to resume")
        config, labels = json.loads(json.dumps(self._description()))  # tuples become lists, as in the files
        saved = read_json(run_dir / CONFIG)
        if not isinstance(saved, dict) or _settings(saved) != _settings(config):
            raise ConfigError(f"{run_dir / CONFIG} was written by a run with other settings; resume with the same "
                              "model and training settings")
        if read_json(run_dir / LABELS) != labels:
            raise DataError(f"the labels of {run_dir} differ from this data's {labels}; resume with the same data")
        return run_dir / RESUME_DIR

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> ImageCNNClassifier:
        """Rebuild a classifier from a run directory written by `save` (nothing is unpickled)."""
        run_dir = Path(path)
        if not run_dir.is_dir():
            raise CheckpointError(f"model directory {run_dir} not found; train one with `textcnn train-image`")
        config = read_json(run_dir / CONFIG)
        if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{run_dir / CONFIG} is not a textcnn run of format version {FORMAT_VERSION}")
        if config.get("task") != TASK:
            raise CheckpointError(f"{run_dir} holds a text model; use `textcnn predict`, or pass an image run")
        try:
            model_cfg = config_from_dict(ImageCNNConfig, config["model"])
            t = config_from_dict(TrainConfig, config["train"])
        except (KeyError, TypeError, ConfigError) as err:
            raise CheckpointError(f"{run_dir / CONFIG} is not a valid image config: {err}") from err
        labels = read_json(run_dir / LABELS)
        if not isinstance(labels, list) or len(labels) < 2:
            raise CheckpointError(f"{run_dir / LABELS} must list at least two label names")
        clf = cls(model=model_cfg.model, optimizer=t.optimizer, lr=t.lr, momentum=t.momentum,
                  batch_size=t.batch_size, epochs=t.epochs, patience=t.patience, lr_schedule=t.lr_schedule,
                  lr_factor=t.lr_factor, lr_patience=t.lr_patience, dev_fraction=t.dev_fraction, seed=t.seed,
                  device=device, deterministic=t.deterministic)
        clf.config_, clf.classes_ = model_cfg, np.asarray(labels)
        module = build_model(model_cfg, len(labels))
        load_weights_into(module, load_weights(run_dir), str(run_dir))
        clf.device_ = resolve_device(device)
        clf.module_ = module.to(clf.device_).eval()
        return clf


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote `config`: model and training settings but the device."""
    train = {k: v for k, v in (config.get("train") or {}).items() if k != "device"}
    return {"model": config.get("model"), "train": train}


def _check_images(X: Any) -> np.ndarray:
    """Images as float32 (N, C, H, W); (N, H, W) gains a channel axis."""
    images = np.asarray(X, dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[2] != images.shape[3]:
        raise DataError(f"expected square images shaped (N, C, H, W) or (N, H, W); got {images.shape}")
    if not np.isfinite(images).all():
        raise DataError("images contain NaN or infinite pixels")
    return images


