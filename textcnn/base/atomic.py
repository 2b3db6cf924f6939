"""Atomic file writes and JSON files: the bottom-layer helpers every layer that writes to disk uses."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import CheckpointError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode open() would have
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write `obj` as indented UTF-8 JSON."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: Path, folder: str = "textcnn run directory") -> Any:
    """Read a JSON file of a `folder` (a run directory, an export); a missing or broken file is a CheckpointError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise CheckpointError(f"{path} is missing: {path.parent} is not a complete {folder}") from err
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); the {folder} is corrupt") from err
