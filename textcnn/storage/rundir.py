"""Run directories: weights in safetensors, everything else in JSON, every write atomic.

A run directory holds `model.safetensors` (best-dev weights), `config.json` (model, data and
training config plus `format_version`), `vocab.json`, `labels.json` (class names in class order)
and `metrics.json`. Nothing is ever unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..base.atomic import atomic_write, read_json, write_json
from ..base.config import DataConfig, TextCNNConfig, TrainConfig, config_from_dict, config_to_dict
from ..base.errors import CheckpointError, ConfigError
from ..base.version import __version__
from ..data.tokenizer import Vocabulary

FORMAT_VERSION = 1
WEIGHTS, CONFIG, VOCAB = "model.safetensors", "config.json", "vocab.json"
LABELS, METRICS = "labels.json", "metrics.json"


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

    model_config: TextCNNConfig
    data_config: DataConfig
    train_config: TrainConfig
    vocab: Vocabulary
    label_names: list[str | int]
    state_dict: dict[str, Tensor]


def save_run(
    run_dir: Path, module: nn.Module, model_config: TextCNNConfig, data_config: DataConfig,
    train_config: TrainConfig, vocab: Vocabulary, label_names: list[str | int],
) -> None:
    """Write weights, config, vocabulary and labels into an existing run directory."""
    save_weights(run_dir, module)
    write_json(run_dir / CONFIG, {
        "format_version": FORMAT_VERSION,
        "textcnn_version": __version__,
        "model": config_to_dict(model_config),
        "data": config_to_dict(data_config),
        "train": config_to_dict(train_config),
    })
    atomic_write(run_dir / VOCAB, vocab.save)
    write_json(run_dir / LABELS, [name.item() if hasattr(name, "item") else name for name in label_names])


def load_run(run_dir: str | os.PathLike) -> SavedRun:
    """Read a run directory written by `save_run`, checking its format version."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"model directory {run_dir} not found; train one with `textcnn train` or pass --model DIR"
        )
    config = read_json(run_dir / CONFIG)
    version = config.get("format_version") if isinstance(config, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{run_dir / CONFIG} has format_version {version!r}; this textcnn reads {FORMAT_VERSION}")
    try:
        configs = (
            config_from_dict(TextCNNConfig, config["model"]),
            config_from_dict(DataConfig, config["data"]),
            config_from_dict(TrainConfig, config["train"]),
        )
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{run_dir / CONFIG} is not a valid textcnn config: {err}") from err
    labels = read_json(run_dir / LABELS)
    if not isinstance(labels, list) or not labels or not all(type(x) in (str, int) for x in labels):
        raise CheckpointError(f"{run_dir / LABELS} must be a non-empty list of label names (strings or integers)")
    return SavedRun(*configs, Vocabulary.load(run_dir / VOCAB), labels, load_weights(run_dir))


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


