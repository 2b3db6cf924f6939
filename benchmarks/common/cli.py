"""What every benchmark's command line shares."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar

from textcnn.base.errors import exit_on_user_error

U = TypeVar("U")


def benchmark_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser named `python -m <module>` whose help is the module docstring, its line breaks kept."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def run_benchmark(main: Callable[[], object]) -> None:
    """Run a benchmark's `main`, turning user errors (data not found, bad vectors…) into one line on stderr and
    exit code 2, as the textcnn command does; anything else is a bug and keeps its traceback."""
    with exit_on_user_error():
        main()


def stop_time(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--stop-at HH:MM` as the next such local time (today, or tomorrow if it has passed); None: no limit."""
    if text is None:
        return None
    try:
        clock = datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--stop-at takes a local time HH:MM, such as 04:05; got {text!r}") from None
    now = now or datetime.now()
    at = datetime.combine(now.date(), clock)
    return at if at > now else at + timedelta(days=1)


def units_before(units: Iterable[U], deadline: datetime | None, done: Callable[[U], bool],
                 seconds: Callable[[], float | None], now: Callable[[], datetime] = datetime.now) -> Iterator[U]:
    """`units` in order, stopping before the first unfinished one that would not end by `deadline`, by `seconds()`:
    the expected time of a unit (None: unknown, so it starts). Finished units always pass (they are skipped fast)."""
    for unit in units:
        if deadline is not None and not done(unit):
            expected = seconds()
            if expected is not None and now() + timedelta(seconds=expected) > deadline:
                logging.info("stopping: a unit takes about %.0f min and --stop-at is %s", expected / 60,
                             f"{deadline:%H:%M}")
                return
        yield unit


def add_vectors_arg(parser: argparse.ArgumentParser) -> None:
    """`--vectors`, by default the GloVe 6B 50-d subset under $TEXTCNN_DATA (the only English vectors here)."""
    default = os.path.join(os.environ.get("TEXTCNN_DATA", "."), "glove", "glove.6B.50d.kim7.txt")
    parser.add_argument("--vectors", default=default,
                        help="word vectors of the pretrained variants (default: %(default)s)")


WORKER_FLAG = "--worker"  # marks a copy started by `copies_of_this_run`: it trains, starts no copies, writes no table


def add_worker_args(parser: argparse.ArgumentParser) -> None:
    """`--workers N` (N processes share the run) and the hidden flag its copies carry."""
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="processes that share the units, one thread each (this one and N-1 copies; the "
                             "table is written once all have finished)")
    parser.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


@contextmanager
def copies_of_this_run(module: str, argv: Sequence[str], copies: int) -> Iterator[list[subprocess.Popen]]:
    """Start `copies` more processes of `python -m module argv --worker`, one thread each, and wait for them on
    exit. Units are claimed one process at a time (textcnn.jobs.units), so the copies split the work; if this
    process fails or is stopped, they get SIGTERM and stop at their next step, keeping their resume states."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    children = [subprocess.Popen([sys.executable, "-m", module, *argv, WORKER_FLAG], env=env) for _ in range(copies)]
    if children:
        logging.info("started %d more worker(s): pids %s", copies, ", ".join(str(c.pid) for c in children))
    try:
        yield children
    except BaseException:
        for child in children:
            child.terminate()
        raise
    finally:
        for child in children:
            child.wait()
    failed = [c.pid for c in children if c.returncode != 0]
    if failed:
        raise SystemExit(f"worker(s) {', '.join(map(str, failed))} failed; their units keep their resume states, "
                         "so running the same command again continues them")
