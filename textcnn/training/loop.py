"""The fit loop for any `nn.Module` that maps a batch's inputs to class logits.

The loop knows nothing about text or images: it sees a module, cross-entropy, and an object
that yields `Batch`es each epoch. A module may define `apply_constraints()` (e.g. Kim's max-norm),
which runs after every optimizer step, and must take a `mix=` keyword (a `textcnn.models.core.Mix`) to be
trained with `TrainConfig.mixup`, and a `noise=` keyword (a `textcnn.models.core.Perturbation`) to be trained with
`TrainConfig.adversarial`.
"""

from __future__ import annotations

import inspect
import logging
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler
from tqdm.auto import tqdm

from ..base.config import TrainConfig
from ..base.errors import ConfigError, TextCNNError, TrainingError, TrainingInterrupted
from ..data.batches import Batch, Batches
from ..models.core import Mix, Perturbation
from . import distributed
from .objective import correct, dev_score, example_losses
from .optim import LazyAdadelta
from .resume import TrainState, load_train_state, save_train_state

log = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    """One line of training history."""

    epoch: int
    loss: float
    train_acc: float
    dev_acc: float | None
    seconds: float
    lr: float | None = None  # the learning rate in force during the epoch (first parameter group)
    dev_score: float | None = None  # the dev score of TrainConfig.dev_metric (= dev_acc for accuracy)


@dataclass
class FitResult:
    """What `fit_model` returns: the history, the kept epoch, its dev accuracy and its dev score."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_acc: float | None = None
    best_dev_score: float | None = None  # of TrainConfig.dev_metric; equals best_dev_acc for accuracy
    members: list[FitResult] = field(default_factory=list)  # an ensemble's members, each trained on its own seed
    reused: bool = False  # taken from a member store (textcnn.training.members), not trained by this run


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
    """Adadelta (Kim 2014 §3.1), Adam or SGD with momentum over the trainable parameters only."""
    params = [p for p in module.parameters() if p.requires_grad]
    sparse = _has_sparse_gradients(module)
    if config.optimizer == "adadelta":
        adadelta = LazyAdadelta if sparse else torch.optim.Adadelta
        return adadelta(params, lr=config.learning_rate, rho=config.rho, eps=config.eps)
    if sparse:
        raise TextCNNError(f"sparse embedding gradients need the adadelta optimizer, not {config.optimizer}")
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum)
    return torch.optim.Adam(params, lr=config.learning_rate, eps=config.adam_eps)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LRScheduler | None:
    """The per-epoch learning-rate schedule of `config.lr_schedule`, or None for "none"."""
    if config.lr_schedule == "plateau":  # Keras's ReduceLROnPlateau callback, watching dev accuracy
        # threshold 0 (abs): "better" means strictly higher, the same rule as the best-dev epoch and `patience`;
        # torch cuts once the bad epochs *exceed* its patience, Keras once they reach it: lr_patience counts as Keras
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=config.lr_factor, patience=config.lr_patience - 1, threshold=0.0,
            threshold_mode="abs",
        )
    if config.lr_schedule == "cosine":  # Loshchilov & Hutter 2017 (SGDR) without restarts, to 0 at the last epoch
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1 if config.dry_run else config.epochs)
    return None


def _step_scheduler(scheduler: LRScheduler | None, optimizer: torch.optim.Optimizer, dev_acc: float | None) -> None:
    """One schedule step at the end of an epoch; logs the learning rate when it changes."""
    if scheduler is None:
        return
    before = _current_lr(optimizer)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(dev_acc)
    else:
        scheduler.step()
    after = _current_lr(optimizer)
    if after != before:
        _log(distributed.world()[0], "learning rate %.3g -> %.3g (%s)", before, after, type(scheduler).__name__)


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _has_sparse_gradients(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Embedding) and m.sparse and m.weight.requires_grad for m in module.modules())


def _embedding_exchange(module: nn.Module) -> str:
    """How DDP will exchange the embedding gradients, in words (logged once)."""
    trained = [m for m in module.modules() if isinstance(m, nn.Embedding) and m.weight.requires_grad]
    if not trained:
        return "no embedding gradients (frozen channels are never communicated)"
    if _has_sparse_gradients(module):
        return "sparse embedding rows: each step all-reduces only the rows its batch touched"
    return "dense embedding gradients: each step all-reduces every embedding row"


def _use_dense_gradients(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Embedding):
            m.sparse = False


def _apply_constraints(module: nn.Module) -> None:
    constrain = getattr(module, "apply_constraints", None)
    if constrain is not None:
        constrain()


class _StopOnSignal:
    """SIGINT/SIGTERM set a flag: training finishes the current step, then stops. A second SIGINT stops at once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.signal, self._previous = enabled, None, {}

    def __enter__(self) -> _StopOnSignal:
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def requested(self) -> bool:
        """Whether any rank was signalled (under DDP a tiny CPU all-reduce, so all ranks stop at the same step)."""
        if not distributed.is_initialized():
            return self.signal is not None
        return bool(distributed.all_max(torch.tensor(int(self.signal is not None))).item())

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _mixup(config: TrainConfig, epoch: int, step: int, batch_size: int, device: torch.device) -> Mix:
    """The step's mixup: λ ~ Beta(α, α) and a shuffled row order, drawn from (seed, rank, epoch, step) alone.

    A generator of its own, seeded per step, leaves the batch order of training unchanged and needs no resume
    state: a resumed epoch draws the same λs. (Ranks mix within their own slice of the global batch.)
    """
    rng = np.random.default_rng([config.seed, distributed.world()[0], epoch, step])
    weight = float(rng.beta(config.mixup, config.mixup))
    return Mix(weight, torch.as_tensor(rng.permutation(batch_size), device=device))


