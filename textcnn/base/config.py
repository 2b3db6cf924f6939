"""Configuration dataclasses and the four named presets of Kim (2014) §3.3."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .errors import ConfigError

Variant = Literal["rand", "static", "non-static", "multichannel"]
VARIANTS: tuple[str, ...] = ("rand", "static", "non-static", "multichannel")
TOKENIZERS: tuple[str, ...] = ("kim", "kim-sst", "unicode")
OPTIMIZERS: tuple[str, ...] = ("adadelta", "adam", "sgd")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
LR_SCHEDULES: tuple[str, ...] = ("none", "plateau", "cosine")
MAX_FILTER_SIZE = 5  # widths 1..5 are supported (Kim uses 3,4,5)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive; got {value!r}")


@dataclass(frozen=True)
class TextCNNConfig:
    """Architecture of the Kim CNN: embedding channels, filter bank, classifier head."""

    variant: Variant = "non-static"  # Kim 2014 §3.3 model variations
    filter_sizes: tuple[int, ...] = (3, 4, 5)  # Kim 2014 §3.1, window widths h
    n_filters: int = 100  # Kim 2014 §3.1, feature maps per width
    dropout: float = 0.5  # Kim 2014 §3.1, p
    max_norm: float | None = 3.0  # Kim 2014 §3.1, l2 constraint s on softmax weight rows; None = off
    embedding_dim: int = 300  # Kim 2014 §3.1, k (word2vec size); pretrained variants use the vectors' size

    def __post_init__(self) -> None:
        _check_choice("variant", self.variant, VARIANTS)
        sizes = tuple(self.filter_sizes)
        object.__setattr__(self, "filter_sizes", sizes)
        if not sizes or any(not isinstance(h, int) or not 1 <= h <= MAX_FILTER_SIZE for h in sizes):
            raise ConfigError(f"filter_sizes must be integers from 1 to {MAX_FILTER_SIZE}; got {sizes!r}")
        if len(set(sizes)) != len(sizes):
            raise ConfigError(f"filter_sizes must not repeat a width; got {sizes!r}")
        _check_positive("n_filters", self.n_filters)
        _check_positive("embedding_dim", self.embedding_dim)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if self.max_norm is not None:
            _check_positive("max_norm", self.max_norm)

    @property
    def uses_vectors(self) -> bool:
        """True for the variants initialised from pretrained word vectors."""
        return self.variant != "rand"


@dataclass(frozen=True)
class DataConfig:
    """How raw text becomes token ids: tokenizer and vocabulary settings (saved with the model)."""

    tokenizer: str = "unicode"  # "kim" (clean_str), "kim-sst" (clean_str_sst) or "unicode"
    lowercase: bool = True  # Kim lowercases everything except TREC
    min_freq: int = 1  # Kim keeps every training word

    def __post_init__(self) -> None:
        _check_choice("tokenizer", self.tokenizer, TOKENIZERS)
        _check_positive("min_freq", self.min_freq)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the trainer reads only these, never a model field."""

    optimizer: str = "adadelta"  # Kim 2014 §3.1 (Zeiler 2012)
    lr: float | None = None  # None: 1.0 for Adadelta, 1e-3 for Adam, 0.01 for SGD
    rho: float = 0.95  # Kim's released code, Adadelta decay
    eps: float = 1e-6  # Kim's released code, Adadelta epsilon
    momentum: float = 0.9  # SGD only (the usual image-CNN value, e.g. He et al. 2016 §3.4)
    batch_size: int = 50  # Kim 2014 §3.1, mini-batch size
    epochs: int = 25  # Kim's released code, n_epochs
    patience: int | None = None  # stop after this many epochs without a better dev score; None = all epochs
    # learning-rate schedule, stepped once per epoch (torch.optim.lr_scheduler): "none"; "plateau" =
    # ReduceLROnPlateau on dev accuracy, like Keras's callback; "cosine" = CosineAnnealingLR over `epochs`
    lr_schedule: str = "none"
    lr_factor: float = 0.5  # plateau: lr *= factor (Géron, Hands-On ML ch. 11, performance scheduling)
    lr_patience: int = 5  # plateau: cut after this many epochs without a better dev score (same source)
    dev_fraction: float = 0.1  # Kim 2014 §3.1: 10% of train held out when there is no dev set
    seed: int = 0
    device: str = "auto"
    deterministic: bool = False  # torch.use_deterministic_algorithms + one thread
    bucket_by_length: bool = True  # batches of similar length, padding trimmed per batch (speed)
    # opt-in speed options (benchmarks/speed.py measures each; README "Speed" gives their effect)
    fused_conv: bool = False  # all filter widths in one convolution (same function, one kernel launch)
    bf16: bool = False  # bfloat16 autocast for the forward pass (changes numerics slightly)
    compile: bool = False  # torch.compile the model (compile time is paid on the first batches)
    # Adadelta updates only the batch's embedding rows: the same arithmetic, much less of it (textcnn.training.optim);
    # ignored by the other optimizers and under torchrun
    sparse_embeddings: bool = True
    dry_run: bool = False  # one tiny epoch on a few batches, for smoke tests
    dry_run_batches: int = 3

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("device", self.device, DEVICES)
        _check_positive("batch_size", self.batch_size)
        _check_positive("epochs", self.epochs)
        if self.lr is not None:
            _check_positive("lr", self.lr)
        if self.patience is not None:
            _check_positive("patience", self.patience)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0.0 < self.lr_factor < 1.0:
            raise ConfigError(f"lr_factor must be in (0, 1): the plateau schedule multiplies the lr by it; "
                              f"got {self.lr_factor!r}")
        if isinstance(self.lr_patience, bool) or not isinstance(self.lr_patience, int) or self.lr_patience < 1:
            raise ConfigError(f"lr_patience must be a whole number of epochs ≥ 1; got {self.lr_patience!r}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"dev_fraction must be in (0, 1); got {self.dev_fraction!r}")

    @property
    def learning_rate(self) -> float:
        """The learning rate in force: `lr`, or the optimizer's usual default."""
        if self.lr is not None:
            return self.lr
        return {"adadelta": 1.0, "sgd": 0.01}.get(self.optimizer, 1e-3)


PRESETS: dict[str, TextCNNConfig] = {v: TextCNNConfig(variant=v) for v in VARIANTS}

C = TypeVar("C", TextCNNConfig, DataConfig, TrainConfig)


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Build `cls` from a JSON dict, rejecting unknown keys and naming the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {unknown}; valid keys: {', '.join(names)}")
    values = dict(values)
    if "filter_sizes" in values:
        values["filter_sizes"] = tuple(values["filter_sizes"])
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


__all__ = [
    "LR_SCHEDULES",
    "PRESETS",
    "VARIANTS",
    "DataConfig",
    "TextCNNConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
]
