"""Running the CLI in-process from tests: exit codes checked, no traceback allowed."""

from __future__ import annotations

import re

from click.testing import CliRunner, Result

from textcnn.cli import main


def invoke(args: list[str], code: int = 0, **kwargs) -> Result:
    """Run the CLI in-process and check its exit code and that nothing escaped as an exception."""
    result = CliRunner().invoke(main, args, **kwargs)
    assert result.exit_code == code, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def fails(args: list[str], *patterns: str, **kwargs) -> str:
    """Run a command that must fail with exit code 2 and one `error:` line on stderr; return that line."""
    result = invoke(["-q", *args], code=2, **kwargs)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines
    assert result.stdout == ""
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]
