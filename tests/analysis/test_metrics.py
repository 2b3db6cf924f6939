"""Tests for textcnn.analysis.metrics."""

import pytest

from textcnn.analysis.metrics import mean_std


def test_mean_std():
    assert mean_std([1.0]) == (1.0, 0.0)
    mean, std = mean_std([1.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.41421356)
