"""Configuration dataclasses and the four named presets of Kim (2014) §3.3."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .errors import ConfigError

Variant = Literal["rand", "static", "non-static", "multichannel"]
VARIANTS: tuple[str, ...] = ("rand", "static", "non-static", "multichannel")
# textcnn.data.tokenizer: Kim's clean_str and clean_str_sst, Unicode words (CJK by character), Chinese words by jieba,
# characters
TOKENIZERS: tuple[str, ...] = ("kim", "kim-sst", "unicode", "jieba", "char")
# how the tokenizers behave, saved with each model: 2 (issue #17) splits CJK into characters and Thai, Lao, Khmer,
# Myanmar into grapheme clusters, and adds jieba and char; 1 = before, kept so that older models tokenise as trained
TOKENIZER_VERSION = 2
TOKENIZER_VERSIONS: tuple[int, ...] = (1, 2)
OPTIMIZERS: tuple[str, ...] = ("adadelta", "adam", "sgd")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
LR_SCHEDULES: tuple[str, ...] = ("none", "plateau", "cosine")
# how the kept weights are chosen: the epoch with the best dev score (Kim 2014 §3.1 early stopping: accuracy; for
# multi-label or imbalanced data micro- or macro-averaged F1), or the last epoch (no dev split needed: Keras's
# `model.fit` without validation data); "auto" = accuracy for single-label, micro-f1 for multi-label models
SELECTIONS: tuple[str, ...] = ("auto", "accuracy", "macro-f1", "micro-f1", "last")
CLASS_WEIGHTS: tuple[str, ...] = ("balanced",)  # or None: every example weighs the same
THRESHOLD_TUNE = "tune"  # multi-label: one threshold per label, chosen on dev to maximise that label's F1
OOV_INITS: tuple[str, ...] = ("uniform", "match")  # unknown words: Kim's U[-0.25, 0.25], or the vectors' own scale
MAX_TOKENS = 1000  # texts are cut to their first 1000 tokens: Kim's sentences average ~20; bounds a hostile input
MAX_FILTER_SIZE = 5  # widths 1..5 are supported (Kim uses 3,4,5)
# an extra_vectors entry: a random channel widening each token's embedding to embedding_dim; with 50-d GloVe it is
# 250-d, beside 300-d vectors (or in the rand variant) it is not added at all
FILL_CHANNEL = "rand:fill"


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive; got {value!r}")


def _check_dev_fraction(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"dev_fraction must be in [0, 1) (0 = no dev split, with selection 'last'); got {value!r}")


def _is_number(value: Any) -> bool:
    """An int or float, not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_threshold(value: Any) -> None:
    if value == THRESHOLD_TUNE:
        return
    if not _is_number(value) or not 0.0 < value < 1.0:
        raise ConfigError(f"threshold must be a probability in (0, 1) or {THRESHOLD_TUNE!r}; got {value!r}")


def runtime(default: Any) -> Any:
    """A field that says how to run, not what to learn: it may change when a run is resumed, and is not compared."""
    return dataclasses.field(default=default, metadata={"runtime": True})


