"""The README's commands: every one parses as the CLI's options, and the quick start's demo-set ones run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from textcnn.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def commands_in(text: str) -> list[list[str]]:
    """The `python cli.py …` / `textcnn …` lines of `text`'s sh/bash blocks (continuations joined, comments and
    environment prefixes dropped), as argument lists after the program name."""
    commands = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line.split(" | ")[-1]).strip()  # `cat reviews.txt | python cli.py …`
            found = re.match(r"^(?:[A-Z_]+=\S+\s+)*(?:python cli\.py|textcnn)\s+(.*)$", line)
            if found:
                commands.append(shlex.split(found.group(1).replace("$TEXTCNN_DATA", "data")))
    return commands


def quickstart_commands() -> list[list[str]]:
    """The commands of the README's command-line quick start."""
    return commands_in(README.read_text().split("### Command line", 1)[1].split("```\n", 1)[0] + "```\n")


def on_the_demo_set(args: list[str]) -> bool:
    return not {"--dataset", "--train-file", "--model", "-"} & set(args)


def test_the_quick_start_has_the_commands_it_promises():
    names = {args[0] for args in quickstart_commands()}
    assert {"train", "predict", "evaluate", "search"} <= names


@pytest.mark.parametrize("args", commands_in(README.read_text()), ids=" ".join)
def test_every_command_in_the_readme_parses(args):
    command = main.commands[args[0]]
    try:
        command.make_context(args[0], args[1:])  # an unknown option or a bad value raises here
    except click.BadParameter as err:
        if "does not exist" not in str(err):  # an example's input file (digit.png) is not here
            raise


def test_the_demo_set_commands_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ goes here
    demo = [args for args in quickstart_commands() if on_the_demo_set(args)]
    assert len(demo) >= 4
    for args in demo:
        result = CliRunner().invoke(main, [*args, *(["--device", "cpu"] if args[0] in ("train", "search") else [])])
        assert result.exit_code == 0, (args, result.output)
