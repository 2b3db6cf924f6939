"""Export a run directory as ONNX: the network with a probability output, plus what it takes to feed it.

The graph comes from `torch.onnx.export(..., dynamo=False)`, the TorchScript-based exporter: it needs no onnxscript,
and at opset 17 it keeps the masked max-over-time and the empty-input rule (a row of length 0 pools to zeros).
After writing, the graph is run by onnxruntime on a probe batch (lengths 0, 1, the widest filter and longer) and
compared with PyTorch, so a graph that computes something else is never left behind as a finished export.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..base.atomic import atomic_write, write_json
from ..base.errors import CheckpointError
from ..base.tokens import PAD_ID
from ..estimators.predictor import TextPredictor
from ..storage.rundir import LABELS, VOCAB, load_run
from .contract import (
    CONTRACT_FILE,
    EXPORT_FILES,
    LABELS_FILE,
    MODEL_FILE,
    OPSET,
    OUTPUT,
    README_FILE,
    THRESHOLDS_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
    image_contract,
    readme,
    require_onnx,
    text_contract,
    tokenizer_description,
)

EXPORTER = f"torch.onnx.export, TorchScript-based (dynamo=False), torch {torch.__version__}"
PROBE_TOLERANCE = 1e-5  # max |onnxruntime - PyTorch| probability on the probe batch (float32 rounding is ~1e-7)
PROBE_SEED = 0


class TextProbabilities(nn.Module):
    """A TextCNN whose output is probabilities: softmax (single-label) or one sigmoid per label (multi-label)."""

    def __init__(self, module: nn.Module, multi_label: bool) -> None:
        super().__init__()
        self.module, self.multi_label = module, multi_label

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        # ids: (B, L) right-padded with PAD_ID; lengths: (B,) real tokens per row
        logits = self.module(ids, lengths)  # (B, K)
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)  # (B, K)


class ImageProbabilities(nn.Module):
    """An image CNN whose output is the softmax over its classes."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: Tensor) -> Tensor:
        # images: (B, C, H, W) in [0, 1]
        return torch.softmax(self.module(images), dim=1)  # (B, K)


def export_run(model_dir: str | os.PathLike, out: str | os.PathLike, force: bool = False) -> Path:
    """Write the run directory `model_dir` (text or image) to the folder `out` as ONNX; returns `out`.

    A non-empty `out` needs `force` (then the files of an earlier export there are replaced). Text: model.onnx
    (ids, lengths → probabilities), tokenizer.json, vocab.json, labels.json, thresholds.json (multi-label),
    contract.json and README.md; image: model.onnx (images → probabilities), labels.json, contract.json, README.md.
    """
    require_onnx()
    model_dir, out = Path(model_dir), Path(out)
    _check_out(model_dir, out, force)
    saved = load_run(model_dir)
    if saved.task == "text":
        predictor = TextPredictor.from_saved(saved, model_dir, device="cpu")
        _write_text(predictor, model_dir, _prepare_out(out))
    else:
        from ..estimators.image import ImageCNNClassifier  # scikit-learn: only for image runs

        _write_image(ImageCNNClassifier.load(model_dir, device="cpu"), model_dir, _prepare_out(out))
    return out


def _write_text(predictor: TextPredictor, model_dir: Path, out: Path) -> None:
    wrapper = TextProbabilities(predictor.module, predictor.multi_label).eval()
    probe = text_probe(len(predictor.vocab), max(predictor.module.config.filter_sizes))
    _write_graph(wrapper, probe, {"ids": {0: "batch", 1: "length"}, "lengths": {0: "batch"}}, out / MODEL_FILE)
    tok = predictor.tokenizer
    tokenizer = tokenizer_description(tok.name, tok.lowercase, tok.version, predictor.max_tokens)
    _copy(model_dir / VOCAB, out / VOCAB_FILE)
    _copy(model_dir / LABELS, out / LABELS_FILE)
    if predictor.multi_label:
        write_json(out / THRESHOLDS_FILE, [float(t) for t in predictor.label_thresholds])
    contract = text_contract(tokenizer, len(predictor.classes), predictor.multi_label, str(model_dir), EXPORTER)
    _write_description(out, contract, tokenizer)


