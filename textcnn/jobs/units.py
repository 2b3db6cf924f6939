"""Resumable units: train each unit of a protocol (one seed, or one fold of a seed) once, across processes.

A unit has a result file, which exists only once the unit is finished, and a state folder, the
`checkpoint_dir` it trains in: its per-epoch resume state (`<folder>/resume/`) stays there until the unit
finishes, so a killed or stopped process's unit continues from its last finished epoch. A resumed unit's
seconds also count the epochs the earlier processes trained (recorded in that state), so its time is honest.

Several processes may work through one list of units (e.g. two one-thread jobs on a two-core machine): a process
claims a unit by writing its pid to `<folder>/claimed_by.json`; a unit claimed by another live process is
skipped, and a claim left by a dead process (killed with SIGKILL, machine rebooted) is taken over.

When the result lies inside the state folder (a run directory: `<unit>/metrics.json`), the folder is the
unit's output and is kept once the unit finishes, less its resume state and claim. Otherwise the folder is
scratch space and is removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..base.atomic import read_json, write_json
from ..base.errors import CheckpointError, TrainingInterrupted
from ..storage.card import JOB, write_model_card
from ..storage.rundir import CONFIG, LABELS, prepare_run_dir
from ..training.resume import RESUME_DIR, has_train_state, trained_seconds

log = logging.getLogger(__name__)

CLAIM = "claimed_by.json"
CURVE = "training_curve.png"  # each unit's training-curve PNG (JOB: a job's description, job.json)
JOURNAL = "search.journal"  # a search's finished trials (textcnn.jobs.search), kept in its unit's folder
U = TypeVar("U")
Result = dict[str, Any]


@dataclass(frozen=True)
class UnitState:
    """A unit's state folder (its `checkpoint_dir`), whether it holds a run to resume, and that run's seconds."""

    folder: Path
    resume: bool
    earlier_seconds: float  # the epochs the earlier processes trained (every ensemble member's), from the histories

    @classmethod
    def read(cls, folder: str | os.PathLike, resume: bool = True) -> UnitState:
        """The state in `folder`; with `resume` False (a fresh start) any resume state there is ignored."""
        folder = Path(folder)
        resume = resume and has_train_state(folder / RESUME_DIR)
        return cls(folder, resume, trained_seconds(folder / RESUME_DIR) if resume else 0.0)


def claim_unit(folder: str | os.PathLike) -> int:
    """Claim the unit whose state folder is `folder` for this process; returns the pid holding it (ours if taken).

    A claim whose process is dead, or that cannot be read, is taken over.
    """
    claim = Path(folder) / CLAIM
    claim.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # the second try follows the removal of a dead process's claim
        try:
            with open(claim, "x") as f:
                json.dump({"pid": os.getpid()}, f)
            return os.getpid()
        except FileExistsError:
            owner = _owner(claim)
            if owner is not None and (owner == os.getpid() or _alive(owner)):
                return owner
            claim.unlink(missing_ok=True)
    return _owner(claim) or -1  # a third process took it between our two tries


def release_unit(folder: str | os.PathLike) -> None:
    """Drop this process's claim on the unit whose state folder is `folder`; another process's claim stays."""
    claim = Path(folder) / CLAIM
    if _owner(claim) == os.getpid():
        claim.unlink(missing_ok=True)


def run_unit(
    result: Path, folder: Path, train: Callable[[UnitState], Result], *, seconds_key: str = "train_seconds",
    resume: bool = True, skip_held: bool = True, primary: bool = True,
) -> Result | None:
    """Train one unit unless it is finished; its result (read back when it was), or None if another process holds it.

    Args:
        result: the unit's result JSON, written once `train` returns.
        folder: the unit's state folder, the `checkpoint_dir` that `train` fits in (`state.folder`).
        train: fits the unit (resuming when `state.resume`) and returns its result; the earlier processes'
            seconds are added to the result's `seconds_key`.
        resume: False for a fresh start: a result or resume state already there is ignored.
        skip_held: False makes a unit held by another live process a CheckpointError instead of a skip.
        primary: False on DDP ranks other than 0, which train but claim, write and remove nothing.
    """
    if resume and result.is_file():
        return read_json(result)
    if primary and not _claimed(folder, skip_held):
        return None
    if primary and resume and result.is_file():  # another process finished it while we were claiming it
        _finish(folder, result)
        return read_json(result)
    state = UnitState.read(folder, resume)
    try:
        metrics = train(state)
    except BaseException:
        if primary:
            _abandon(folder)
        raise
    metrics[seconds_key] = round(metrics[seconds_key] + state.earlier_seconds, 2)
    if primary:
        result.parent.mkdir(parents=True, exist_ok=True)
        write_json(result, metrics)
        _finish(folder, result)
        if result.parent == folder and (folder / CONFIG).is_file() and (folder / LABELS).is_file():
            # a run directory: its model card gets the metrics
            write_model_card(folder)
    return metrics


@contextmanager
def job_directory(
    run_dir: Path, job: dict[str, Any], *, resume: bool, force: bool, primary: bool, command: str,
) -> Iterator[None]:
    """The run directory of a train job, for both tasks.

    A fresh job prepares it (an existing non-empty one needs `force`) and writes `job` to job.json before
    training; an interruption's message says how to continue (`command --resume run_dir`); a job that finished
    nothing and left nothing to resume leaves no directory behind. Only the primary rank writes.
    """
    created = not run_dir.exists()
    if primary and not resume:
        prepare_run_dir(run_dir, force)  # fail before training, not after
        write_json(run_dir / JOB, {**job, "argv": sys.argv})  # the command line the model card quotes
    try:
        yield
    except TrainingInterrupted as err:
        raise TrainingInterrupted(f"{err}; continue with: {command} --resume {run_dir}") from err
    finally:
        if primary and created and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {JOB}:
            shutil.rmtree(run_dir)


def run_units(
    units: Iterable[U], train: Callable[[U, UnitState], Result], result: Callable[[U], Path],
    folder: Callable[[U], Path], *, seconds_key: str = "train_seconds", resume: bool = True,
    skip_held: bool = True, primary: bool = True,
) -> dict[U, Result]:
    """`run_unit` for each (hashable) unit in turn; the results of the finished ones (by any process), by unit."""
    results = {}
    for unit in units:
        metrics = run_unit(result(unit), folder(unit), partial(train, unit), seconds_key=seconds_key, resume=resume,
                           skip_held=skip_held, primary=primary)
        if metrics is not None:
            results[unit] = metrics
    return results


def _claimed(folder: Path, skip_held: bool) -> bool:
    """Claim the unit; False (or CheckpointError, without `skip_held`) when another live process holds it."""
    holder = claim_unit(folder)
    if holder == os.getpid():
        return True
    if not skip_held:
        raise CheckpointError(f"{folder} is being trained by process {holder}; wait for it to finish or stop it "
                              f"(if no such process trains it, delete {Path(folder) / CLAIM})")
    log.info("%s: being trained by process %d, skipped", folder, holder)
    return False


def _finish(folder: Path, result: Path) -> None:
    """Drop a finished unit's resume state and claim; a scratch folder (one not holding the result) goes whole."""
    if folder.resolve() in result.resolve().parents:
        shutil.rmtree(folder / RESUME_DIR, ignore_errors=True)  # the run directory keeps its best-dev model only
        release_unit(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _abandon(folder: Path) -> None:
    """After a failure: keep a resume state or a search's finished trials for the next process, else leave no
    half-written folder behind."""
    if has_train_state(folder / RESUME_DIR) or (folder / JOURNAL).is_file():
        release_unit(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _owner(claim: Path) -> int | None:
    try:
        return int(json.loads(claim.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, unreadable or half-written: treated as stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True
