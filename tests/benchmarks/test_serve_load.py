"""The serve_load benchmark: its statistics and table on fake latencies, and a 1-second run against a tiny model
(the `tiny_saved_model` fixture, trained on conftest's POSITIVE/NEGATIVE sentences)."""

import numpy as np
import pytest

from benchmarks import serve_load
from benchmarks.serve_load import COLUMNS, Level, format_row, summarize, table

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def test_summary_uses_successful_requests_and_numpy_percentiles():
    latencies = [0.001 * k for k in range(1, 101)]  # 1 … 100 ms
    stats = summarize(Level(clients=8, latencies_s=latencies, errors=2, elapsed_s=4.0))
    assert stats["requests_s"] == pytest.approx(25.0)
    assert stats["p50_ms"] == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert stats["p99_ms"] == pytest.approx(np.percentile(np.arange(1, 101), 99))
    assert stats["errors"] == 2


def test_a_level_without_successful_requests_has_no_latencies():
    stats = summarize(Level(clients=1, latencies_s=[], errors=3, elapsed_s=1.0))
    assert stats["requests_s"] == 0 and np.isnan(stats["p50_ms"]) and stats["errors"] == 3


def test_the_table_has_one_complete_row_per_level():
    row = format_row("off", Level(clients=32, latencies_s=[0.002, 0.004], errors=0, elapsed_s=2.0), 321.4)
    assert row == "| off | 32 | 1.0 | 3.0 | 4.0 | 0 | 321 |"
    text = table([row], "python -m benchmarks.serve_load", "some CPU", 10)
    assert "| " + " | ".join(COLUMNS) + " |" in text and row in text
    assert "Machine: some CPU" in text and "same machine" in text


def test_clients_must_be_positive_integers():
    assert serve_load.parse_clients("1,8,32") == [1, 8, 32]
    for bad in ("0", "a,b", ""):
        with pytest.raises(Exception, match="positive integers"):
            serve_load.parse_clients(bad)


def test_a_missing_model_says_to_train_first(tmp_path):
    with pytest.raises(SystemExit, match="python cli.py train"):
        serve_load.main(["--model", str(tmp_path / "none"), "--out", str(tmp_path / "t.md")])


def test_a_short_run_measures_both_modes_without_errors(tmp_path, tiny_saved_model):
    model = tiny_saved_model
    out = tmp_path / "serve_load.md"
    serve_load.main(["--model", str(model), "--seconds", "1", "--clients", "1,2", "--out", str(out)])
    rows = [line.strip("| ").split(" | ") for line in out.read_text().splitlines() if line.startswith("| o")]
    assert [(row[0], row[1]) for row in rows] == [
        ("on (2 ms window)", "1"), ("on (2 ms window)", "2"), ("off", "1"), ("off", "2")]
    for row in rows:
        assert len(row) == len(COLUMNS) and all(row)
        assert float(row[2]) > 0 and row[5] == "0" and float(row[6]) > 0
