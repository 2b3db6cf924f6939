"""User errors become one line and an exit code; anything else is a bug and keeps its traceback."""

import pytest

from textcnn.base.errors import CheckpointError, exit_on_user_error, one_line


def test_textcnn_errors_and_bad_utf8_are_user_errors_with_one_line():
    assert one_line(CheckpointError("runs/x has no config.json")) == "error: runs/x has no config.json"
    try:
        b"ok \xff".decode("utf-8")
    except UnicodeDecodeError as err:
        assert one_line(err) == "error: input is not valid UTF-8 (byte 3); convert it to UTF-8"
    assert one_line(KeyError("bug")) is None


def test_a_user_error_inside_prints_its_line_and_exits(capsys):
    with pytest.raises(SystemExit) as stop, exit_on_user_error(code=3):
        raise CheckpointError("runs/x has no config.json")
    assert stop.value.code == 3
    assert capsys.readouterr().err == "error: runs/x has no config.json\n"


def test_a_bug_inside_keeps_its_exception(capsys):
    with pytest.raises(KeyError), exit_on_user_error():
        raise KeyError("bug")
    assert capsys.readouterr().err == ""


def test_nothing_happens_without_an_error():
    with exit_on_user_error():
        value = 1 + 1
    assert value == 2
