"""The benchmarks' shared command line: textcnn's own errors are one line and exit code 2, as for the textcnn
command; --stop-at starts no unit that would end after it; --workers starts copies of the run and waits for them."""

import argparse
import json
import textwrap
import time
from datetime import datetime, timedelta
from functools import partial

import pytest

from benchmarks import beyond_kim
from benchmarks.common.cli import add_vectors_arg, copies_of_this_run, run_benchmark, stop_time, units_before
from textcnn.base.errors import DataError


def test_the_vectors_default_to_the_glove_subset_under_textcnn_data(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCNN_DATA", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_vectors_arg(parser)
    assert parser.parse_args([]).vectors == str(tmp_path / "glove" / "glove.6B.50d.kim7.txt")
    assert parser.parse_args(["--vectors", "v.txt"]).vectors == "v.txt"


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


def test_stop_at_is_the_next_such_local_time():
    now = datetime(2026, 12, 4, 3, 30)
    assert stop_time("04:05", now) == datetime(2026, 12, 4, 4, 5)
    assert stop_time("01:00", now) == datetime(2026, 12, 5, 1, 0)  # passed today: tomorrow's
    assert stop_time(None, now) is None
    with pytest.raises(argparse.ArgumentTypeError, match="HH:MM"):
        stop_time("4pm", now)


def test_units_stop_before_the_first_unfinished_one_that_would_end_after_the_deadline():
    clock = datetime(2026, 12, 4, 3, 0)
    deadline = datetime(2026, 12, 4, 3, 30)
    done = {"fold00"}
    units = ["fold00", "fold01", "fold02", "fold03"]

    def now() -> datetime:
        return clock

    started = []
    for unit in units_before(units, deadline, done.__contains__, lambda: 20 * 60, now):
        started.append(unit)
        if unit != "fold00":
            clock += timedelta(minutes=20)  # each unfinished unit takes 20 minutes
    assert started == ["fold00", "fold01"]  # fold02 would end at 03:40
    assert list(units_before(units, deadline, done.__contains__, lambda: None, now)) == units  # no estimate: all
    assert list(units_before(units, None, done.__contains__, lambda: 1e9, now)) == units  # no deadline: all


PROBE = """
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
if "sleep" in args:
    time.sleep(60)
Path(args[0], f"{os.getpid()}.json").write_text(json.dumps({"argv": args, "threads": os.environ["OMP_NUM_THREADS"]}))
sys.exit(3 if "fail" in args else 0)
"""


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A module `probe` on the path of child processes: it writes its argv and thread setting to <argv[0]>/<pid>."""
    (tmp_path / "probe.py").write_text(textwrap.dedent(PROBE))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    return out


def test_workers_are_copies_of_the_command_one_thread_each_and_are_waited_for(probe):
    with copies_of_this_run("probe", [str(probe), "--datasets", "mr"], copies=2) as children:
        assert len(children) == 2
    written = [json.loads(p.read_text()) for p in probe.iterdir()]
    assert {c.returncode for c in children} == {0}
    assert written == [{"argv": [str(probe), "--datasets", "mr", "--worker"], "threads": "1"}] * 2


def test_no_copies_start_nothing(probe):
    with copies_of_this_run("probe", [str(probe)], copies=0) as children:
        assert children == []
    assert list(probe.iterdir()) == []


def test_a_failed_worker_fails_the_run_once_all_have_finished(probe):
    with pytest.raises(SystemExit, match="failed; their units keep their resume states"):
        with copies_of_this_run("probe", [str(probe), "fail"], copies=2):
            pass
    assert len(list(probe.iterdir())) == 2  # both ran to the end


def test_when_this_process_stops_its_workers_are_stopped(probe):
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with copies_of_this_run("probe", [str(probe), "sleep"], copies=2) as children:
            raise KeyboardInterrupt
    assert [c.returncode for c in children] == [-15, -15]  # SIGTERM, not a minute's sleep
    assert time.monotonic() - started < 30
