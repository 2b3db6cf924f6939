"""TextCNNClassifier: the library object, a scikit-learn estimator over raw texts."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base.config import MAX_TOKENS, TOKENIZER_VERSION, DataConfig, TextCNNConfig
from ..base.errors import ConfigError, DataError
from ..data.batches import TokenBatches
from ..data.embeddings import (
    VECTORS_ENV,
    build_embedding_matrix,
    fill_channel,
    resolve_extra_vectors,
    resolve_vectors,
    save_vectors,
    vectors_source,
)
from ..data.files import TextDataset
from ..data.splits import split_off_dev
from ..data.tokenizer import Tokenizer, Vocabulary, kim_on_cjk_warning
from ..models.text import TextCNN
from ..storage.rundir import SavedRun, load_run
from ..training import distributed
from ..training.loop import predict_logits, resolve_device
from .base import CNNClassifierBase, require_resume_state, store_params
from .labels import label_matrix
from .predictor import PREDICT_BATCH_SIZE, TextPredictor, check_texts, tokenize_texts, warn_caller

log = logging.getLogger(__name__)


class TextCNNClassifier(CNNClassifierBase):
    """Kim (2014) CNN sentence classifier with the scikit-learn API: fit, predict, predict_proba, score.

    Every parameter is a field of TextCNNConfig ("model"), DataConfig ("data") or TrainConfig ("train"), with the
    same name and default (see their comments). `tokenizer` is one of kim, kim-sst, unicode (one token per Chinese
    or Japanese character), jieba (Chinese words; `pip install "textcnn[zh]"`) or char (textcnn.data.tokenizer);
    `tokenizer_version` is how it behaves, kept at 2 for new models (a model saved before it existed loads as 1).
    `vectors` (pretrained variants) is a path to word2vec/GloVe/fastText/.kv vectors, a gensim `KeyedVectors`, or
    None: then `$TEXTCNN_VECTORS`, else word2vec trained on the training texts.
    """

    TASK = "text"
    LEARNED = frozenset({"extra_dims"})  # the sizes of the extra_vectors channels, read from the vectors

    def __init__(
        self, *,
        # model (TextCNNConfig)
        variant: str = "non-static", filter_sizes: Sequence[int] = (3, 4, 5), n_filters: int = 100,
        dropout: float = 0.5, max_norm: float | None = 3.0, embedding_dim: int = 300, fused_conv: bool = False,
        sparse_embeddings: bool = True,
        # data (DataConfig)
        batch_size: int = 50, dev_fraction: float = 0.1, tokenizer: str = "unicode",
        tokenizer_version: int = TOKENIZER_VERSION, lowercase: bool = True, min_freq: int = 1,
        max_tokens: int | None = MAX_TOKENS, bucket_by_length: bool = True, vectors: Any = None,
        oov_init: str = "uniform", extra_vectors: Sequence[str] = (),
        # train (TrainConfig)
        optimizer: str = "adadelta", lr: float | None = None, rho: float = 0.95, eps: float = 1e-6,
        adam_eps: float = 1e-8, momentum: float = 0.9, epochs: int = 25, patience: int | None = None,
        lr_schedule: str = "none", lr_factor: float = 0.5, lr_patience: int = 5, selection: str = "auto",
        multi_label: bool = False, class_weight: str | None = None, threshold: float | str = 0.5,
        mixup: float = 0.0, adversarial: float = 0.0, ensemble: int = 1, seed: int = 0, device: str = "auto",
        deterministic: bool = False, bf16: bool = False, compile: bool = False, progress: bool = False,
        dry_run: bool = False, dry_run_batches: int = 3,
    ) -> None:
        store_params(self, locals())

    def model_config(self) -> TextCNNConfig:
        """The architecture these parameters describe (pretrained vectors bring their own embedding size)."""
        return self.config("model")

    def data_config(self) -> DataConfig:
        """Tokenizer, vocabulary, batching and embedding-initialisation settings."""
        return self.config("data")

    # ---- the fit skeleton's hooks (CNNClassifierBase.fit) ----
    def _check_inputs(self, X: Sequence[str]) -> list[str]:
        return check_texts(X)

    def _dataset(self, texts: list[str], labels: list[int] | list[tuple[int, ...]]) -> TextDataset:
        return TextDataset(texts, labels, [str(c) for c in self.classes_], multi_label=self.multi_label)

    def _split_off_dev(self, train: TextDataset, fraction: float, seed: int) -> tuple[TextDataset, TextDataset]:
        return split_off_dev(train, fraction, seed)

    def _build(self, train: TextDataset, run_dir: Path | None, resume: bool) -> tuple[list[list[str]], list[int]]:
        data_cfg = self.data_config()
        self.tokenizer_ = Tokenizer(data_cfg.tokenizer, data_cfg.lowercase, data_cfg.tokenizer_version)
        warning = kim_on_cjk_warning(self.tokenizer_, train.texts)
        if warning:
            warn_caller(warning)
        tokens = self._tokenize(train.texts)
        self._training_tokens = tokens  # word2vec for pretrained variants (and an ensemble's later members)
        vocab = Vocabulary.build(tokens, data_cfg.min_freq)
        if resume:
            self._rebuild_from(run_dir)
            self._keep_counts_of(vocab, run_dir, "the training texts")
        else:
            self._init_model(vocab, tokens)
        return tokens, train.labels

    def _batches(self, prepared: tuple[list[list[str]], list[Any] | None], shuffle: bool) -> TokenBatches:
        tokens, labels = prepared
        if labels is not None and self.multi_label:
            labels = label_matrix(labels, len(self.classes_))  # (N, K) 0/1
        ids = [self.vocab_.encode(t) for t in tokens]
        device = resolve_device(self.device)  # on a GPU the whole token tensor lives there: a step copies no data
        return TokenBatches(ids, labels, self.batch_size, shuffle=shuffle, bucket_by_length=self.bucket_by_length,
                            device=device if device.type == "cuda" else None)

    def _dev_batches(self, dev: TextDataset | None) -> tuple[TokenBatches, torch.Tensor] | None:
        if dev is None:
            return None
        labels = label_matrix(dev.labels, len(self.classes_)) if self.multi_label else dev.labels
        return self._batches((self._tokenize(dev.texts), None), shuffle=False), torch.as_tensor(labels)

    def _model_description(self) -> tuple[TextCNNConfig, dict[str, Any]]:
        config = self.module_.config
        return self.model_config(), {"embedding_dim": config.embedding_dim, "extra_dims": config.extra_dims}

    def _restore(self, saved: SavedRun, source: str) -> TextCNN:
        predictor = TextPredictor.from_saved(saved, source, self.device, self.max_tokens)
        self.tokenizer_, self.vocab_ = predictor.tokenizer, predictor.vocab
        return predictor.module

    # ---- training from disk ----
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
        self._check_selection(data_cfg, train_cfg)
        if train_cfg.multi_label:
            raise ConfigError("multi-label models train from memory (fit, or textcnn train without --on-disk); "
                              "the on-disk corpus holds one label per row")
        if model_cfg.uses_vectors and vectors_source(self.vectors) is None:
            raise ConfigError(
                f"variant {self.variant!r} needs pretrained vectors when training from disk (word2vec is not "
                f"trained on this path); pass vectors=PATH (--vectors), set ${VECTORS_ENV}, or use variant 'rand'"
            )
        self.tokenizer_ = Tokenizer(data_cfg.tokenizer, data_cfg.lowercase, data_cfg.tokenizer_version)
        corpus = encode_corpus(
            train_file, dev_file, tokenizer=self.tokenizer_, min_freq=data_cfg.min_freq, max_tokens=self.max_tokens,
            dev_fraction=data_cfg.dev_fraction, seed=train_cfg.seed, text_column=text_column,
            label_column=label_column, cache_dir=cache_dir, num_proc=num_proc, progress=self.progress,
        )
        self._set_classes([], corpus.label_names)
        if resume:
            self._rebuild_from(None if checkpoint_dir is None else Path(checkpoint_dir))
            self._keep_counts_of(corpus.vocab, checkpoint_dir, str(train_file))
        else:
            self._init_model(corpus.vocab, None)
        self.train_examples_ = len(corpus.train)
        train = TokenBatches(corpus.train.ids, corpus.train.labels, data_cfg.batch_size, shuffle=True,
                             bucket_by_length=data_cfg.bucket_by_length)
        dev = TokenBatches(corpus.dev.ids, None, data_cfg.batch_size, shuffle=False,
                           bucket_by_length=data_cfg.bucket_by_length)
        run_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        return self._fit_module(train, (dev, corpus.dev.labels), run_dir, resume)

    def _init_model(self, vocab: Vocabulary, tokens: list[list[str]] | None) -> None:
        """A fresh module over `vocab`: embeddings from vectors (or word2vec trained on `tokens`), or random."""
        self.vocab_ = vocab
        self._training_tokens, self._vectors_cache = tokens, None
        distributed.check_same_on_every_rank("vocabulary", "\n".join(self.vocab_.itos))
        self._set_module(self._fresh_module(self.seed))

    def _fresh_module(self, seed: int) -> TextCNN:
        """A newly initialised TextCNN over `vocab_` for `seed` (the vectors are resolved once per fit)."""
        model_cfg = self.model_config()
        vectors, self.word2vec_, extras = self._resolved_vectors()
        dim = vectors.vector_size if vectors is not None else model_cfg.embedding_dim
        generator = torch.Generator().manual_seed(seed)
        matrix, self.coverage_ = build_embedding_matrix(
            self.vocab_.itos, vectors, dim, counts=self.vocab_.counts, oov_init=self.oov_init, generator=generator,
        )
        extra_matrices = [build_embedding_matrix(self.vocab_.itos, kv, extra_dim, counts=self.vocab_.counts,
                                                 oov_init=self.oov_init, generator=generator)[0]
                          for kv, extra_dim in extras]
        torch.manual_seed(seed)  # the conv and linear initialisation: same seed, same model
        config = TextCNNConfig(**{**vars(model_cfg), "embedding_dim": dim,
                                  "extra_dims": tuple(extra_dim for _, extra_dim in extras)})
        return TextCNN(config, len(self.vocab_), len(self.classes_), matrix, extra_matrices)

    def _resolved_vectors(self) -> tuple[Any, Any, list[Any]]:
        """(vectors or None, the word2vec model trained here or None, each extra_vectors channel's (KeyedVectors or
        None, size)), resolved on first use in a fit."""
        if getattr(self, "_vectors_cache", None) is None:
            tokens = getattr(self, "_training_tokens", None)
            vectors, word2vec = None, None
            if self.model_config().uses_vectors:
                vectors, word2vec = resolve_vectors(self.vectors, self.vocab_.itos, tokens, self.embedding_dim,
                                                    seed=self.seed, deterministic=self.deterministic)
            sources = self.data_config().extra_vectors
            extras = [resolve_extra_vectors(source, self.vocab_.itos, tokens, seed=self.seed,
                                            deterministic=self.deterministic)
                      for source in sources]
            width = vectors.vector_size if vectors is not None else self.embedding_dim
            extras = fill_channel(extras, sources, width, self.embedding_dim)
            self._vectors_cache = (vectors, word2vec, extras)
        return self._vectors_cache

    def _member(self, seed: int) -> TextCNN:
        return self._with_speed_options(self._fresh_module(seed))

    def _after_fit(self) -> None:
        self._vectors_cache = self._training_tokens = None  # vectors can be gigabytes: not kept past the fit

    def _rebuild_from(self, run_dir: Path | None) -> None:
        """The vocabulary and the model of the run being resumed (its weights come from the resume state)."""
        require_resume_state(run_dir)
        saved = load_run(run_dir, task="text", weights=False)
        self.vocab_, self.coverage_, self.word2vec_, self._vectors_cache = saved.vocab, None, None, None
        self._set_module(TextCNN(saved.module_config, len(saved.vocab), len(saved.label_names)))

    def _keep_counts_of(self, vocab: Vocabulary, run_dir: Path | str | None, source: str) -> None:
        """On resume: `vocab`, counted afresh from the training data, must be the saved one word for word; it
        replaces it because it has the word counts (the saved vocabulary has none), which coverage is weighted by."""
        if self.vocab_.itos != vocab.itos:
            raise DataError(f"the vocabulary of {run_dir} differs from that of {source}; resume with the same "
                            "training data and tokenizer settings")
        self.vocab_ = vocab

    def _set_module(self, module: TextCNN) -> None:
        self.module_ = self._with_speed_options(module)

    def _with_speed_options(self, module: TextCNN) -> TextCNN:
        # the sparse rows are LazyAdadelta's; the other optimizers take dense gradients (textcnn.training.optim)
        module.set_speed_options(fused_conv=self.fused_conv,
                                 sparse_embeddings=self.sparse_embeddings and self.optimizer == "adadelta")
        return module

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of each text, cut to `max_tokens` with a warning when a text is longer."""
        return tokenize_texts(self.tokenizer_, texts, self.max_tokens)

    # ---- prediction (by the sklearn-free TextPredictor, textcnn/estimators/predictor.py) ----
    @property
    def predictor_(self) -> TextPredictor:
        """The fitted model as a `TextPredictor` over `module_`, `tokenizer_`, `vocab_`, `classes_`, `max_tokens`."""
        self._check_fitted()
        return TextPredictor(self.module_, self.tokenizer_, self.vocab_, self.classes_, self.max_tokens, self.device_,
                             self.multi_label, getattr(self, "thresholds_", None))

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (n_texts, n_classes): rows sum to 1, or (multi-label) one sigmoid per label."""
        return self.predictor_.predict_proba(X)

    def score_file(
        self, path: str | os.PathLike, *, text_column: str = "text", label_column: str = "label",
        cache_dir: str | os.PathLike | None = None,
    ) -> float:
        """Accuracy on a labelled .tsv/.csv/.jsonl file, read through the on-disk cache as `fit_corpus` reads."""
        from ..data.corpus import encode_file  # imports datasets: only this path pays for it

        self._check_fitted()
        if self.multi_label:
            raise ConfigError("score_file reads one label per row; score a multi-label model with score(X, y)")
        split = encode_file(
            path, self.vocab_, [str(c) for c in self.classes_], tokenizer=self.tokenizer_, max_tokens=self.max_tokens,
            text_column=text_column, label_column=label_column, cache_dir=cache_dir, progress=self.progress,
        )
        batches = TokenBatches(split.ids, None, PREDICT_BATCH_SIZE, shuffle=False, bucket_by_length=True)
        return (predict_logits(self.module_, batches, self.device_).argmax(dim=1) == split.labels).float().mean().item()

    def predict_records(self, X: Sequence[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """One dict per text: text, label, probability, and the `top_k` classes with probabilities (multi-label:
        text, `labels` above their thresholds, probabilities)."""
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

    # ---- persistence (CNNClassifierBase.save / load) ----
    def _save_files(self, run_dir: Path) -> None:
        super()._save_files(run_dir)
        if getattr(self, "word2vec_", None) is not None:
            save_vectors(self.word2vec_, run_dir / "word2vec.txt")