def _mixed_losses(logits: Tensor, labels: Tensor, multi_label: bool, weights: Tensor | None,
                  mix: Mix | None) -> Tensor:
    """Per-example losses; under mixup the same λ mixes the losses against both label sets (Zhang et al. 2018)."""
    losses = example_losses(logits, labels, multi_label, weights)
    if mix is None:
        return losses
    return mix.weight * losses + (1.0 - mix.weight) * example_losses(logits, labels[mix.order], multi_label, weights)


def _forward_loss(net: nn.Module, batch: Batch, config: TrainConfig, device: torch.device, weights: Tensor | None,
                  mix: Mix | None, noise: Perturbation | None) -> tuple[Tensor, Tensor, Tensor]:
    """One forward pass: (logits (B, K), the loss to back-propagate, the sum of the per-example losses)."""
    extras = {name: value for name, value in (("mix", mix), ("noise", noise)) if value is not None}
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
        logits = net(*batch.inputs, **extras).float()  # (B, K)
    summed = _mixed_losses(logits, batch.labels, config.multi_label, weights, mix).sum()
    if batch.global_size is None:
        return logits, summed / len(batch.index), summed
    # a rank's slice: scaled so DDP's mean over ranks is the mean over the whole batch
    return logits, summed * distributed.world()[1] / batch.global_size, summed


def _train_epoch(
    net: nn.Module, module: nn.Module, batches: Batches, optimizer: torch.optim.Optimizer, config: TrainConfig,
    device: torch.device, generator: torch.Generator, bar: tqdm | None, stop: _StopOnSignal,
    weights: Tensor | None = None, epoch: int = 1,
) -> tuple[float, float, int, int, bool]:
    """One pass; returns (mean loss, accuracy, steps taken, first non-finite step or -1, stopped by a signal).

    Sums and the non-finite flag stay on device, read once at the end: no per-step host sync.
    `net` is `module` itself, or its DistributedDataParallel wrapper. Under mixup the training accuracy counts
    the arg-max against each example's own (unmixed) label.
    """
    net.train()
    loss_sum = torch.zeros((), device=device)
    n_correct = torch.zeros((), device=device, dtype=torch.long)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)  # index of the first non-finite loss
    seen, steps, stopped = 0, 0, False
    for step, batch in enumerate(batches.epoch(generator)):
        if config.dry_run and step >= config.dry_run_batches:
            break
        batch = batch.to(device)
        mix = _mixup(config, epoch, step, len(batch.index), device) if config.mixup > 0 else None
        noise = Perturbation() if config.adversarial > 0 else None
        optimizer.zero_grad(set_to_none=True)
        # with adversarial training the first pass's gradients stay local: the second pass's backward exchanges
        # the sum of both, once
        with net.no_sync() if noise is not None and hasattr(net, "no_sync") else nullcontext():
            logits, loss, summed = _forward_loss(net, batch, config, device, weights, mix, noise)
            loss.backward()
        finite = torch.isfinite(loss.detach())
        if noise is not None:
            if epoch == 1 and step == 0 and distributed.is_primary():
                _report_adversarial_scale(noise, config.adversarial)
            noise.aim(config.adversarial)
            adversarial_loss = _forward_loss(net, batch, config, device, weights, mix, noise)[1]
            adversarial_loss.backward()
            finite &= torch.isfinite(adversarial_loss.detach())
        example_loss_sum = summed.detach()  # the clean loss (with adversarial training, not the adversarial one)
        first_bad = torch.where((first_bad < 0) & ~finite, step, first_bad)
        optimizer.step()
        _apply_constraints(module)
        loss_sum += example_loss_sum
        n_correct += correct(logits.detach(), batch.labels, config.multi_label)
        seen += len(batch.index)
        steps += 1
        if bar is not None:
            bar.update(1)
        if stop.enabled and stop.requested():
            stopped = True
            break
    loss_sum, n_correct, seen_total = distributed.all_sum(loss_sum, n_correct, torch.tensor(seen, device=device))
    never = torch.iinfo(torch.long).max
    bad = distributed.all_min(torch.where(first_bad < 0, never, first_bad)).item()
    seen = max(int(seen_total.item()), 1)
    return loss_sum.item() / seen, n_correct.item() / seen, steps, -1 if bad == never else bad, stopped


