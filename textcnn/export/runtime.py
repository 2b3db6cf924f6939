"""Run an exported folder with onnxruntime: texts (or images) in, probabilities out, without torch.

    model = OnnxTextModel.load("exported/sst2")
    model.predict_proba(["a gripping , funny film"])  # (1, K), as TextPredictor.predict_proba gives

This is the contract of the folder's contract.json written as code (and what tests/export checks against PyTorch):
textcnn's Tokenizer and the copied vocabulary make the ids, texts are cut to max_tokens, right-padded with PAD_ID
per batch of similar lengths, and the graph gives the probabilities. It imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..base.atomic import read_json
from ..base.errors import CheckpointError, ConfigError, DataError
from ..base.tokens import PAD_ID
from ..data.tokenizer import Tokenizer, Vocabulary
from .contract import (
    CONTRACT_FILE,
    FORMAT,
    FORMAT_VERSION,
    LABELS_FILE,
    MODEL_FILE,
    ONNX_EXTRA,
    OUTPUT,
    THRESHOLDS_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
)

BATCH_SIZE = 256  # texts per onnxruntime call, as TextPredictor's PREDICT_BATCH_SIZE
IMAGE_BATCH_SIZE = 512  # images per call, as ImageCNNClassifier's


@dataclass(eq=False)
class OnnxTextModel:
    """An exported text model: tokenise with textcnn's Tokenizer, look up the vocabulary, run the ONNX graph."""

    session: Any  # onnxruntime.InferenceSession
    tokenizer: Tokenizer
    vocab: Vocabulary
    classes: np.ndarray  # (K,) labels.json, in the graph's output order
    max_tokens: int | None
    multi_label: bool = False
    thresholds: np.ndarray | None = None  # (K,) multi-label only

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> OnnxTextModel:
        """The folder `textcnn export` wrote; `threads`: onnxruntime's intra-op threads (None: its default)."""
        path = Path(path)
        contract = read_contract(path, "text")
        spec = _read(path / TOKENIZER_FILE)
        thresholds = _read(path / THRESHOLDS_FILE) if contract["multi_label"] else None
        return cls(_session(path / MODEL_FILE, threads), Tokenizer(spec["name"], spec["lowercase"], spec["version"]),
                   Vocabulary.load(path / VOCAB_FILE), np.asarray(_read(path / LABELS_FILE)), spec["max_tokens"],
                   contract["multi_label"], None if thresholds is None else np.asarray(thresholds, dtype=np.float64))

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The tokens of each text as the model sees them: cut to `max_tokens`, with a warning when longer."""
        if isinstance(texts, str):
            raise DataError("expected a list of texts, got a single string; wrap it in a list")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"text {i} is {type(text).__name__}, not a string")
            if not text.strip():
                raise DataError(f"text {i} is empty or whitespace only; give a non-empty text")
        tokens = [self.tokenizer(text) for text in texts]
        too_long = 0 if self.max_tokens is None else sum(len(t) > self.max_tokens for t in tokens)
        if too_long:
            warnings.warn(f"{too_long} text(s) have more than {self.max_tokens} tokens; only the first "
                          f"{self.max_tokens} are used", UserWarning, stacklevel=3)
        return [t[:self.max_tokens] for t in tokens]

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The graph's inputs for `texts`: ids (B, L) right-padded with PAD_ID (L >= 1) and lengths (B,), int64."""
        return pad([self.vocab.encode(t) for t in self.tokenize(texts)])

    def run(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The graph on prepared inputs (see `encode`): probabilities (B, K), float32."""
        return self.session.run([OUTPUT], {"ids": ids, "lengths": lengths})[0]

    def predict_proba(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Class probabilities (N, K), float64: rows sum to 1, or (multi-label) one sigmoid per label."""
        ids = [self.vocab.encode(t) for t in self.tokenize(texts)]
        empty = sum(not row for row in ids)
        if empty:
            warnings.warn(f"{empty} text(s) have no tokens under the {self.tokenizer.name!r} tokenizer; predicted "
                          "from zero features", UserWarning, stacklevel=2)
        probs = np.zeros((len(ids), len(self.classes)), dtype=np.float64)
        order = np.argsort([len(row) for row in ids], kind="stable")  # similar lengths together: little padding
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            probs[chosen] = self.run(*pad([ids[i] for i in chosen]))
        return probs

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text; multi-label: the 0/1 indicator matrix (N, K) at the thresholds."""
        probs = self.predict_proba(texts)
        if self.multi_label:
            thresholds = np.full(len(self.classes), 0.5) if self.thresholds is None else self.thresholds
            return (probs >= thresholds[None, :]).astype(np.int64)
        return self.classes[probs.argmax(axis=1)]


@dataclass(eq=False)
class OnnxImageModel:
    """An exported image model: float images (N, C, H, W) in [0, 1] in, probabilities out."""

    session: Any  # onnxruntime.InferenceSession
    classes: np.ndarray  # (K,)
    shape: tuple[int, int, int]  # (C, H, W) the graph takes

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> OnnxImageModel:
        """The folder `textcnn export` wrote for an image run."""
        path = Path(path)
        contract = read_contract(path, "image")
        shape = tuple(contract["inputs"]["images"]["shape"][1:])
        return cls(_session(path / MODEL_FILE, threads), np.asarray(_read(path / LABELS_FILE)), shape)

    def predict_proba(self, images: Any, batch_size: int = IMAGE_BATCH_SIZE) -> np.ndarray:
        """Class probabilities (N, K), float64; (N, H, W) images gain a channel axis."""
        images = np.asarray(images, dtype=np.float32)
        images = images[:, None] if images.ndim == 3 else images
        if images.ndim != 4 or images.shape[1:] != self.shape:
            expected = ", ".join(map(str, self.shape))
            raise DataError(f"images have shape {images.shape}; this model takes (N, {expected})")
        parts = [self.session.run([OUTPUT], {"images": images[i:i + batch_size]})[0]
                 for i in range(0, len(images), batch_size)]
        return np.concatenate(parts).astype(np.float64) if parts else np.empty((0, len(self.classes)))

    def predict(self, images: Any) -> np.ndarray:
        """The most probable class of each image."""
        return self.classes[self.predict_proba(images).argmax(axis=1)]


def pad(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token-id rows as ids (B, max(1, longest)) right-padded with PAD_ID, and lengths (B,); both int64."""
    lengths = np.array([len(row) for row in rows], dtype=np.int64)  # (B,)
    ids = np.full((len(rows), max(1, int(lengths.max(initial=0)))), PAD_ID, dtype=np.int64)  # (B, L)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
    return ids, lengths


def read_contract(path: Path, task: str) -> dict[str, Any]:
    """contract.json of an exported folder, checked to be ours, of this format version and of `task`."""
    if not path.is_dir():
        raise CheckpointError(f"export folder {path} not found; write one with `textcnn export --out {path}`")
    contract = _read(path / CONTRACT_FILE)
    if not isinstance(contract, dict) or contract.get("format") != FORMAT:
        raise CheckpointError(f"{path / CONTRACT_FILE} is not a textcnn ONNX contract")
    if contract.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path / CONTRACT_FILE} has format_version {contract.get('format_version')!r}; "
                              f"this textcnn reads {FORMAT_VERSION}")
    if contract.get("task") != task:
        runner = {"text": "OnnxTextModel", "image": "OnnxImageModel"}.get(contract.get("task"), "another runner")
        raise CheckpointError(f"{path} holds a {contract.get('task')} model ({task} expected); use {runner}")
    return contract


def _read(path: Path) -> Any:
    return read_json(path, "textcnn ONNX export")


def _session(path: Path, threads: int | None) -> Any:
    """An onnxruntime CPU session for `path`, on `threads` intra-op threads (and one inter-op thread)."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ConfigError(f"running an exported model needs onnxruntime: {ONNX_EXTRA}") from err
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
