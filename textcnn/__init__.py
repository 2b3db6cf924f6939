"""textcnn: convolutional networks for sentence classification (Kim 2014).

The public API is listed below; names are imported on first use so that `textcnn --help` starts
without loading torch, gensim or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base.version import __version__

_PUBLIC = {
    "TextCNNClassifier": "textcnn.estimators.text",
    "ImageCNNClassifier": "textcnn.estimators.image",
    "TextPredictor": "textcnn.estimators.predictor",
    "TextCNN": "textcnn.models.text",
    "ImageCNNConfig": "textcnn.models.image",
    "TextCNNConfig": "textcnn.base.config",
    "DataConfig": "textcnn.base.config",
    "TrainConfig": "textcnn.base.config",
    "PRESETS": "textcnn.base.config",
    "RECIPES": "textcnn.base.config",
    "recipe_params": "textcnn.base.config",
    "Tokenizer": "textcnn.data.tokenizer",
    "Vocabulary": "textcnn.data.tokenizer",
    "load_vectors": "textcnn.data.embeddings",
    "ImageDataset": "textcnn.data.images",
    "load_digits_splits": "textcnn.data.images",
    "load_image_dataset": "textcnn.data.images",
    "load_idx_folder": "textcnn.data.images",
    "load_png_folder": "textcnn.data.images",
    "fit_model": "textcnn.training.loop",
    "TextCNNError": "textcnn.base.errors",
    "ConfigError": "textcnn.base.errors",
    "DataError": "textcnn.base.errors",
    "VectorsError": "textcnn.base.errors",
    "CheckpointError": "textcnn.base.errors",
    "NotFittedError": "textcnn.estimators.base",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'textcnn' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
