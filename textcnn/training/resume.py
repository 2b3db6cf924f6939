"""Resume state of a training run: what `fit_model` needs to continue exactly where an epoch ended.

`resume/state.json` is the commit point: it names the folder `resume/epoch-NNNN/` that holds the last-epoch
weights (`last.safetensors`), the best-dev weights so far (`best.safetensors`), the optimizer state
(`optimizer.pt`), the learning-rate schedule's state when there is one (`scheduler.pt`) and the RNG states
(`rng.pt`). The `.pt` files hold only tensors, numbers, strings and dicts (`torch.save` of the optimizer's
and scheduler's `state_dict()` and RNG byte tensors) and are read with `weights_only=True`.
A crash while saving leaves the previous state.json, and so the previous epoch, in force.
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

from ..base.atomic import atomic_write, read_json, write_json
from ..base.errors import CheckpointError
from ..models.weights import load_weights_into

log = logging.getLogger(__name__)

RESUME_DIR, STATE = "resume", "state.json"
LAST, BEST, OPTIMIZER, RNG = "last.safetensors", "best.safetensors", "optimizer.pt", "rng.pt"
SCHEDULER = "scheduler.pt"
MEMBER_PREFIX = "member"  # ensemble member i > 0 resumes from resume/member<i>/
REUSED = "reused.json"  # beside a state copied from a member store (textcnn.training.members), not trained here
RESUME_FORMAT = 1


@dataclass
class TrainState:
    """Progress and early-stopping state after `epoch` finished epochs (0 = before training)."""

    epoch: int = 0
    best_epoch: int = 0
    best_dev_acc: float | None = None  # dev accuracy of the best epoch
    best_dev_score: float | None = None  # its dev score (TrainConfig.dev_metric), which chooses it
    stale: int = 0  # epochs since the dev score last improved (patience)
    history: list[dict[str, Any]] = field(default_factory=list)


def member_resume_dir(resume_dir: Path, member: int) -> Path:
    """The resume folder of ensemble member `member`: `resume_dir` itself for member 0, `resume_dir`/member<i> else."""
    return resume_dir if member == 0 else resume_dir / f"{MEMBER_PREFIX}{member}"


def trained_seconds(resume_dir: Path) -> float:
    """The seconds of every epoch trained under `resume_dir`, summed over all ensemble members' states.

    A member copied from a member store was trained by another run, and its seconds are that run's: they are left
    out (`reused_seconds` has them).
    """
    return sum(_seconds(path) for path in _states(resume_dir) if not (path.parent / REUSED).is_file())


def reused_seconds(resume_dir: Path) -> float:
    """The training seconds of the ensemble members under `resume_dir` that were copied from a member store."""
    return sum(_seconds(path) for path in _states(resume_dir) if (path.parent / REUSED).is_file())


def _states(resume_dir: Path) -> list[Path]:
    states = [Path(resume_dir) / STATE, *sorted(Path(resume_dir).glob(f"{MEMBER_PREFIX}*/{STATE}"))]
    return [path for path in states if path.is_file()]


def _seconds(state: Path) -> float:
    return sum(epoch["seconds"] for epoch in read_json(state)["history"])


def has_train_state(folder: Path) -> bool:
    """True when `folder` (a run's resume/ folder) holds a committed state."""
    return (Path(folder) / STATE).is_file()


def save_train_state(
    folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
    state: TrainState, best_weights: dict[str, Tensor] | None, scheduler: LRScheduler | None = None,
) -> None:
    """Write the state after `state.epoch` epochs into a fresh epoch folder, then commit it in state.json."""
    folder = Path(folder)
    epoch_dir = folder / f"epoch-{state.epoch:04d}"
    shutil.rmtree(epoch_dir, ignore_errors=True)
    epoch_dir.mkdir(parents=True)
    _save_tensors(epoch_dir / LAST, module.state_dict())
    if best_weights is not None:
        _save_tensors(epoch_dir / BEST, best_weights)
    atomic_write(epoch_dir / OPTIMIZER, lambda tmp: torch.save(optimizer.state_dict(), tmp))
    if scheduler is not None:
        atomic_write(epoch_dir / SCHEDULER, lambda tmp: torch.save(scheduler.state_dict(), tmp))
    rng = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    atomic_write(epoch_dir / RNG, lambda tmp: torch.save(rng, tmp))
    numpy_state = np.random.get_state()
    write_json(folder / STATE, {
        "format_version": RESUME_FORMAT, "folder": epoch_dir.name, **asdict(state),
        "python_random": random.getstate(),
        "numpy_random": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
    })
    for old in folder.glob("epoch-*"):  # only now is the new state in force
        if old != epoch_dir:
            shutil.rmtree(old, ignore_errors=True)


def load_train_state(
    folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
    scheduler: LRScheduler | None = None,
) -> tuple[TrainState, dict[str, Tensor] | None]:
    """Restore weights, optimizer, LR schedule and RNG states in place; return the progress and best weights."""
    folder = Path(folder)
    saved = read_json(folder / STATE)
    if not isinstance(saved, dict) or saved.get("format_version") != RESUME_FORMAT:
        raise CheckpointError(f"{folder / STATE} is not a resume state this textcnn reads (format {RESUME_FORMAT})")
    epoch_dir = folder / str(saved["folder"])
    load_weights_into(module, _load_tensors(epoch_dir / LAST), str(epoch_dir / LAST))
    best = _load_tensors(epoch_dir / BEST) if (epoch_dir / BEST).is_file() else None
    try:
        optimizer.load_state_dict(torch.load(epoch_dir / OPTIMIZER, weights_only=True, map_location="cpu"))
        rng = torch.load(epoch_dir / RNG, weights_only=True)
        if scheduler is not None:
            scheduler.load_state_dict(_load_scheduler_state(epoch_dir))
    except (OSError, RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(f"the optimizer, LR schedule or RNG state in {epoch_dir} cannot be read: {err}") from err
    generator.set_state(rng["generator"])
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    version, keys, gauss = saved["python_random"]
    random.setstate((version, tuple(keys), gauss))
    name, keys, *rest = saved["numpy_random"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    fields = {k: saved[k] for k in ("epoch", "best_epoch", "best_dev_acc", "stale", "history")}
    # a state saved before dev scores other than accuracy existed chose its epoch by accuracy
    fields["best_dev_score"] = saved.get("best_dev_score", saved["best_dev_acc"])
    return TrainState(**fields), best


def _load_scheduler_state(epoch_dir: Path) -> dict[str, Any]:
    if not (epoch_dir / SCHEDULER).is_file():
        raise CheckpointError(f"{epoch_dir} holds no learning-rate schedule state ({SCHEDULER}): it was saved by "
                              "a run without lr_schedule; resume with the settings it was started with")
    return torch.load(epoch_dir / SCHEDULER, weights_only=True)


def _save_tensors(path: Path, state: dict[str, Tensor]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))


def _load_tensors(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is missing or corrupt ({err}); the resume state is incomplete") from err