@dataclass(frozen=True)
class TextCNNConfig:
    """Architecture of the Kim CNN: embedding channels, filter bank, classifier head."""

    variant: Variant = "non-static"  # Kim 2014 §3.3 model variations
    filter_sizes: tuple[int, ...] = (3, 4, 5)  # Kim 2014 §3.1, window widths h
    n_filters: int = 100  # Kim 2014 §3.1, feature maps per width
    dropout: float = 0.5  # Kim 2014 §3.1, p
    max_norm: float | None = 3.0  # Kim 2014 §3.1, l2 constraint s on softmax weight rows; None = off
    embedding_dim: int = 300  # Kim 2014 §3.1, k (word2vec size); pretrained variants use the vectors' size
    # speed options the module reads (benchmarks/speed.py measures each; README "Speed")
    fused_conv: bool = runtime(False)  # all filter widths in one convolution (same function, one kernel launch)
    # with Adadelta, only the batch's embedding rows are updated: the same arithmetic, much less of it
    # (textcnn.training.optim); the other optimizers and torchrun use dense gradients
    sparse_embeddings: bool = True
    # the sizes of the extra fine-tuned channels, one per DataConfig.extra_vectors entry (set by fit from the vectors)
    extra_dims: tuple[int, ...] = ()

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
        object.__setattr__(self, "extra_dims", tuple(self.extra_dims))
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.extra_dims):
            raise ConfigError(f"extra_dims must be positive integers; got {self.extra_dims!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if self.max_norm is not None:
            _check_positive("max_norm", self.max_norm)

    @property
    def uses_vectors(self) -> bool:
        """True for the variants initialised from pretrained word vectors."""
        return self.variant != "rand"


@dataclass(frozen=True)
class BatchConfig:
    """How examples become mini-batches and how much of train is held out as dev (both tasks)."""

    batch_size: int = 50  # Kim 2014 §3.1, mini-batch size
    dev_fraction: float = 0.1  # Kim 2014 §3.1: 10% of train held out when there is no dev set; 0 = none

    def __post_init__(self) -> None:
        _check_positive("batch_size", self.batch_size)
        _check_dev_fraction(self.dev_fraction)


@dataclass(frozen=True)
class DataConfig(BatchConfig):
    """How raw text becomes token ids, batches and initial embeddings (saved with the model)."""

    tokenizer: str = "unicode"  # one of TOKENIZERS (textcnn.data.tokenizer says what each does)
    tokenizer_version: int = TOKENIZER_VERSION  # one of TOKENIZER_VERSIONS; a model saved without it is 1
    lowercase: bool = True  # Kim lowercases everything except TREC
    min_freq: int = 1  # Kim keeps every training word
    max_tokens: int | None = MAX_TOKENS  # longer texts are cut (with a warning); None = no cap
    bucket_by_length: bool = True  # batches of similar length, padding trimmed per batch (speed)
    # pretrained variants: a vectors file (or gensim KeyedVectors; None = $TEXTCNN_VECTORS, else word2vec trained
    # on the training texts); only a path is saved
    vectors: Any = None
    oov_init: str = "uniform"  # one of OOV_INITS
    # more vector sets, each its own fine-tuned channel of its own size beside the variant's (Yin & Schütze 2015,
    # multichannel-variable CNN): a vectors file as for `vectors`, "word2vec:DIM" / "fasttext:DIM" to train such
    # vectors on the training texts (fastText's subword vectors also cover words seen too rarely to learn), or
    # "rand:DIM", a channel initialised at random as in the rand variant, or FILL_CHANNEL ("rand:fill"), a random
    # channel as wide as it takes to bring one token's embedding up to the model's embedding_dim (Kim's k = 300)
    extra_vectors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_choice("tokenizer", self.tokenizer, TOKENIZERS)
        if isinstance(self.tokenizer_version, bool) or self.tokenizer_version not in TOKENIZER_VERSIONS:
            raise ConfigError(f"tokenizer_version must be one of {', '.join(map(str, TOKENIZER_VERSIONS))} "
                              f"(current: {TOKENIZER_VERSION}); got {self.tokenizer_version!r}")
        _check_positive("min_freq", self.min_freq)
        if self.max_tokens is not None and (isinstance(self.max_tokens, bool) or self.max_tokens < 1):
            raise ConfigError(f"max_tokens must be at least 1 or None; got {self.max_tokens!r}")
        _check_choice("oov_init", self.oov_init, OOV_INITS)
        if isinstance(self.extra_vectors, str):
            raise ConfigError("extra_vectors is a list of vector sources; wrap a single one in a list")
        object.__setattr__(self, "extra_vectors", tuple(str(v) for v in self.extra_vectors))
        if self.extra_vectors.count(FILL_CHANNEL) > 1:
            raise ConfigError(f"extra_vectors may name {FILL_CHANNEL!r} once: one channel fills the embedding up")


@dataclass(frozen=True)
class ImageDataConfig(BatchConfig):
    """How images become mini-batches (saved with the model)."""

    batch_size: int = 16
    augment: bool = False  # random flips and crops of the training images (textcnn.data.images)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the trainer reads only these, never a model field."""

    optimizer: str = "adadelta"  # Kim 2014 §3.1 (Zeiler 2012)
    lr: float | None = None  # None: 1.0 for Adadelta, 1e-3 for Adam, 0.01 for SGD
    rho: float = 0.95  # Kim's released code, Adadelta decay
    eps: float = 1e-6  # Kim's released code, Adadelta epsilon
    adam_eps: float = 1e-8  # Adam's ε: PyTorch's default (Kingma & Ba 2015); Keras's is 1e-7
    momentum: float = 0.9  # SGD only (the usual image-CNN value, e.g. He et al. 2016 §3.4)
    epochs: int = runtime(25)  # Kim's released code, n_epochs; a resumed run may be given more
    patience: int | None = None  # stop after this many epochs without a better dev score; None = all epochs
    # learning-rate schedule, stepped once per epoch (torch.optim.lr_scheduler): "none"; "plateau" =
    # ReduceLROnPlateau on dev accuracy, like Keras's callback; "cosine" = CosineAnnealingLR over `epochs`
    lr_schedule: str = "none"
    lr_factor: float = 0.5  # plateau: lr *= factor (Géron, Hands-On ML ch. 11, performance scheduling)
    lr_patience: int = 5  # plateau: cut after this many epochs without a better dev score (same source)
    selection: str = "auto"  # which epoch's weights are kept: one of SELECTIONS
    # multi-label: each example has zero or more labels; sigmoid outputs and BCEWithLogitsLoss on the same head
    multi_label: bool = False
    # "balanced": single-label loss weights n / (k · n_c) (scikit-learn's compute_class_weight); multi-label
    # pos_weight = negatives / positives per label (BCEWithLogitsLoss); None = every example weighs the same
    class_weight: str | None = None
    threshold: float | str = 0.5  # multi-label decision threshold: a probability in (0, 1), or "tune" (on dev)
    # mixup on the pooled features (Guo, Mao & Zhang 2019, senMixup; Zhang et al. 2018): each training batch is
    # mixed with a shuffled copy of itself, features and labels alike, by λ ~ Beta(mixup, mixup); 0 = off
    mixup: float = 0.0
    # adversarial training (Miyato, Dai & Goodfellow 2017; Goodfellow et al. 2015 for images): each step also
    # trains on the model's input (embedded tokens, or the images) moved by ε · g / ||g||₂ per example, g the
    # gradient of the loss there; ε = this value, 0 = off. Costs a second forward and backward pass per step
    adversarial: float = 0.0
    # train this many models (seeds seed, seed+1, ...; each keeps its best-dev epoch) and save them as one model
    # that averages their probabilities (textcnn.models.ensemble); 1 = one model
    ensemble: int = 1
    seed: int = 0
    device: str = runtime("auto")
    deterministic: bool = False  # torch.use_deterministic_algorithms + one thread
    # opt-in speed options (benchmarks/speed.py measures each; README "Speed" gives their effect)
    bf16: bool = False  # bfloat16 autocast for the forward pass (changes numerics slightly)
    compile: bool = False  # torch.compile the model (compile time is paid on the first batches)
    progress: bool = runtime(False)  # a tqdm bar over the batches (rank 0 only)
    dry_run: bool = False  # one tiny epoch on a few batches, for smoke tests
    dry_run_batches: int = 3

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("device", self.device, DEVICES)
        _check_positive("epochs", self.epochs)
        _check_positive("adam_eps", self.adam_eps)
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
        _check_choice("selection", self.selection, SELECTIONS)
        if self.class_weight is not None:
            _check_choice("class_weight", self.class_weight, CLASS_WEIGHTS)
        _check_threshold(self.threshold)
        if isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int) or self.ensemble < 1:
            raise ConfigError(f"ensemble must be a whole number of models ≥ 1; got {self.ensemble!r}")
        if not _is_number(self.mixup) or self.mixup < 0:
            raise ConfigError(f"mixup must be a Beta concentration α ≥ 0 (0 = off; 0.2-1 is usual); got {self.mixup!r}")
        if not _is_number(self.adversarial) or not 0 <= self.adversarial < float("inf"):
            raise ConfigError("adversarial must be the norm ε ≥ 0 of each example's input perturbation (0 = off); "
                              f"got {self.adversarial!r}")
        if not self.multi_label and self.threshold != 0.5:
            raise ConfigError("threshold applies to multi-label models (sigmoid outputs); set multi_label=True "
                              "(--multi-label) or leave threshold at 0.5")
        if self.selection == "last" and self.patience is not None:
            raise ConfigError("patience stops on the dev score, but selection 'last' keeps the last epoch; "
                              "drop patience or use selection 'accuracy'")

    @property
    def needs_dev(self) -> bool:
        """Whether training reads a dev score: to choose the kept epoch, to stop early, to cut the lr, or to tune
        the thresholds."""
        return (self.selection != "last" or self.patience is not None or self.lr_schedule == "plateau"
                or (self.multi_label and self.threshold == THRESHOLD_TUNE))

    @property
    def dev_metric(self) -> str:
        """The dev score that chooses the kept epoch, drives patience and the plateau schedule."""
        if self.selection in ("auto", "last"):
            return "micro-f1" if self.multi_label else "accuracy"
        return self.selection

    @property
    def learning_rate(self) -> float:
        """The learning rate in force: `lr`, or the optimizer's usual default."""
        if self.lr is not None:
            return self.lr
        return {"adadelta": 1.0, "sgd": 0.01}.get(self.optimizer, 1e-3)


