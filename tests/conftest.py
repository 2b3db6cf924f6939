"""Shared fixtures: a 20-sentence corpus and gensim's bundled GloVe test vectors. Nothing is downloaded."""

import logging

import pytest
from gensim.test.utils import datapath

POSITIVE = [
    "a wonderful , moving film",
    "brilliant acting and a great story",
    "i loved every minute of it",
    "funny , warm and wonderful",
    "a great , brilliant cast",
    "the best film of the year",
    "moving and beautifully made",
    "loved the wonderful music",
    "great fun from start to end",
    "a brilliant and funny script",
]
NEGATIVE = [
    "a boring , awful film",
    "terrible acting and a dull story",
    "i hated every minute of it",
    "dull , slow and boring",
    "an awful , terrible cast",
    "the worst film of the year",
    "boring and badly made",
    "hated the awful music",
    "dull from start to end",
    "a terrible and boring script",
]


@pytest.fixture
def corpus() -> tuple[list[str], list[str]]:
    """Twenty short sentences with labels "pos"/"neg"."""
    return POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)


@pytest.fixture
def glove_path() -> str:
    """gensim's headerless GloVe test file (50-d vectors for common English words)."""
    return datapath("test_glove.txt")


@pytest.fixture(autouse=True)
def _quiet_textcnn_logs(caplog):
    caplog.set_level(logging.INFO, logger="textcnn")


@pytest.fixture(autouse=True, scope="module")
def _restore_textcnn_logger():
    """The CLI's `main` reconfigures the "textcnn" logger (own handler, no propagation); undo that per module."""
    logger = logging.getLogger("textcnn")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
