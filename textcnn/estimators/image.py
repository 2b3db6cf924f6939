"""ImageCNNClassifier: the image sibling of TextCNNClassifier, a scikit-learn estimator over image arrays.

Same fit skeleton, trainer and run-directory format as the text estimator (`CNNClassifierBase`); only the data and
the model differ.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base.errors import ConfigError, DataError
from ..data.images import ImageBatches, ImageDataset, read_image, split_off_dev
from ..models.ensemble import ProbabilityAverage
from ..models.image import ImageCNN, ImageCNNConfig, build_model
from ..models.weights import load_weights_into
from ..storage.rundir import SavedRun
from ..training.loop import predict_logits
from .base import CNNClassifierBase, store_params
from .predictor import prediction_records

PREDICT_BATCH_SIZE = 512


class ImageCNNClassifier(CNNClassifierBase):
    """An image CNN from `textcnn.models.image.MODELS` with the scikit-learn API: fit, predict, predict_proba, score.

    `X` is a float array (N, C, H, W) or (N, H, W) with pixels in [0, 1]; H must equal W. Every parameter is a
    field of ImageCNNConfig ("model"; its input shape comes from the data), ImageDataConfig ("data") or
    TrainConfig ("train"); the defaults differ from TrainConfig's only in optimizer (adam) and epochs (60).
    """

    TASK = "image"
    LEARNED = frozenset({"in_channels", "image_size"})

    def __init__(
        self, *,
        # model (ImageCNNConfig)
        model: str = "digits-cnn", init: str = "torch", bn_momentum: float = 0.1, bn_eps: float = 1e-5,
        # data (ImageDataConfig)
        batch_size: int = 16, dev_fraction: float = 0.1, augment: bool = False,
        # train (TrainConfig)
        optimizer: str = "adam", lr: float | None = None, rho: float = 0.95, eps: float = 1e-6, adam_eps: float = 1e-8,
        momentum: float = 0.9, epochs: int = 60, patience: int | None = None, lr_schedule: str = "none",
        lr_factor: float = 0.5, lr_patience: int = 5, selection: str = "auto", multi_label: bool = False,
        class_weight: str | None = None, threshold: float | str = 0.5, mixup: float = 0.0, adversarial: float = 0.0,
        ensemble: int = 1, seed: int = 0, device: str = "auto", deterministic: bool = False, bf16: bool = False,
        compile: bool = False, progress: bool = False, dry_run: bool = False, dry_run_batches: int = 3,
    ) -> None:
        store_params(self, locals())

    def model_config(self, images: np.ndarray) -> ImageCNNConfig:
        """The architecture for images shaped like `images` (N, C, H, W)."""
        return self.config("model", in_channels=images.shape[1], image_size=images.shape[2])

    # ---- the fit skeleton's hooks (CNNClassifierBase.fit) ----
    def _check_inputs(self, X: Any) -> np.ndarray:
        if self.multi_label:
            raise ConfigError("image models are single-label; multi_label=True is for TextCNNClassifier")
        return _check_images(X)

    def _dataset(self, images: np.ndarray, labels: list[int]) -> ImageDataset:
        return ImageDataset(images, np.asarray(labels, dtype=np.int64), [str(c) for c in self.classes_])

    def _split_off_dev(self, train: ImageDataset, fraction: float, seed: int) -> tuple[ImageDataset, ImageDataset]:
        return split_off_dev(train, fraction, seed)

    def _build(self, train: ImageDataset, run_dir: Path | None, resume: bool) -> ImageDataset:
        self.config_ = self.model_config(train.images)
        self.module_: ImageCNN = self._member(self.seed)  # resumed: the weights are replaced by the state
        return train

    def _member(self, seed: int) -> ImageCNN:
        torch.manual_seed(seed)  # the same initial weights for the same seed
        return build_model(self.config_, len(self.classes_))

    def _batches(self, train: ImageDataset, shuffle: bool) -> ImageBatches:
        return ImageBatches(train.images, train.labels, self.batch_size, shuffle=shuffle, augment=self.augment)

    def _dev_batches(self, dev: ImageDataset | None) -> tuple[ImageBatches, torch.Tensor] | None:
        if dev is None:
            return None
        return ImageBatches(dev.images, None, PREDICT_BATCH_SIZE), torch.from_numpy(dev.labels)

    def _model_description(self) -> tuple[ImageCNNConfig, dict[str, Any]]:
        return self.config_, {}

    def _restore(self, saved: SavedRun, source: str) -> ImageCNN:
        self.config_ = saved.model_config
        members = [build_model(self.config_, len(saved.label_names)) for _ in range(saved.train_config.ensemble)]
        module = members[0] if len(members) == 1 else ProbabilityAverage(members)
        load_weights_into(module, saved.state_dict, source)
        return module

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


