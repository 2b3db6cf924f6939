"""TextPredictor: a trained text model that predicts and explains, with neither scikit-learn nor gensim.

What must start fast (`textcnn predict`, a service, an export) uses this, not the estimator: importing scikit-learn
takes ~1.2 s and gensim ~1 s, each about as long as torch itself (benchmarks/startup.py). `TextCNNClassifier`
hands its predictions to one (`clf.predictor_`), so both give the same numbers, records and warnings.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..analysis.explain import explain_text
from ..base.config import MAX_TOKENS
from ..base.errors import ConfigError, DataError
from ..data.batches import TokenBatches
from ..data.tokenizer import Tokenizer, Vocabulary
from ..models.ensemble import ProbabilityAverage
from ..models.text import TextCNN
from ..models.weights import load_weights_into
from ..storage.rundir import SavedRun, load_run
from ..training.loop import one_thread_if_small, predict_logits, resolve_device
from .labels import predicted_labels, predictions

PREDICT_BATCH_SIZE = 256
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # textcnn/


@dataclass(eq=False)
class TextPredictor:
    """A trained TextCNN with its tokenizer, vocabulary and classes: predict, predict_proba, explain."""

    module: TextCNN
    tokenizer: Tokenizer
    vocab: Vocabulary
    classes: np.ndarray  # (K,) the labels in the module's output order, strings or integers as they were saved
    max_tokens: int | None = MAX_TOKENS
    device: torch.device = torch.device("cpu")
    multi_label: bool = False  # sigmoid outputs, one decision threshold per label
    thresholds: np.ndarray | None = None  # (K,) multi-label only; None = 0.5 for every label

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: str = "auto", max_tokens: int | None = MAX_TOKENS
    ) -> TextPredictor:
        """Rebuild the model of a run directory written by `TextCNNClassifier.save` (nothing is unpickled)."""
        return cls.from_saved(load_run(path, task="text"), path, device, max_tokens)

    @classmethod
    def from_pretrained(
        cls, path_or_repo_id: str | os.PathLike, device: str = "auto", max_tokens: int | None = MAX_TOKENS, **hub: Any
    ) -> TextPredictor:
        """`load` a local run directory or a Hub repo id (`hub`: revision, cache_dir, token, local_files_only)."""
        from ..storage.hub import resolve_run

        return cls.load(resolve_run(path_or_repo_id, **hub), device, max_tokens)

    @classmethod
    def from_saved(
        cls, saved: SavedRun, path: str | os.PathLike, device: str = "auto", max_tokens: int | None = MAX_TOKENS
    ) -> TextPredictor:
        """The model of a run directory `load_run(path)` has read (the weights are checked against its config)."""
        config = saved.module_config
        placeholder = torch.empty(len(saved.vocab), config.embedding_dim)  # the saved weights replace it: no RNG work
        members = [TextCNN(config, len(saved.vocab), len(saved.label_names), placeholder)
                   for _ in range(saved.train_config.ensemble)]
        module = members[0] if len(members) == 1 else ProbabilityAverage(members, saved.train_config.multi_label)
        load_weights_into(module, saved.state_dict, str(path))
        resolved = resolve_device(device)
        data = saved.data_config
        tokenizer = Tokenizer(data.tokenizer, data.lowercase, data.tokenizer_version)
        thresholds = None if saved.thresholds is None else np.asarray(saved.thresholds, dtype=np.float64)
        return cls(module.to(resolved).eval(), tokenizer, saved.vocab, np.asarray(saved.label_names), max_tokens,
                   resolved, saved.train_config.multi_label, thresholds)

    @property
    def label_thresholds(self) -> np.ndarray:
        """A multi-label model's decision threshold per label, (K,)."""
        return np.full(len(self.classes), 0.5) if self.thresholds is None else np.asarray(self.thresholds)

    @property
    def class_names(self) -> list[str]:
        """The classes as strings, as records and explanations name them."""
        return [str(c) for c in self.classes]

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text as the model sees them: cut to `max_tokens`, with a warning when longer."""
        return tokenize_texts(self.tokenizer, [text], self.max_tokens)[0]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (n_texts, n_classes): rows sum to 1, or (multi-label) one sigmoid per label."""
        return self.predict_proba_and_token_counts(texts)[0]

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens in each text before the `max_tokens` cut, (n_texts,)."""
        return np.array([len(self.tokenizer(t)) for t in check_texts(texts)], dtype=np.int64)

    def predict_proba_and_token_counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """`predict_proba` and `token_counts` from one tokenisation (a service reports cut or empty texts)."""
        texts = check_texts(texts)
        uncut = [self.tokenizer(t) for t in texts]
        tokens = cut_tokens(uncut, self.max_tokens)
        empty = [t for t, toks in zip(texts, tokens) if not toks]
        if empty:
            warn_caller(f"{len(empty)} text(s) have no tokens under the {self.tokenizer.name!r} tokenizer "
                        f"(e.g. {empty[0]!r}); predicted from zero features")
        ids = [self.vocab.encode(t) for t in tokens]
        batches = TokenBatches(ids, None, PREDICT_BATCH_SIZE, shuffle=False, bucket_by_length=True)
        with one_thread_if_small(sum(map(len, ids)), self.device):
            logits = predict_logits(self.module, batches, self.device)  # (N, K)
        probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        return probs.numpy().astype(np.float64), np.array([len(t) for t in uncut], dtype=np.int64)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text; multi-label: the 0/1 indicator matrix (n, K)."""
        return predictions(self.predict_proba(texts), self.classes, self.multi_label, self.label_thresholds)

    def predict_labels(self, texts: Sequence[str]) -> list[list[str]]:
        """The label names of each text, most probable first: those above their thresholds (multi-label), or
        the predicted class alone."""
        return predicted_labels(self.predict_proba(texts), self.class_names, self.multi_label, self.label_thresholds)

    def predict_records(self, texts: Sequence[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """One dict per text: text, label, probability, and the `top_k` classes with probabilities.

        Multi-label: text, `labels` (those above their thresholds, most probable first, maybe none) and the
        `top_k` most probable labels' probabilities.
        """
        texts = list(texts)
        return self.records(texts, self.predict_proba(texts), top_k)

    def records(self, texts: Sequence[str], probs: np.ndarray, top_k: int | None = None) -> list[dict[str, Any]]:
        """`predict_records` of texts whose probabilities (N, K) are already known (e.g. batched by a service)."""
        records = prediction_records("text", texts, probs, self.classes, top_k)
        if not self.multi_label:
            return records
        labels = predicted_labels(probs, self.class_names, True, self.label_thresholds)
        return [{"text": r["text"], "labels": chosen, "probabilities": r["probabilities"]}
                for r, chosen in zip(records, labels)]

    def explain(self, text: str, label: Any = None) -> dict[str, Any]:
        """Why `text` got its label: the n-grams whose pooled features add up (with the bias) to the logit.

        Returns text, tokens, label, probability, logit, bias and `ngrams`: dicts with ngram, start, end
        (tokens[start:end], end exclusive), widths, contribution and n_features, most positive first.
        `label` explains another class's logit instead of the predicted one (see textcnn/analysis/explain.py).
        """
        [text] = check_texts([text])
        names = self.class_names
        if label is not None and str(label) not in names:
            raise DataError(f"label {label!r} is not among the classes {names}")
        target = None if label is None else names.index(str(label))
        return explain_text(self.module, self.tokenize, self.vocab, names, text, target, self.device,
                            self.multi_label)

    def explain_labels(self, text: str) -> dict[str, Any]:
        """Multi-label: text, the predicted `labels` and one explanation (as `explain` gives) per predicted label."""
        [labels] = self.predict_labels([text])
        return {"text": text, "labels": labels, "explanations": [self.explain(text, label) for label in labels]}


def prediction_records(
    key: str, inputs: Sequence[Any], probs: np.ndarray, classes: Sequence[Any], top_k: int | None
) -> list[dict[str, Any]]:
    """One dict per input: `key`, label, probability, and the `top_k` classes with probabilities."""
    k = len(classes) if top_k is None else max(1, min(top_k, len(classes)))
    records = []
    for item, row in zip(inputs, probs):
        order = np.argsort(-row)[:k]
        records.append({
            key: item, "label": str(classes[order[0]]), "probability": float(row[order[0]]),
            "probabilities": {str(classes[i]): float(row[i]) for i in order},
        })
    return records


def tokenize_texts(tokenizer: Tokenizer, texts: Sequence[str], max_tokens: int | None) -> list[list[str]]:
    """Tokens of each text, cut to `max_tokens` (None = no cap) with a warning when a text is longer."""
    return cut_tokens([tokenizer(t) for t in texts], max_tokens)


def cut_tokens(tokens: list[list[str]], max_tokens: int | None) -> list[list[str]]:
    """Each token list cut to `max_tokens` (None = no cap), with one warning when any was longer."""
    if max_tokens is None:
        return tokens
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1 or None; got {max_tokens!r}")
    too_long = sum(len(t) > max_tokens for t in tokens)
    if too_long:
        warn_caller(f"{too_long} text(s) have more than {max_tokens} tokens; only the first {max_tokens} "
                    "are used (raise max_tokens / --max-tokens to keep more)")
    return [t[:max_tokens] for t in tokens]


def check_texts(X: Sequence[str]) -> list[str]:
    """Texts as a list of strings; empty or whitespace-only raw input is an error."""
    if isinstance(X, str):
        raise DataError("expected a list of texts, got a single string; wrap it in a list")
    texts = list(X)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"text {i} is {type(text).__name__}, not a string")
        if not text.strip():
            raise DataError(f"text {i} is empty or whitespace only; give a non-empty text")
        if not text.isascii() and _has_lone_surrogates(text):
            raise DataError(f"text {i} is not valid UTF-8 (undecodable bytes); convert the input to UTF-8")
    return texts


def warn_caller(message: str) -> None:
    """`warnings.warn(message)` attributed to the first caller outside textcnn (3.12's `skip_file_prefixes`)."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 is the frame that called this function
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def _has_lone_surrogates(text: str) -> bool:
    """True for strings made from undecodable bytes (Python's surrogateescape for argv and stdin)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