# adversarial ε above this share of a typical example's input norm gets a warning: the strong recipe's 0.5 is 3-7% of
# it where it was measured (GloVe 50-d plus a random channel on Kim's datasets, Kim's random vectors on zh_reviews),
# while on the short vectors word2vec learns from the 60 demo sentences it is about 40%, and the model learns nothing
ADVERSARIAL_WARN_SHARE = 0.2
ADVERSARIAL_SCALE_WARNING = "adversarial ε"  # how the warning starts


def _report_adversarial_scale(noise: Perturbation, epsilon: float) -> None:
    """Log ε as a share of the median input norm of the first batch (one host sync per fit), warning when large."""
    typical = float(noise.input_norms().median())
    share = epsilon / typical if typical > 0 else float("inf")
    log.info("adversarial ε %g is %.1f%% of the median input norm (%.3g) of the first batch", epsilon, 100 * share,
             typical)
    if share > ADVERSARIAL_WARN_SHARE:
        warnings.warn(f"{ADVERSARIAL_SCALE_WARNING} {epsilon:g} is {100 * share:.0f}% of a typical example's input "
                      f"norm ({typical:.3g}, the median of the first batch), so each moved example keeps little of its "
                      "own input; the strong recipe was measured at 3-7% (pretrained GloVe or Kim's random vectors). "
                      "Lower --adversarial or start from pretrained vectors", stacklevel=2)


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


# One thread for small CPU predictions (speed trick, issue #6): a sentence is ~1 ms of work that intra-op threads
# cannot shorten, but while another process holds a core every parallel op waits for a descheduled worker; on
# 2 shared cores one sentence took a median 6-68 ms on 2 threads and 1.0-1.4 ms on one (benchmarks/startup.py).
# Inputs with more tokens than this keep torch's thread count. Off switch: 0.
ONE_THREAD_MAX_TOKENS = 1000


