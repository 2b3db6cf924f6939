"""The README's quick-start commands: every one parses as the CLI's options, and those on the demo set run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from textcnn.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_commands() -> list[list[str]]:
    """The `python cli.py …` lines of the README's command-line quick start, as argument lists (after cli.py)."""
    block = README.read_text().split("### Command line", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("|")[-1]  # `cat reviews.txt | python cli.py predict -`
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line.startswith("python cli.py "):
            commands.append(shlex.split(line.replace("$TEXTCNN_DATA", "data"))[2:])
    return commands


def on_the_demo_set(args: list[str]) -> bool:
    return not any(a.startswith("--") and a in {"--dataset", "--train-file", "--model"} for a in args) and (
        "-" not in args)


def test_the_quick_start_has_the_commands_it_promises():
    names = {args[0] for args in quickstart_commands()}
    assert {"train", "predict", "evaluate", "search"} <= names


@pytest.mark.parametrize("args", quickstart_commands(), ids=" ".join)
def test_every_quick_start_command_parses(args):
    command = main.commands[args[0]]
    command.make_context(args[0], args[1:])  # an unknown option or a bad value raises here


def test_the_demo_set_commands_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ goes here
    demo = [args for args in quickstart_commands() if on_the_demo_set(args)]
    assert len(demo) >= 4
    for args in demo:
        result = CliRunner().invoke(main, [*args, *(["--device", "cpu"] if args[0] in ("train", "search") else [])])
        assert result.exit_code == 0, (args, result.output)
