"""Where a benchmark keeps the resume state of a unit that has not finished: runs/benchmarks/<name> (git-ignored).

A unit trains with `checkpoint_dir=state` and `resume=resume`; once its result JSON is written, `finish` drops
the state. `earlier_seconds` are the epoch timings of the processes before a resumed one, for honest wall times.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from textcnn.checkpoint import read_json
from textcnn.resume import RESUME_DIR, STATE, has_train_state

STATES = Path(__file__).resolve().parent.parent / "runs" / "benchmarks"


@dataclass(frozen=True)
class UnitState:
    """The state folder of one unit, whether it holds a run to resume, and the seconds that run already took."""

    folder: Path
    resume: bool
    earlier_seconds: float

    @classmethod
    def of(cls, name: str | Path) -> UnitState:
        folder = STATES / name
        resume = has_train_state(folder / RESUME_DIR)
        history = read_json(folder / RESUME_DIR / STATE)["history"] if resume else []
        return cls(folder, resume, sum(h["seconds"] for h in history))

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
