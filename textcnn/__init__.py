"""textcnn: convolutional networks for sentence classification (Kim 2014).

The public API is listed below; names are imported on first use so that `textcnn --help` starts
without loading torch, gensim or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "TextCNNClassifier": "textcnn.classifier",
    "TextCNN": "textcnn.text",
    "TextCNNConfig": "textcnn.config",
    "DataConfig": "textcnn.config",
    "TrainConfig": "textcnn.config",
    "PRESETS": "textcnn.config",
    "Tokenizer": "textcnn.tokenizer",
    "Vocabulary": "textcnn.tokenizer",
    "load_vectors": "textcnn.embeddings",
    "fit_model": "textcnn.train",
    "TextCNNError": "textcnn.errors",
    "ConfigError": "textcnn.errors",
    "DataError": "textcnn.errors",
    "VectorsError": "textcnn.errors",
    "CheckpointError": "textcnn.errors",
    "NotFittedError": "textcnn.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'textcnn' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
