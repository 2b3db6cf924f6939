"""Benchmarks fail as the textcnn command does: textcnn's own errors are one line and exit code 2."""

from functools import partial

import pytest

from benchmarks import beyond_kim
from benchmarks.common.cli import run_benchmark
from textcnn.base.errors import DataError


def test_a_textcnn_error_becomes_one_line_and_exit_code_2(capsys):
    def main() -> None:
        raise DataError("dataset \"x\" not found locally")

    with pytest.raises(SystemExit) as stop:
        run_benchmark(main)
    assert stop.value.code == 2
    assert capsys.readouterr().err == 'error: dataset "x" not found locally\n'


def test_any_other_error_is_a_bug_and_keeps_its_traceback():
    def main() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_benchmark(main)


def test_a_benchmark_asked_for_missing_data_says_where_to_point_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEXTCNN_DATA", str(tmp_path))
    monkeypatch.setattr(beyond_kim, "CELLS", tmp_path / "cells")
    with pytest.raises(SystemExit) as stop:
        run_benchmark(partial(beyond_kim.main, ["--datasets", "zh_reviews", "--recipes", "base"]))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TEXTCNN_DATA" in err
    assert not (tmp_path / "cells").exists()
