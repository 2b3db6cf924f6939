"""What every benchmark's command line shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from textcnn.base.errors import TextCNNError


def benchmark_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser named `python -m <module>` whose help is the module docstring, its line breaks kept."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def run_benchmark(main: Callable[[], object]) -> None:
    """Run a benchmark's `main`, turning textcnn's own errors (data not found, bad vectors…) into one line on
    stderr and exit code 2, as the textcnn command does; anything else is a bug and keeps its traceback."""
    try:
        main()
    except TextCNNError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
