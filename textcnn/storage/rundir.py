"""Run directories, one format for both tasks: weights in safetensors, everything else in JSON, every write atomic.

A run directory holds `model.safetensors` (the kept weights), `config.json`, `labels.json` (class names in class
order), `vocab.json` (text only) and `metrics.json`. `config.json` is `format_version`, `textcnn_version`, `task`
("text" or "image"), one section per config dataclass of that task (`model`, `data`, `train`: the estimator's
parameters, field for field), `fitted` (what training fixed in the module's config that no parameter gives, e.g. the
embedding size of pretrained vectors) and `trained` (what training computed from the data: `class_weights` under
class_weight "balanced", and a multi-label model's per-label decision `thresholds`, in labels.json's order; a run
saved before it existed has none). Format 1 (before the sections held every parameter) still loads. A text run whose
"data" section has no `tokenizer_version` loads as version 1, the tokenizers it was trained with. Nothing is ever
unpickled.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..base.atomic import atomic_write, read_json, write_json
from ..base.config import (
    DataConfig,
    ImageDataConfig,
    TextCNNConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    runtime_fields,
)
from ..base.errors import CheckpointError, ConfigError, DataError
from ..base.version import __version__
from ..data.tokenizer import Vocabulary
from ..models.image import ImageCNNConfig

FORMAT_VERSION = 2  # 2: `task`, every parameter in its section, `fitted`; 1: text sections without the speed fields
WEIGHTS, CONFIG, VOCAB = "model.safetensors", "config.json", "vocab.json"
LABELS, METRICS = "labels.json", "metrics.json"
SECTIONS = ("model", "data", "train")
# the config classes of each task, by section
TASKS: dict[str, dict[str, type]] = {
    "text": {"model": TextCNNConfig, "data": DataConfig, "train": TrainConfig},
    "image": {"model": ImageCNNConfig, "data": ImageDataConfig, "train": TrainConfig},
}
# a text run saved without "tokenizer_version" (format 1, and format 2 before issue #17) tokenised as version 1
TOKENIZER_VERSION_BEFORE_FIELD = 1
# format 1 kept these in "train"; format 2 keeps them where their reader is
_V1_MOVED = {"fused_conv": "model", "sparse_embeddings": "model", "batch_size": "data", "dev_fraction": "data",
             "bucket_by_length": "data"}


def prepare_run_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Create `path` for a new run; an existing non-empty directory needs `force`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a directory; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise CheckpointError(f"run directory {path} already exists; pass --force to overwrite or choose another --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def point_latest(run_dir: Path, root: Path) -> None:
    """Make `root/latest` a symlink to `run_dir` (a folder under `root`), replaced atomically."""
    link = root / "latest"
    if link.exists() and not link.is_symlink():
        return  # a real folder named "latest" is the user's: never replace it
    tmp = root / f".latest.{os.getpid()}.tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(run_dir, root), target_is_directory=True)
    os.replace(tmp, link)


@dataclass
class SavedRun:
    """The contents of a run directory, before a model is built from them."""

    task: str
    model_config: Any
    data_config: Any
    train_config: TrainConfig
    label_names: list[str | int]
    state_dict: dict[str, Tensor]
    vocab: Vocabulary | None = None
    fitted: dict[str, Any] = field(default_factory=dict)
    trained: dict[str, Any] = field(default_factory=dict)  # class_weights, thresholds (see the module docstring)

    @property
    def thresholds(self) -> list[float] | None:
        """A multi-label model's decision threshold per label (labels.json's order); None for single-label."""
        if not self.train_config.multi_label:
            return None
        return self.trained.get("thresholds") or [self.train_config.threshold] * len(self.label_names)

    @property
    def module_config(self) -> Any:
        """The model config the saved module was built with (the parameters, with what training fixed)."""
        return dataclasses.replace(self.model_config, **self.fitted)


def describe_run(task: str, configs: dict[str, Any], fitted: dict[str, Any] | None = None,
                 trained: dict[str, Any] | None = None) -> dict[str, Any]:
    """config.json's contents for a model of `task` with these section configs."""
    if set(configs) != set(TASKS[task]):
        raise ValueError(f"a {task} run needs the sections {sorted(TASKS[task])}; got {sorted(configs)}")
    return {"format_version": FORMAT_VERSION, "textcnn_version": __version__, "task": task,
            **{name: config_to_dict(configs[name]) for name in SECTIONS}, "fitted": dict(fitted or {}),
            "trained": dict(trained or {})}


def save_run(
    run_dir: Path, module: nn.Module, description: dict[str, Any], label_names: list[Any],
    vocab: Vocabulary | None = None,
) -> None:
    """Write weights, config (see `describe_run`), labels and (text) vocabulary into an existing run directory."""
    save_weights(run_dir, module)
    save_description(run_dir, description, label_names, vocab)


def save_description(
    run_dir: Path, description: dict[str, Any], label_names: list[Any], vocab: Vocabulary | None = None,
) -> None:
    """Everything but the weights: written first when training starts, so a resumed run rebuilds the same model."""
    write_json(run_dir / CONFIG, description)
    write_json(run_dir / LABELS, [name.item() if hasattr(name, "item") else name for name in label_names])
    if vocab is not None:
        atomic_write(run_dir / VOCAB, vocab.save)


