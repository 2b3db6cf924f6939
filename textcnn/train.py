"""The fit loop for any `nn.Module` that maps a batch's inputs to class logits.

The loop knows nothing about text or images: it sees a module, cross-entropy, and an object
that yields `Batch`es each epoch. A module may define `apply_constraints()` (e.g. Kim's max-norm),
which runs after every optimizer step.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .config import TrainConfig
from .errors import TextCNNError

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One mini-batch: positions in the split, the module's inputs, and labels (None when predicting)."""

    index: Tensor
    inputs: tuple[Tensor, ...]
    labels: Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        move = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        labels = None if self.labels is None else move(self.labels)
        return Batch(self.index, tuple(move(t) for t in self.inputs), labels)


class Batches(Protocol):
    """Anything that can be iterated once per epoch as `Batch`es."""

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]: ...


@dataclass
class EpochRecord:
    """One line of training history."""

    epoch: int
    loss: float
    train_acc: float
    dev_acc: float | None
    seconds: float


@dataclass
class FitResult:
    """What `fit_model` returns: the history and where the best dev score was."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_acc: float | None = None


def resolve_device(name: str) -> torch.device:
    """`auto` → CUDA when available, else CPU; `cuda` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TextCNNError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch; in deterministic mode also force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
    return torch.Generator().manual_seed(seed)


def make_optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adadelta (Kim 2014 §3.1) or Adam over the trainable parameters only."""
    params = [p for p in module.parameters() if p.requires_grad]
    if config.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=config.learning_rate, rho=config.rho, eps=config.eps)
    return torch.optim.Adam(params, lr=config.learning_rate)


def _apply_constraints(module: nn.Module) -> None:
    constrain = getattr(module, "apply_constraints", None)
    if constrain is not None:
        constrain()


def _train_epoch(
    module: nn.Module, batches: Batches, optimizer: torch.optim.Optimizer, config: TrainConfig,
    device: torch.device, generator: torch.Generator, bar: tqdm | None,
) -> tuple[float, float]:
    """One pass over the batches; returns (mean loss, accuracy). Sums stay on device: no per-step sync."""
    module.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for step, batch in enumerate(batches.epoch(generator)):
        if config.dry_run and step >= config.dry_run_batches:
            break
        batch = batch.to(device)
        logits = module(*batch.inputs)  # (B, K)
        loss = nn.functional.cross_entropy(logits, batch.labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _apply_constraints(module)
        loss_sum += loss.detach() * len(batch.index)
        correct += (logits.argmax(dim=1) == batch.labels).sum()
        seen += len(batch.index)
        if bar is not None:
            bar.update(1)
    loss_value = loss_sum.item() / max(seen, 1)
    if not np.isfinite(loss_value):
        raise TextCNNError("training loss became non-finite; try a smaller learning rate")
    return loss_value, correct.item() / max(seen, 1)


@torch.inference_mode()
def predict_logits(module: nn.Module, batches: Batches, device: torch.device) -> Tensor:
    """Logits for every example, in the split's original order, on the CPU."""
    module.eval()
    parts: list[tuple[Tensor, Tensor]] = []
    for batch in batches.epoch(None):
        logits = module(*batch.to(device).inputs)  # (B, K)
        parts.append((batch.index, logits.float().cpu()))
    if not parts:
        return torch.empty(0, 0)
    index = torch.cat([i for i, _ in parts])
    logits = torch.cat([x for _, x in parts])
    return logits[torch.argsort(index)]


def accuracy(module: nn.Module, batches: Batches, labels: Tensor, device: torch.device) -> float:
    """Share of examples whose arg-max logit equals the label."""
    return (predict_logits(module, batches, device).argmax(dim=1) == labels).float().mean().item()


def fit_model(
    module: nn.Module,
    train: Batches,
    config: TrainConfig,
    dev: tuple[Batches, Tensor] | None = None,
    progress: bool = False,
) -> FitResult:
    """Train `module` in place; with a dev set, keep the weights of the best dev epoch (Kim's protocol)."""
    device = resolve_device(config.device)
    generator = seed_everything(config.seed, config.deterministic)
    module.to(device)
    optimizer = make_optimizer(module, config)
    result, best_state, stale = FitResult(), None, 0
    epochs = 1 if config.dry_run else config.epochs
    n_steps = min(len(train), config.dry_run_batches) if config.dry_run else len(train)
    with tqdm(total=epochs * n_steps, disable=not progress, unit="batch", leave=False) as bar:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            loss, train_acc = _train_epoch(module, train, optimizer, config, device, generator, bar)
            dev_acc = accuracy(module, dev[0], dev[1], device) if dev is not None else None
            record = EpochRecord(epoch, loss, train_acc, dev_acc, time.perf_counter() - start)
            result.history.append(record)
            log.info(_format_record(record, epochs))
            if dev_acc is not None and (result.best_dev_acc is None or dev_acc > result.best_dev_acc):
                result.best_epoch, result.best_dev_acc, stale = epoch, dev_acc, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                stale += 1
            if config.patience is not None and stale >= config.patience:
                log.info("no dev improvement for %d epochs: stopping early", stale)
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    return result


def _format_record(r: EpochRecord, epochs: int) -> str:
    dev = "-" if r.dev_acc is None else f"{r.dev_acc:.4f}"
    return (
        f"epoch {r.epoch}/{epochs}  loss {r.loss:.4f}  train acc {r.train_acc:.4f}  "
        f"dev acc {dev}  {r.seconds:.1f}s"
    )