PRESETS: dict[str, TextCNNConfig] = {v: TextCNNConfig(variant=v) for v in VARIANTS}

# Beyond Kim's recipe (issue 23): opt-in ingredients, each a set of estimator parameters; benchmarks/beyond_kim.py
# measures each alone, all together, and all but one
INGREDIENTS: dict[str, dict[str, Any]] = {
    "ensemble3": {"ensemble": 3},  # three seeds' probabilities averaged
    "mixup": {"mixup": 0.2},  # mixup of the pooled features (Guo, Mao & Zhang 2019)
    "fasttext": {"extra_vectors": ("fasttext:100",)},  # a fastText channel trained on the training texts
    # Adam with the plateau schedule, more epochs, early stopping
    "adam": {"optimizer": "adam", "lr": 1e-3, "lr_schedule": "plateau", "lr_patience": 2, "patience": 5,
             "epochs": 40},
}
# adversarial training's step in the strong recipe (not an ingredient of the benchmark's grid: it was measured on
# top of recipes, in the cells strong+adversarial0.5 and base+ensemble3+adversarial0.5)
STRONG_ADVERSARIAL = 0.5
# the ingredients of the "strong" recipe (README "Beyond Kim's recipe"), which adds adversarial training and a random
# channel filling each token up to Kim's k = 300 (FILL_CHANNEL) to them and keeps Kim's Adadelta and 25 epochs: of
# the four candidates run on all eight datasets it has the best mean dev accuracy (benchmarks/results/beyond_kim.md,
# "Candidates"). The first strong recipe (ensemble3, mixup, adam) is the benchmark's FIRST_STRONG
STRONG_INGREDIENTS: tuple[str, ...] = ("ensemble3",)


