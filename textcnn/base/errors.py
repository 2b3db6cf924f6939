"""The exception hierarchy: every error textcnn raises on purpose derives from TextCNNError.

`NotFittedError` (also scikit-learn's NotFittedError) lives with the estimators, in `textcnn.estimators.base`,
so that what imports this module never imports scikit-learn.
"""

from __future__ import annotations


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