def load_run(run_dir: str | os.PathLike, task: str | None = None, weights: bool = True) -> SavedRun:
    """Read a run directory written by `save_run` (or by format 1); `task` refuses a run of the other task."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"model directory {run_dir} not found; train one with `textcnn train` (or train-image) or pass --model DIR"
        )
    config = read_description(run_dir)
    if task is not None and config["task"] != task:
        other = {"text": "`textcnn predict`", "image": "`textcnn predict-image`"}[config["task"]]
        raise CheckpointError(f"{run_dir} holds a {config['task']} model ({task} expected); use {other}")
    sections = TASKS[config["task"]]
    try:
        configs = {name: config_from_dict(cls, config[name]) for name, cls in sections.items()}
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{run_dir / CONFIG} is not a valid textcnn {config['task']} config: {err}") from err
    labels = read_json(run_dir / LABELS)
    if not isinstance(labels, list) or len(labels) < 2 or not all(type(x) in (str, int) for x in labels):
        raise CheckpointError(f"{run_dir / LABELS} must list at least two label names (strings or integers)")
    vocab = Vocabulary.load(run_dir / VOCAB) if config["task"] == "text" else None
    state = load_weights(run_dir) if weights else {}
    trained = config.get("trained") or {}
    _check_trained(run_dir, trained, len(labels))
    return SavedRun(config["task"], configs["model"], configs["data"], configs["train"], labels, state, vocab,
                    config["fitted"], trained)


def _check_trained(run_dir: Path, trained: dict[str, Any], n_labels: int) -> None:
    """Each per-label list of `trained` has one number per label."""
    for key in ("class_weights", "thresholds"):
        values = trained.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != n_labels
                                   or not all(isinstance(v, int | float) for v in values)):
            raise CheckpointError(f"{run_dir / CONFIG}: trained.{key} must list one number per label "
                                  f"({n_labels}); got {values!r}")


def read_description(run_dir: Path) -> dict[str, Any]:
    """config.json as a format-2 dict (a format-1 file is converted in memory), its version checked.

    A text run saved without `tokenizer_version` gets version 1, so that load, predict and resume all tokenise
    as it was trained.
    """
    config = read_json(run_dir / CONFIG)
    version = config.get("format_version") if isinstance(config, dict) else None
    if version == 1:
        config = _from_format_1(config)
    elif version != FORMAT_VERSION:
        raise CheckpointError(f"{run_dir / CONFIG} has format_version {version!r}; this textcnn reads 1 and "
                              f"{FORMAT_VERSION}")
    if config.get("task") not in TASKS:
        raise CheckpointError(f"{run_dir / CONFIG} names task {config.get('task')!r}; expected text or image")
    data = config.get("data")
    if config["task"] == "text" and isinstance(data, dict) and "tokenizer_version" not in data:
        config = {**config, "data": {**data, "tokenizer_version": TOKENIZER_VERSION_BEFORE_FIELD}}
    return config


def _from_format_1(config: dict[str, Any]) -> dict[str, Any]:
    """A format-1 config in format 2: speed and batching fields move out of "train" to where they are read."""
    task = config.get("task", "text")
    train = dict(config.get("train") or {})
    sections = {"model": dict(config.get("model") or {}), "data": dict(config.get("data") or {}), "train": train}
    for key, section in _V1_MOVED.items():
        if key in train:
            value = train.pop(key)
            if key in {f.name for f in dataclasses.fields(TASKS[task][section])}:
                sections[section][key] = value
    fitted = {}
    if task == "text" and "embedding_dim" in sections["model"]:
        fitted["embedding_dim"] = sections["model"]["embedding_dim"]  # format 1 saved the module's size
    return {**config, "format_version": FORMAT_VERSION, "task": task, **sections, "fitted": fitted}


def check_resumable(run_dir: Path, description: dict[str, Any], label_names: list[Any]) -> None:
    """Refuse to resume `run_dir` with settings or labels other than those it was started with (runtime fields aside).

    Both tasks compare every section field for field; the message names the first setting that differs.
    """
    saved = read_description(run_dir)
    if saved["task"] != description["task"]:
        raise ConfigError(f"{run_dir} holds a {saved['task']} run; it cannot be resumed as a {description['task']} one")
    for section, cls in TASKS[description["task"]].items():
        skip = runtime_fields(cls)
        for name, value in description[section].items():
            before = saved[section].get(name, value)
            if name not in skip and before != value:
                raise ConfigError(f"{run_dir} was started with other settings: {name}={before!r}, not {value!r}; "
                                  "resume with the same settings (textcnn train --resume RUN takes them from the run)")
    labels = read_json(run_dir / LABELS)
    if [str(x) for x in labels] != [str(x) for x in label_names]:
        raise DataError(f"the labels {labels} of {run_dir} differ from this data's {list(label_names)}; resume "
                        "with the same data")


MEMBER_FREE = {"seed", "ensemble"}  # the seed is a member's key in a member store; the ensemble size changes no member


def member_settings(description: dict[str, Any]) -> dict[str, Any]:
    """What makes two trained models of one seed the same ensemble member (see `textcnn.training.members`): every
    section field but the runtime ones, the seed and the ensemble size, and what the data and training fixed."""
    task = description["task"]
    settings = {"task": task, "fitted": description["fitted"], "trained": description["trained"]}
    for section, cls in TASKS[task].items():
        skip = runtime_fields(cls) | MEMBER_FREE
        settings[section] = {name: value for name, value in description[section].items() if name not in skip}
    return settings


def save_weights(run_dir: Path, module: nn.Module) -> None:
    """Atomically write `module`'s state dict as `model.safetensors` (CPU, contiguous)."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(run_dir / WEIGHTS, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))


def load_weights(run_dir: Path) -> dict[str, Tensor]:
    """The state dict in `run_dir/model.safetensors`; missing or corrupt is a CheckpointError."""
    path = run_dir / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {run_dir} is not a complete textcnn run directory")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is corrupt or not a safetensors file: {err}") from err