def combine(ingredients: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The estimator parameters of these ingredients together."""
    unknown = [name for name in ingredients if name not in INGREDIENTS]
    if unknown:
        raise ConfigError(f"unknown ingredients {unknown}; known: {', '.join(INGREDIENTS)}")
    return {key: value for name in ingredients for key, value in INGREDIENTS[name].items()}


# named recipes: estimator parameters on top of the defaults ("kim" = the defaults, Kim 2014 §3.1)
RECIPES: dict[str, dict[str, Any]] = {
    "kim": {},
    "strong": {**combine(STRONG_INGREDIENTS), "adversarial": STRONG_ADVERSARIAL, "extra_vectors": (FILL_CHANNEL,)},
    # the optimiser schedule alone: not better than Kim's Adadelta on dev, but it stops early (README)
    "adam": combine(["adam"]),
    # the runner-up of the first three candidates for "strong" (0.4 points less mean dev accuracy over the eight
    # datasets than the recipe without the fill channel, about half its time)
    "strong-adam": {**combine(["ensemble3", "mixup", "adam"]), "adversarial": STRONG_ADVERSARIAL},
}


def as_flags(params: dict[str, Any]) -> str:
    """Estimator parameters written as `train` options, a tuple as one repeated option per item."""
    return " ".join(f"--{name.replace('_', '-')} {item}" for name, value in params.items()
                    for item in (value if isinstance(value, tuple) else (value,)))


def recipe_params(name: str) -> dict[str, Any]:
    """The estimator parameters of a named recipe, e.g. `TextCNNClassifier(**recipe_params("strong"))`."""
    _check_choice("recipe", name, tuple(RECIPES))
    return dict(RECIPES[name])


C = TypeVar("C")


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
    """The JSON-ready dict of a config dataclass: tuples become lists, paths strings, other objects None."""
    return {f.name: to_json(getattr(config, f.name)) for f in dataclasses.fields(config)}


def to_json(value: Any) -> Any:
    """A parameter value as JSON: tuples become lists, paths strings, objects that cannot be saved None."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return None  # e.g. gensim KeyedVectors passed as `vectors`: not saved, only a path would be


def runtime_fields(cls: type) -> set[str]:
    """The fields of a config class that may change on resume (see `runtime`)."""
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("runtime")}


__all__ = [
    "CLASS_WEIGHTS",
    "INGREDIENTS",
    "LR_SCHEDULES",
    "PRESETS",
    "RECIPES",
    "SELECTIONS",
    "THRESHOLD_TUNE",
    "VARIANTS",
    "BatchConfig",
    "DataConfig",
    "ImageDataConfig",
    "TextCNNConfig",
    "TrainConfig",
    "as_flags",
    "combine",
    "config_from_dict",
    "config_to_dict",
    "recipe_params",
]
