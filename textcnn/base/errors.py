"""The exception hierarchy: every error textcnn raises on purpose derives from TextCNNError."""

from __future__ import annotations

from typing import Any


class TextCNNError(Exception):
    """Base of all errors textcnn raises for bad input, data, vectors or checkpoints."""


class ConfigError(TextCNNError, ValueError):
    """A configuration value is invalid."""


class DataError(TextCNNError, ValueError):
    """A dataset or input text cannot be used."""


class VectorsError(TextCNNError):
    """A word-vectors file is missing or not in a known format."""


class CheckpointError(TextCNNError):
    """A run directory is missing, corrupt or does not match this version."""


class TrainingError(TextCNNError):
    """Training cannot go on (e.g. the loss became non-finite); the last good resume state is kept."""


class TrainingInterrupted(TrainingError):
    """SIGINT/SIGTERM stopped training after the current step; the run can be resumed."""


def __getattr__(name: str) -> Any:
    """`NotFittedError`, built on first use (PEP 562 module `__getattr__`).

    Lazy scikit-learn (start-up): the class also derives from sklearn's NotFittedError, so that sklearn's own
    checks and `except sklearn.exceptions.NotFittedError` catch it, but importing scikit-learn takes ~1.2 s,
    most of `textcnn predict`'s start-up; so sklearn is imported only when the class is first asked for.
    """
    if name != "NotFittedError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global NotFittedError
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

    class NotFittedError(TextCNNError, _SklearnNotFittedError):
        """The estimator was used before `fit` or `load`."""

    return NotFittedError
