"""Atomic writes."""

import os
import stat

from textcnn.base.atomic import write_json


def test_atomic_writes_get_the_mode_a_plain_open_would_give(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    (tmp_path / "b.json").write_text("{}")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "a.json") == mode(tmp_path / "b.json")
