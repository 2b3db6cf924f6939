"""TextCNN: embedding channels (static and/or fine-tuned) feeding the core filter bank and head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..base.config import TextCNNConfig
from ..base.tokens import PAD_ID
from .core import ClassifierHead, MaskedConvPool, Mix, Perturbation

RAND_INIT_RANGE = 0.25  # U[-0.25, 0.25], Kim's released code for random word vectors


def _embedding(vectors: Tensor, trainable: bool) -> nn.Embedding:
    """An embedding initialised from `vectors` whose padding row is zero and never trained."""
    vectors = vectors.clone()
    vectors[PAD_ID] = 0.0
    return nn.Embedding.from_pretrained(vectors, freeze=not trainable, padding_idx=PAD_ID)


def _random_vectors(vocab_size: int, dim: int) -> Tensor:
    return torch.empty(vocab_size, dim).uniform_(-RAND_INIT_RANGE, RAND_INIT_RANGE)


class TextCNN(nn.Module):
    """Kim (2014) CNN for sentence classification; a plain `nn.Module` over padded token ids.

    Variants (Kim §3.3): `rand` and `non-static` have one fine-tuned channel, `static` one frozen
    channel, `multichannel` one of each, both initialised from `vectors`. In `multichannel` the two
    channels are concatenated along the embedding axis before the convolution, so each filter has
    separate weights per channel whose results are summed: the same function as Kim's two-channel
    convolution. `extra_vectors` (sizes `config.extra_dims`) add one fine-tuned channel each, concatenated the
    same way (Yin & Schütze 2015's multichannel-variable CNN: several vector sets of any sizes).
    """

    def __init__(self, config: TextCNNConfig, vocab_size: int, n_classes: int, vectors: Tensor | None = None,
                 extra_vectors: Sequence[Tensor] | None = None):
        super().__init__()
        self.config = config
        if vectors is None:
            vectors = _random_vectors(vocab_size, config.embedding_dim)
        if tuple(vectors.shape) != (vocab_size, config.embedding_dim):
            raise ValueError(
                f"vectors have shape {tuple(vectors.shape)}; expected ({vocab_size}, {config.embedding_dim})"
            )
        variant = config.variant
        self.static = _embedding(vectors, trainable=False) if variant in ("static", "multichannel") else None
        self.tuned = _embedding(vectors, trainable=True) if variant != "static" else None
        if extra_vectors is None:  # shapes only (a saved model's weights replace them)
            extra_vectors = [torch.zeros(vocab_size, dim) for dim in config.extra_dims]
        if [tuple(v.shape) for v in extra_vectors] != [(vocab_size, dim) for dim in config.extra_dims]:
            raise ValueError(f"extra vectors have shapes {[tuple(v.shape) for v in extra_vectors]}; expected "
                             f"{[(vocab_size, d) for d in config.extra_dims]}")
        self.extra = nn.ModuleList(_embedding(v, trainable=True) for v in extra_vectors)
        n_channels = 2 if variant == "multichannel" else 1
        in_channels = n_channels * config.embedding_dim + sum(config.extra_dims)
        self.features = MaskedConvPool(in_channels, config.n_filters, config.filter_sizes)
        self.head = ClassifierHead(self.features.out_features, n_classes, config.dropout, config.max_norm)

    def embed(self, ids: Tensor) -> Tensor:
        """Token ids (B, L) → channels concatenated and moved to the conv layout (B, ΣE, L)."""
        embeddings = [emb for emb in (self.static, self.tuned) if emb is not None] + list(self.extra)
        channels = [emb(ids) for emb in embeddings]  # each (B, L, E_c)
        return torch.cat(channels, dim=-1).transpose(1, 2)  # (B, ΣE_c, L)

    def forward(self, ids: Tensor, lengths: Tensor | None = None, mix: Mix | None = None,
                noise: Perturbation | None = None) -> Tensor:
        # ids: (B, L) right-padded with PAD_ID; lengths: (B,) real tokens per row; mix: training-time mixup;
        # noise: adversarial training's change to the embedded tokens (never to the padding)
        if lengths is None:
            lengths = (ids != PAD_ID).sum(dim=1)  # (B,)
        embedded = self.embed(ids)  # (B, ΣE, L)
        if noise is not None:
            embedded = noise(embedded, movable=(ids != PAD_ID).unsqueeze(1))  # (B, ΣE, L)
        features = self.features(embedded, lengths)  # (B, C * n_widths)
        return self.head(features, mix)  # (B, K)

    def set_speed_options(self, *, fused_conv: bool = False, sparse_embeddings: bool = False) -> None:
        """Speed options that keep the function and the weights (and so the checkpoint) unchanged.

        fused_conv: all filter widths in one convolution; sparse_embeddings: the fine-tuned channel gets
        sparse gradients, which `textcnn.training.optim.LazyAdadelta` applies to the batch's rows only.
        """
        self.features.fused = fused_conv
        for embedding in [self.tuned, *self.extra]:
            if embedding is not None:
                embedding.sparse = sparse_embeddings

    def apply_constraints(self) -> None:
        """Called by the trainer after every optimizer step: Kim's max-norm on the softmax rows."""
        self.head.apply_max_norm()
