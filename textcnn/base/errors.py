"""The exception hierarchy: every error textcnn raises on purpose derives from TextCNNError.

`NotFittedError` (also scikit-learn's NotFittedError) lives with the estimators, in `textcnn.estimators.base`,
so that what imports this module never imports scikit-learn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


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


def one_line(err: BaseException) -> str | None:
    """The one-line message a command prints for a user error (textcnn's own, or input that is not UTF-8);
    None for anything else, which is a bug and should keep its traceback."""
    if isinstance(err, TextCNNError):
        return f"error: {err}"
    if isinstance(err, UnicodeDecodeError):
        return f"error: input is not valid UTF-8 (byte {err.start}); convert it to UTF-8"
    return None


@contextmanager
def exit_on_user_error(code: int = 2) -> Iterator[None]:
    """Inside: a user error (see `one_line`) prints its one line on stderr and exits with `code`; the textcnn
    command and every benchmark script run their work inside this."""
    try:
        yield
    except (TextCNNError, UnicodeDecodeError) as err:
        print(one_line(err), file=sys.stderr)
        sys.exit(code)
