"""Fixtures of the benchmark tests."""

from pathlib import Path

import pytest


@pytest.fixture
def tiny_saved_model(tmp_path: Path, corpus: tuple[list[str], list[str]]) -> Path:
    """A one-epoch 8-d `rand` model trained on conftest's corpus, saved to tmp_path/model."""
    from textcnn.estimators.text import TextCNNClassifier

    model = tmp_path / "model"
    TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, epochs=1, device="cpu").fit(*corpus).save(model)
    return model
