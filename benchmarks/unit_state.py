"""Where a benchmark keeps the resume state of a unit that has not finished: runs/benchmarks/<name> (git-ignored).

A unit trains with `checkpoint_dir=state` and `resume=resume`; once its result JSON is written, `finish` drops
the state. `earlier_seconds` are the epoch timings of the processes before a resumed one, for honest wall times.

`UnitState.claim` also marks the unit as taken by this process, so several benchmark processes can share one
list of units (e.g. two one-thread jobs on a two-core machine): a unit held by another live process is skipped,
and a claim left by a dead process (killed with SIGKILL, machine rebooted) is taken over.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from textcnn.base.atomic import read_json
from textcnn.training.resume import RESUME_DIR, STATE, has_train_state

STATES = Path(__file__).resolve().parent.parent / "runs" / "benchmarks"
CLAIM = "claimed_by.json"


@dataclass(frozen=True)
class UnitState:
    """The state folder of one unit, whether it holds a run to resume, and the seconds that run already took."""

    folder: Path
    resume: bool
    earlier_seconds: float

    @classmethod
    def claim(cls, name: str | Path, result: Path) -> UnitState | None:
        """This process's state for unit `name`; None when its `result` exists or another live process trains it."""
        folder = STATES / name
        if result.exists() or not _take(folder / CLAIM):
            return None
        if result.exists():  # another process finished it while we were claiming it
            shutil.rmtree(folder, ignore_errors=True)
            return None
        resume = has_train_state(folder / RESUME_DIR)
        history = read_json(folder / RESUME_DIR / STATE)["history"] if resume else []
        return cls(folder, resume, sum(h["seconds"] for h in history))

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _take(claim: Path) -> bool:
    claim.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # the second try follows the removal of a dead process's claim
        try:
            with open(claim, "x") as f:
                json.dump({"pid": os.getpid()}, f)
        except FileExistsError:
            owner = _owner(claim)
            if owner == os.getpid():
                return True
            if owner is not None and _alive(owner):
                logging.info("%s: being trained by process %d, skipped", claim.parent, owner)
                return False
            claim.unlink(missing_ok=True)
            continue
        atexit.register(_release, claim)
        return True
    return False


def _owner(claim: Path) -> int | None:
    try:
        return int(json.loads(claim.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or half-written: treated as stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _release(claim: Path) -> None:
    if _owner(claim) == os.getpid():
        claim.unlink(missing_ok=True)