def _write_image(clf: Any, model_dir: Path, out: Path) -> None:
    config = clf.config_
    wrapper = ImageProbabilities(clf.module_).eval()
    generator = torch.Generator().manual_seed(PROBE_SEED)
    probe = (torch.rand(3, config.in_channels, config.image_size, config.image_size, generator=generator),)
    _write_graph(wrapper, probe, {"images": {0: "batch"}}, out / MODEL_FILE)
    _copy(model_dir / LABELS, out / LABELS_FILE)
    contract = image_contract(config.in_channels, config.image_size, len(clf.classes_), str(model_dir), EXPORTER)
    _write_description(out, contract, None)


def text_probe(vocab_size: int, widest: int) -> tuple[Tensor, Tensor]:
    """A right-padded batch with an empty row, a 1-token row, a row as long as the widest filter and a longer one."""
    lengths = torch.tensor([0, 1, widest, widest + 5], dtype=torch.int64)  # (B,)
    generator = torch.Generator().manual_seed(PROBE_SEED)
    ids = torch.randint(1, max(vocab_size, 2), (len(lengths), int(lengths.max())), generator=generator)  # (B, L)
    ids = ids.masked_fill(torch.arange(ids.shape[1]) >= lengths.unsqueeze(1), PAD_ID)  # (B, L)
    return ids, lengths


def _write_graph(wrapper: nn.Module, probe: tuple[Tensor, ...], input_axes: dict[str, dict[int, str]],
                 path: Path) -> None:
    """Export `wrapper` (dynamic axes as named) to `path`, then check onnxruntime against PyTorch on `probe`."""
    def export(tmp: Path) -> None:
        with warnings.catch_warnings():  # its deprecation notices: the legacy exporter is the one we want (above)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(wrapper, probe, str(tmp), input_names=list(input_axes), output_names=[OUTPUT],
                              dynamic_axes={**input_axes, OUTPUT: {0: "batch"}}, opset_version=OPSET, dynamo=False)
        wrapper.eval()  # torch.onnx.export restores the training flag it found; keep dropout off for the check
        _check_graph(tmp, wrapper, probe, list(input_axes))

    atomic_write(path, export)


def _check_graph(path: Path, wrapper: nn.Module, probe: tuple[Tensor, ...], names: list[str]) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [got] = session.run([OUTPUT], {name: t.numpy() for name, t in zip(names, probe)})
    with torch.inference_mode():
        expected = wrapper(*probe).numpy()
    gap = float(np.abs(got - expected).max())
    if not gap <= PROBE_TOLERANCE:
        raise RuntimeError(f"the ONNX graph differs from PyTorch by {gap:.2e} on the probe batch "
                           f"(tolerance {PROBE_TOLERANCE:g}): an export bug, please report it")


def _check_out(model_dir: Path, out: Path, force: bool) -> None:
    """Refuse a file, the run directory itself, or (without `force`) a non-empty folder as `out`."""
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and model_dir.is_dir() and out.resolve() == model_dir.resolve():
        raise CheckpointError(f"--out {out} is the run directory itself; choose another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CheckpointError(f"export directory {out} is not empty; pass --force to overwrite or choose another --out")


def _prepare_out(out: Path) -> Path:
    """Create `out`; remove an earlier export's files there (other files are left alone)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in EXPORT_FILES:
        if (out / name).is_file():
            (out / name).unlink()
    return out


def _copy(source: Path, target: Path) -> None:
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def _write_description(out: Path, contract: dict[str, Any], tokenizer: dict[str, Any] | None) -> None:
    if tokenizer is not None:
        write_json(out / TOKENIZER_FILE, tokenizer)
    write_json(out / CONTRACT_FILE, contract)
    text = readme(contract, tokenizer)
    atomic_write(out / README_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
