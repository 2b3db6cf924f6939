"""What every benchmark's command line shares."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Iterator
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
