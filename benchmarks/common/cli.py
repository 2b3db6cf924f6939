"""What every benchmark's command line shares."""

from __future__ import annotations

import argparse


def benchmark_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser named `python -m <module>` whose help is the module docstring, its line breaks kept."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
