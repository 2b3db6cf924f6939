"""TextCNNClassifier: the library object, a scikit-learn estimator over raw texts."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..base.config import DataConfig, TextCNNConfig, TrainConfig
from ..base.errors import CheckpointError, ConfigError, DataError
from ..data.batches import TokenBatches
from ..data.embeddings import build_embedding_matrix, load_vectors, save_vectors, train_word2vec
from ..data.files import TextDataset
from ..data.splits import split_off_dev
from ..data.tokenizer import Tokenizer, Vocabulary
from ..models.text import TextCNN
from ..storage.rundir import load_run, prepare_run_dir, save_run
from ..training import distributed
from ..training.loop import FitResult, fit_model, predict_logits, resolve_device
from ..training.resume import RESUME_DIR, has_train_state
from .base import CNNClassifierBase
from .predictor import MAX_TOKENS, PREDICT_BATCH_SIZE, TextPredictor, check_texts, tokenize_texts

if TYPE_CHECKING:
    from gensim.models import KeyedVectors  # gensim takes ~1 s to import; embeddings.py imports it when used

log = logging.getLogger(__name__)

VECTORS_ENV = "TEXTCNN_VECTORS"


class TextCNNClassifier(CNNClassifierBase):
    """Kim (2014) CNN sentence classifier with the scikit-learn API: fit, predict, predict_proba, score.

    `vectors` (pretrained variants) is a path to word2vec/GloVe/fastText/.kv vectors, a gensim
    `KeyedVectors`, or None: then `$TEXTCNN_VECTORS`, else word2vec trained on the training texts.
    """

    def __init__(
        self, *, variant: str = "non-static", filter_sizes: Sequence[int] = (3, 4, 5), n_filters: int = 100,
        dropout: float = 0.5, max_norm: float | None = 3.0, embedding_dim: int = 300, vectors: Any = None,
        oov_init: str = "uniform", tokenizer: str = "unicode", lowercase: bool = True, min_freq: int = 1,
        optimizer: str = "adadelta", lr: float | None = None, batch_size: int = 50, epochs: int = 25,
        patience: int | None = None, lr_schedule: str = "none", lr_factor: float = 0.5, lr_patience: int = 5,
        dev_fraction: float = 0.1, seed: int = 0, device: str = "auto", deterministic: bool = False,
        bucket_by_length: bool = True, dry_run: bool = False, progress: bool = False,
        max_tokens: int | None = MAX_TOKENS, fused_conv: bool = False, bf16: bool = False, compile: bool = False,
        sparse_embeddings: bool = True,
    ) -> None:
        self.variant = variant
        self.filter_sizes = filter_sizes
        self.n_filters = n_filters
        self.dropout = dropout
        self.max_norm = max_norm
        self.embedding_dim = embedding_dim
        self.vectors = vectors
        self.oov_init = oov_init
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.min_freq = min_freq
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.dev_fraction = dev_fraction
        self.seed = seed
        self.device = device
        self.deterministic = deterministic
        self.bucket_by_length = bucket_by_length
        self.dry_run = dry_run
        self.progress = progress
        self.max_tokens = max_tokens
        self.fused_conv = fused_conv
        self.bf16 = bf16
        self.compile = compile
        self.sparse_embeddings = sparse_embeddings

    # ---- configs built from the parameters (validated there) ----
    def model_config(self, embedding_dim: int | None = None) -> TextCNNConfig:
        """The architecture these parameters describe."""
        return TextCNNConfig(
            variant=self.variant, filter_sizes=tuple(self.filter_sizes), n_filters=self.n_filters,
            dropout=self.dropout, max_norm=self.max_norm, embedding_dim=embedding_dim or self.embedding_dim,
        )

    def data_config(self) -> DataConfig:
        """Tokenizer and vocabulary settings."""
        return DataConfig(tokenizer=self.tokenizer, lowercase=self.lowercase, min_freq=self.min_freq)

    def train_config(self) -> TrainConfig:
        """Optimisation settings."""
        return TrainConfig(
            optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size, epochs=self.epochs,
            patience=self.patience, lr_schedule=self.lr_schedule, lr_factor=self.lr_factor,
            lr_patience=self.lr_patience, dev_fraction=self.dev_fraction, seed=self.seed, device=self.device,
            deterministic=self.deterministic, bucket_by_length=self.bucket_by_length, dry_run=self.dry_run,
            fused_conv=self.fused_conv, bf16=self.bf16, compile=self.compile, sparse_embeddings=self.sparse_embeddings,
        )

    # ---- training ----
    def fit(
        self, X: Sequence[str], y: Sequence[Any], *, dev: tuple[Sequence[str], Sequence[Any]] | None = None,
        label_names: Sequence[str] | None = None, checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False,
    ) -> TextCNNClassifier:
        """Train on texts `X` with labels `y`; `dev` for early stopping (else 10% of train is held out).

        `label_names` fixes the class order (e.g. a dataset's); by default it is the sorted labels.
        `checkpoint_dir`: a run directory (made if missing); config, vocabulary and labels are written there before
        training and the per-epoch resume state into its `resume/` folder. With `resume`, the model is rebuilt
        from that directory and training continues after its last finished epoch (same X, y and dev needed).
        """
        model_cfg, data_cfg, train_cfg = self.model_config(), self.data_config(), self.train_config()
        texts = check_texts(X)
        self._set_classes(y, label_names)
        train = TextDataset(texts, self._encode_labels(y, len(texts)), [str(c) for c in self.classes_])
        if dev is None:
            train, dev_set = split_off_dev(train, train_cfg.dev_fraction, train_cfg.seed)
        else:
            dev_texts = check_texts(dev[0])
            dev_set = TextDataset(dev_texts, self._encode_labels(dev[1], len(dev_texts)), train.label_names)
        self.tokenizer_ = Tokenizer(data_cfg.tokenizer, data_cfg.lowercase)
        train_tokens = self._tokenize(train.texts)
        if resume:
            self._rebuild_from(checkpoint_dir)
        else:
            self._init_model(model_cfg, Vocabulary.build(train_tokens, data_cfg.min_freq), train_tokens, checkpoint_dir)
        train_batches = self._batches(train_tokens, train.labels, train_cfg, shuffle=True)
        return self._fit_module(train_batches, self._dev_batches(dev_set, train_cfg), train_cfg, checkpoint_dir, resume)

    def fit_corpus(
        self, train_file: str | os.PathLike, dev_file: str | os.PathLike | None = None, *, text_column: str = "text",
        label_column: str = "label", cache_dir: str | os.PathLike | None = None, num_proc: int | None = None,
        checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
    ) -> TextCNNClassifier:
        """Train on a .tsv/.csv/.jsonl file larger than memory; model, run directory and resume work as in `fit`.

        The file is tokenised once into a memory-mapped cache (`textcnn.data.corpus.encode_corpus`, under `cache_dir`,
        by default `<datasets cache>/textcnn`) and each batch is gathered from it, so no text stays in memory.
        The classes are the file's labels, named as `load_files` names them. Without `dev_file`, `dev_fraction`
        of the rows are held out as in `fit`. Pretrained variants need `vectors` (or $TEXTCNN_VECTORS): this
        path does not train word2vec. `num_proc` tokenises in that many processes. Sets `train_examples_`.
        """
        from ..data.corpus import encode_corpus  # imports datasets: only this path pays for it

        model_cfg, data_cfg, train_cfg = self.model_config(), self.data_config(), self.train_config()
        if model_cfg.uses_vectors and self._vectors_source() is None:
            raise ConfigError(
                f"variant {self.variant!r} needs pretrained vectors when training from disk (word2vec is not "
                f"trained on this path); pass vectors=PATH (--vectors), set ${VECTORS_ENV}, or use variant 'rand'"
            )
        self.tokenizer_ = Tokenizer(data_cfg.tokenizer, data_cfg.lowercase)
        corpus = encode_corpus(
            train_file, dev_file, tokenizer=self.tokenizer_, min_freq=data_cfg.min_freq, max_tokens=self.max_tokens,
            dev_fraction=train_cfg.dev_fraction, seed=train_cfg.seed, text_column=text_column,
            label_column=label_column, cache_dir=cache_dir, num_proc=num_proc, progress=self.progress,
        )
        self._set_classes([], corpus.label_names)
        if resume:
            self._rebuild_from(checkpoint_dir)
            if self.vocab_.itos != corpus.vocab.itos:
                raise DataError(f"the vocabulary of {checkpoint_dir} differs from that of {train_file}; "
                                "resume with the same file and tokenizer settings")
        else:
            self._init_model(model_cfg, corpus.vocab, None, checkpoint_dir)
        self.train_examples_ = len(corpus.train)
        train = TokenBatches(corpus.train.ids, corpus.train.labels, train_cfg.batch_size, shuffle=True,
                             bucket_by_length=train_cfg.bucket_by_length)
        dev = TokenBatches(corpus.dev.ids, None, train_cfg.batch_size, shuffle=False,
                           bucket_by_length=train_cfg.bucket_by_length)
        return self._fit_module(train, (dev, corpus.dev.labels), train_cfg, checkpoint_dir, resume)

    def _init_model(
        self, model_cfg: TextCNNConfig, vocab: Vocabulary, tokens: list[list[str]] | None,
        checkpoint_dir: str | os.PathLike | None,
    ) -> None:
        """A fresh module over `vocab` (embeddings from vectors, or word2vec trained on `tokens`), saved first."""
        self.vocab_ = vocab
        distributed.check_same_on_every_rank("vocabulary", "\n".join(self.vocab_.itos))
        matrix, model_cfg = self._initial_embeddings(model_cfg, tokens, self.seed)
        torch.manual_seed(self.seed)  # the conv and linear initialisation: same seed, same model
        self.module_ = TextCNN(model_cfg, len(self.vocab_), len(self.classes_), matrix)
        if checkpoint_dir is not None and distributed.is_primary():
            Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
            self._save_files(Path(checkpoint_dir))  # first, so that a resumed run rebuilds this very model

    def _fit_module(
        self, train: TokenBatches, dev: tuple[TokenBatches, torch.Tensor], train_cfg: TrainConfig,
        checkpoint_dir: str | os.PathLike | None, resume: bool,
    ) -> TextCNNClassifier:
        """Train `module_` with `fit_model`, keeping the resume state in `checkpoint_dir`/resume."""
        self.module_.set_speed_options(fused_conv=train_cfg.fused_conv,
                                       sparse_embeddings=train_cfg.sparse_embeddings and self.optimizer == "adadelta")
        self.fit_result_: FitResult = fit_model(
            self.module_, train, train_cfg, dev=dev, progress=self.progress,
            resume_dir=None if checkpoint_dir is None else Path(checkpoint_dir) / RESUME_DIR, resume=resume,
        )
        self.device_ = next(self.module_.parameters()).device
        return self

    def _rebuild_from(self, run_dir: str | os.PathLike | None) -> None:
        """The vocabulary and the model of the run being resumed (its weights come from the resume state)."""
        if run_dir is None or not has_train_state(Path(run_dir) / RESUME_DIR):
            raise CheckpointError(f"{run_dir} holds no resume state ({RESUME_DIR}/state.json); nothing to resume")
        saved = load_run(run_dir)
        if [str(c) for c in saved.label_names] != [str(c) for c in self.classes_]:
            raise DataError(f"the labels {saved.label_names} of {run_dir} differ from this data's "
                            f"{list(self.classes_)}; resume with the same data")
        self.vocab_, self.coverage_, self.word2vec_ = saved.vocab, None, None
        self.module_ = TextCNN(saved.model_config, len(saved.vocab), len(saved.label_names))

    def _initial_embeddings(
        self, cfg: TextCNNConfig, tokens: list[list[str]] | None, seed: int
    ) -> tuple[torch.Tensor, TextCNNConfig]:
        """The embedding matrix to start from, and the config with the vectors' dimension."""
        vectors = self._resolve_vectors(tokens, seed) if cfg.uses_vectors else None
        dim = vectors.vector_size if vectors is not None else cfg.embedding_dim
        cfg = self.model_config(embedding_dim=dim)
        matrix, self.coverage_ = build_embedding_matrix(
            self.vocab_.itos, vectors, dim, counts=self.vocab_.counts, oov_init=self.oov_init,
            generator=torch.Generator().manual_seed(seed),
        )
        return matrix, cfg

    def _vectors_source(self) -> Any:
        """`vectors`, else $TEXTCNN_VECTORS, else None (train word2vec)."""
        return self.vectors if self.vectors is not None else os.environ.get(VECTORS_ENV) or None

    def _resolve_vectors(self, tokens: list[list[str]] | None, seed: int) -> KeyedVectors:
        self.word2vec_ = None
        source = self._vectors_source()
        if source is not None:
            return load_vectors(source, words=self.vocab_.itos)
        log.info("no --vectors and no $%s: training word2vec on the %d training texts", VECTORS_ENV, len(tokens))
        workers = 1 if self.deterministic else min(4, os.cpu_count() or 1)
        self.word2vec_ = train_word2vec(tokens, self.embedding_dim, seed=seed, workers=workers)
        return self.word2vec_

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of each text, cut to `max_tokens` with a warning when a text is longer."""
        return tokenize_texts(self.tokenizer_, texts, self.max_tokens)

    def _batches(self, tokens: list[list[str]], labels: list[int] | None, cfg: TrainConfig, shuffle: bool):
        ids = [self.vocab_.encode(t) for t in tokens]
        device = resolve_device(cfg.device)  # on a GPU the whole token tensor lives there: a step copies no data
        return TokenBatches(ids, labels, cfg.batch_size, shuffle=shuffle, bucket_by_length=cfg.bucket_by_length,
                            device=device if device.type == "cuda" else None)

    def _dev_batches(self, dev: TextDataset, cfg: TrainConfig):
        tokens = self._tokenize(dev.texts)
        return self._batches(tokens, None, cfg, shuffle=False), torch.tensor(dev.labels)

    # ---- prediction (by the sklearn-free TextPredictor, textcnn/estimators/predictor.py) ----
    @property
    def predictor_(self) -> TextPredictor:
        """The fitted model as a `TextPredictor` over `module_`, `tokenizer_`, `vocab_`, `classes_`, `max_tokens`."""
        self._check_fitted()
        return TextPredictor(self.module_, self.tokenizer_, self.vocab_, self.classes_, self.max_tokens, self.device_)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (n_texts, n_classes); rows sum to 1."""
        return self.predictor_.predict_proba(X)

    def score_file(
        self, path: str | os.PathLike, *, text_column: str = "text", label_column: str = "label",
        cache_dir: str | os.PathLike | None = None,
    ) -> float:
        """Accuracy on a labelled .tsv/.csv/.jsonl file, read through the on-disk cache as `fit_corpus` reads."""
        from ..data.corpus import encode_file  # imports datasets: only this path pays for it

        self._check_fitted()
        split = encode_file(
            path, self.vocab_, [str(c) for c in self.classes_], tokenizer=self.tokenizer_, max_tokens=self.max_tokens,
            text_column=text_column, label_column=label_column, cache_dir=cache_dir, progress=self.progress,
        )
        batches = TokenBatches(split.ids, None, PREDICT_BATCH_SIZE, shuffle=False, bucket_by_length=True)
        return (predict_logits(self.module_, batches, self.device_).argmax(dim=1) == split.labels).float().mean().item()

    def predict_records(self, X: Sequence[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """One dict per text: text, label, probability, and the `top_k` classes with probabilities."""
        return self.predictor_.predict_records(X, top_k)

    # ---- explanations (see textcnn/analysis/explain.py) ----
    def explain(self, text: str, label: Any = None) -> dict[str, Any]:
        """Why `text` got its label: the n-grams whose pooled features add up (with the bias) to the logit.

        Returns text, tokens, label, probability, logit, bias and `ngrams`: dicts with ngram, start, end
        (tokens[start:end], end exclusive), widths, contribution and n_features, most positive first.
        `label` explains another class's logit instead of the predicted one.
        """
        return self.predictor_.explain(text, label)

    def explain_filters(
        self, X: Sequence[str], top_filters: int = 5, top_ngrams: int = 5, max_sentences: int = 5000,
        rank_by: str = "contribution",
    ) -> dict[str, Any]:
        """For each class, its strongest filters and the n-grams of `X` (e.g. the training texts) that fire them most.

        `rank_by`: "contribution" (mean contribution to the class margin) or "weight" (classifier weight).
        """
        from ..analysis.explain import explain_filters

        p = self.predictor_
        return explain_filters(p.module, p.tokenize, p.vocab, p.class_names, check_texts(X), top_filters, top_ngrams,
                               max_sentences, rank_by, p.device)

    def neighbours(self, word: str, top_k: int = 5, compare: Sequence[str] = ()) -> dict[str, Any]:
        """The nearest words to `word` in the static and the fine-tuned channel (Kim 2014 Table 3).

        `compare`: words whose cosine similarity to `word` is reported per channel, e.g. ["good"] for "bad".
        """
        from ..analysis.explain import neighbours

        self._check_fitted()
        return neighbours(self.module_, self.vocab_, word, top_k, self.tokenizer_.lowercase, compare)

    # ---- persistence ----
    def save(self, path: str | os.PathLike, force: bool = False) -> Path:
        """Write a run directory (safetensors weights + JSON config, vocabulary, labels)."""
        self._check_fitted()
        run_dir = prepare_run_dir(path, force)
        self._save_files(run_dir)
        return run_dir

    def _save_files(self, run_dir: Path) -> None:
        save_run(
            run_dir, self.module_, self.module_.config, self.data_config(), self.train_config(),
            self.vocab_, list(self.classes_),
        )
        if getattr(self, "word2vec_", None) is not None:
            save_vectors(self.word2vec_, run_dir / "word2vec.txt")

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: str = "auto", max_tokens: int | None = MAX_TOKENS
    ) -> TextCNNClassifier:
        """Rebuild a classifier from a run directory written by `save` (nothing is unpickled)."""
        saved = load_run(path)
        m, d, t = saved.model_config, saved.data_config, saved.train_config
        clf = cls(
            variant=m.variant, filter_sizes=m.filter_sizes, n_filters=m.n_filters, dropout=m.dropout,
            max_norm=m.max_norm, embedding_dim=m.embedding_dim, tokenizer=d.tokenizer, lowercase=d.lowercase,
            min_freq=d.min_freq, optimizer=t.optimizer, lr=t.lr, batch_size=t.batch_size, epochs=t.epochs,
            patience=t.patience, lr_schedule=t.lr_schedule, lr_factor=t.lr_factor, lr_patience=t.lr_patience,
            dev_fraction=t.dev_fraction, seed=t.seed, device=device,
            deterministic=t.deterministic, bucket_by_length=t.bucket_by_length, max_tokens=max_tokens,
        )
        p = TextPredictor.from_saved(saved, path, device, max_tokens)
        clf.module_, clf.tokenizer_, clf.vocab_, clf.device_ = p.module, p.tokenizer, p.vocab, p.device
        clf.classes_ = p.classes
        return clf
