"""The exception hierarchy: every error textcnn raises on purpose derives from TextCNNError."""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


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


class NotFittedError(TextCNNError, _SklearnNotFittedError):
    """The estimator was used before `fit` or `load`."""


class TrainingError(TextCNNError):
    """Training cannot go on (e.g. the loss became non-finite); the last good resume state is kept."""


class TrainingInterrupted(TrainingError):
    """SIGINT/SIGTERM stopped training after the current step; the run can be resumed."""