@contextmanager
def one_thread_if_small(n_tokens: int, device: torch.device) -> Iterator[None]:
    """Run torch on one intra-op thread while predicting at most ONE_THREAD_MAX_TOKENS tokens on the CPU."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or n_tokens > ONE_THREAD_MAX_TOKENS:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def accuracy(module: nn.Module, batches: Batches, labels: Tensor, device: torch.device,
             multi_label: bool = False) -> float:
    """Share of examples predicted right: the arg-max class, or (multi-label) every label at probability 0.5."""
    return correct(predict_logits(module, batches, device), labels, multi_label).item() / max(len(labels), 1)


def fit_model(
    module: nn.Module,
    train: Batches,
    config: TrainConfig,
    dev: tuple[Batches, Tensor] | None = None,
    resume_dir: str | Path | None = None,
    resume: bool = False,
    class_weights: Tensor | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FitResult:
    """Train `module` in place and keep the weights `config.selection` chooses.

    selection "auto", "accuracy", "macro-f1", "micro-f1": the epoch with the best dev score of `config.dev_metric`
    (Kim's protocol: accuracy; without a dev set, the last epoch); "last": the last epoch (a dev set, if given, is
    only scored). FitResult.best_epoch is the kept epoch. Patience and the plateau schedule watch the same score.
    The loss is cross-entropy, or for `config.multi_label` binary cross-entropy per label (labels (B, K) 0/1);
    `class_weights` weighs classes (single-label) or positives per label (multi-label `pos_weight`).

    The learning rate follows `config.lr_schedule`, stepped once after each epoch's dev score.
    resume_dir: after every epoch the state (last and best weights, optimizer, LR schedule, RNG, early stopping) is
        saved there (see `textcnn.training.resume`), and SIGINT/SIGTERM stop training after the current step with
        `TrainingInterrupted`. With `resume`, training continues from that state at the next epoch boundary.
    Under torchrun the module is wrapped in DistributedDataParallel and each rank trains on its row slice of
    every global batch (`distributed.RankSlice`); only rank 0 logs, shows progress and writes the state. On the
    CPU a sparse embedding keeps its sparse gradients: a comm hook (`distributed.exchange_sparse_rows`) exchanges
    only the rows a step touched and LazyAdadelta stays on; on CUDA the embedding goes dense (untested there).
    on_epoch: called with each epoch's record once that epoch is finished (and its resume state saved); an exception
        it raises stops training there and propagates (a search prunes a bad trial this way).
    """
    rank, world_size = distributed.world()
    device = _training_device(config.device, world_size)
    _check_forward_takes(module, config)
    generator = seed_everything(config.seed, config.deterministic)
    module.to(device)
    weights = None if class_weights is None else class_weights.to(device)
    if world_size > 1:
        if device.type == "cuda":
            _use_dense_gradients(module)  # NCCL all-reduces dense tensors only; gloo (CPU) also takes sparse ones
        _log(rank, "DDP on %d ranks (%s), %s", world_size, "nccl" if device.type == "cuda" else "gloo",
             _embedding_exchange(module))
    optimizer = make_optimizer(module, config)
    if config.lr_schedule == "plateau" and dev is None:
        raise ConfigError("lr_schedule 'plateau' watches the dev accuracy, but no dev set was given; "
                          "pass dev=..., or use lr_schedule 'cosine' or 'none'")
    scheduler = make_scheduler(optimizer, config)
    state, best_state = TrainState(), None
    resume_dir = None if resume_dir is None else Path(resume_dir)
    if resume:
        state, best_state = load_train_state(resume_dir, module, optimizer, generator, scheduler)
        _log(rank, "resuming after epoch %d from %s", state.epoch, resume_dir)
    elif resume_dir is not None and rank == 0:
        save_train_state(resume_dir, module, optimizer, generator, state, None, scheduler)  # epoch 1 can resume
    net, shard = _parallel(module, train, config, device, rank, world_size)
    epochs = 1 if config.dry_run else config.epochs
    n_steps = min(len(train), config.dry_run_batches) if config.dry_run else len(train)
    with _StopOnSignal(resume_dir is not None) as stop, tqdm(
        total=epochs * n_steps, initial=state.epoch * n_steps, disable=not config.progress or rank != 0, unit="batch",
        leave=False,
    ) as bar:
        for epoch in range(state.epoch + 1, epochs + 1):
            if _patience_spent(state, config):
                break  # a resumed state that had already stopped early (e.g. a finished ensemble member)
            start, lr = time.perf_counter(), _current_lr(optimizer)
            loss, train_acc, steps, bad, stopped = _train_epoch(net, module, shard, optimizer, config, device,
                                                                generator, bar, stop, weights, epoch)
            _raise_if_cut_short(bad, stopped, steps, epoch, n_steps, stop, resume_dir)
            dev_acc, score = _dev_scores(module, dev, device, config) if dev is not None else (None, None)
            record = EpochRecord(epoch, loss, train_acc, dev_acc, time.perf_counter() - start, lr, score)
            _log(rank, _format_record(record, epochs, config.dev_metric))
            best_state = _close_epoch(state, record, module, config, best_state)
            _step_scheduler(scheduler, optimizer, score)
            if resume_dir is not None and rank == 0:
                save_train_state(resume_dir, module, optimizer, generator, state, best_state, scheduler)
            if on_epoch is not None:
                on_epoch(record)
            if _patience_spent(state, config):
                _log(rank, "no dev improvement for %d epochs: stopping early", state.stale)
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    history = [EpochRecord(**r) for r in state.history]
    return FitResult(history, state.best_epoch, state.best_dev_acc, state.best_dev_score)


def _training_device(name: str, world_size: int) -> torch.device:
    """`resolve_device`, and under torchrun on CUDA the GPU this rank was given."""
    device = resolve_device(name)
    if world_size > 1 and device.type == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _check_forward_takes(module: nn.Module, config: TrainConfig) -> None:
    """Mixup and adversarial training reach the model through forward keywords; refuse a model without them."""
    keywords = inspect.signature(module.forward).parameters
    for wanted, feature, keyword in ((config.mixup > 0, "mixup", "mix"),
                                     (config.adversarial > 0, "adversarial training", "noise")):
        if wanted and keyword not in keywords:
            raise ConfigError(f"{feature} needs a model whose forward takes {keyword}=; "
                              f"{type(module).__name__} does not")


def _parallel(module: nn.Module, train: Batches, config: TrainConfig, device: torch.device, rank: int,
              world_size: int) -> tuple[nn.Module, Batches]:
    """(the module to call, the batches this rank trains on): DDP and a row slice under torchrun, compiled if asked."""
    net, shard = module, train
    if world_size > 1:
        net = nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
        if _has_sparse_gradients(module):
            net.register_comm_hook(None, distributed.exchange_sparse_rows)
        shard = distributed.RankSlice(train, rank, world_size)
    if config.compile:
        net = torch.compile(net, dynamic=True)  # one graph for every bucket length; max-norm stays eager
    return net, shard


def _patience_spent(state: TrainState, config: TrainConfig) -> bool:
    return config.patience is not None and state.stale >= config.patience


def _raise_if_cut_short(bad: int, stopped: bool, steps: int, epoch: int, n_steps: int, stop: _StopOnSignal,
                        resume_dir: Path | None) -> None:
    """A non-finite loss or a stop signal ends training here, naming the step and the state kept."""
    if bad >= 0:
        raise TrainingError(
            f"training loss became non-finite at step {(epoch - 1) * n_steps + bad + 1} (epoch {epoch}, "
            f"batch {bad + 1} of {n_steps}); " + _kept(resume_dir, epoch) + "try a smaller learning rate"
        )
    if stopped:
        raise TrainingInterrupted(
            f"training stopped by {stop.signal or 'a signal to another rank'} after step {steps} of "
            f"epoch {epoch}; " + _kept(resume_dir, epoch).rstrip("; ")
        )


def _close_epoch(state: TrainState, record: EpochRecord, module: nn.Module, config: TrainConfig,
                 best_state: dict[str, Tensor] | None) -> dict[str, Tensor] | None:
    """Book the finished epoch in `state` (history, best epoch, epochs without improvement); return the kept weights."""
    state.history.append(vars(record))
    score = record.dev_score
    improved = score is not None and (state.best_dev_score is None or score > state.best_dev_score)
    state.stale = 0 if improved else state.stale + 1
    if config.selection == "last" or improved:  # "last": the kept epoch is always the latest one
        state.best_epoch, state.best_dev_acc, state.best_dev_score = record.epoch, record.dev_acc, score
    if config.selection != "last" and improved:
        best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    state.epoch = record.epoch
    return best_state


def _kept(resume_dir: Path | None, epoch: int) -> str:
    if resume_dir is None:
        return ""
    return f"the state after epoch {epoch - 1} is kept in {resume_dir}; "


def _log(rank: int, message: str, *args: object) -> None:
    if rank == 0:
        log.info(message, *args)


@torch.inference_mode()
def _dev_scores(module: nn.Module, dev: tuple[Batches, Tensor], device: torch.device,
                config: TrainConfig) -> tuple[float, float]:
    """(dev accuracy, dev score of `config.dev_metric`).

    Under DDP each rank scores whole batches round-robin and the counts are summed; an F1 score needs every
    prediction, so there each rank scores the whole (small) dev set itself.
    """
    batches, labels = dev
    rank, world_size = distributed.world()
    if world_size == 1 or config.dev_metric != "accuracy":
        logits = predict_logits(module, batches, device)  # (N, K)
        return dev_score(logits, labels, config.multi_label, config.dev_metric)
    module.eval()
    n_correct = torch.zeros((), dtype=torch.long)
    for batch in distributed.RankBatches(batches, rank, world_size).epoch(None):
        logits = module(*batch.to(device).inputs).cpu()  # (B, K)
        n_correct += correct(logits, labels[batch.index], config.multi_label)
    [n_correct] = distributed.all_sum(n_correct)
    acc = n_correct.item() / max(len(labels), 1)
    return acc, acc


def _format_record(r: EpochRecord, epochs: int, metric: str = "accuracy") -> str:
    dev = "-" if r.dev_acc is None else f"{r.dev_acc:.4f}"
    score = "" if metric == "accuracy" or r.dev_score is None else f"  dev {metric} {r.dev_score:.4f}"
    return (
        f"epoch {r.epoch}/{epochs}  loss {r.loss:.4f}  train acc {r.train_acc:.4f}  "
        f"dev acc {dev}{score}  {r.seconds:.1f}s"
    )
