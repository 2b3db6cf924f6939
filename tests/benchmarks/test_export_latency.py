"""The export_latency benchmark: its statistics, and a short run on a tiny model that writes the whole table."""

import re

import numpy as np
import pytest

from benchmarks import export_latency
from benchmarks.export_latency import COLUMNS, load_sentences, summarize

pytest.importorskip("onnxruntime")


def test_summary_is_median_and_p90_in_ms():
    stats = summarize([0.001 * k for k in range(1, 101)])  # 1 … 100 ms
    assert stats["median_ms"] == pytest.approx(50.5)
    assert stats["p90_ms"] == pytest.approx(np.percentile(np.arange(1, 101), 90))


def test_the_demo_sentences_are_repeated_to_the_batch():
    sentences = load_sentences(256)
    assert len(sentences) == 256 and sentences[0] == sentences[len(set(sentences))]


def test_a_missing_model_says_to_train_first(tmp_path):
    with pytest.raises(SystemExit, match="python cli.py train"):
        export_latency.main(["--model", str(tmp_path / "none"), "--out", str(tmp_path / "t.md")])


def test_a_short_run_writes_both_batch_sizes_for_both_runtimes(tmp_path, tiny_saved_model):
    model = tiny_saved_model
    out = tmp_path / "onnx.md"
    export_latency.main(["--model", str(model), "--repeats", "3", "--warmup", "1", "--note", "test run.",
                         "--out", str(out)])
    text = out.read_text()
    rows = [line.strip("| ").split(" | ") for line in text.splitlines() if line.startswith("| 1") or
            line.startswith("| 256")]
    assert [(row[0], row[1]) for row in rows] == [
        ("1", "PyTorch"), ("1", "onnxruntime"), ("256", "PyTorch"), ("256", "onnxruntime")]
    for row in rows:
        assert len(row) == len(COLUMNS) and all(float(x) > 0 for x in row[2:])
    assert "Threads: 1 intra-op" in text and "Machine: " in text and "test run." in text
    gaps = [float(x) for x in re.findall(r"batch \d+: ([0-9.e+-]+\d)", text)]
    assert len(gaps) == 2 and max(gaps) <= 1e-5
