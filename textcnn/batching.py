"""Length-bucketed mini-batches of token ids (the speed trick that makes CPU training practical)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from .errors import DataError
from .tokenizer import PAD_ID
from .train import Batch


def length_buckets(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    bucket_by_length: bool = True,
) -> list[list[int]]:
    """Split indices 0..len(lengths)-1 into batches, each index exactly once.

    bucket_by_length (speed trick, off switch = False): sort by length so each batch holds similar lengths
    and `pad_batch` adds little padding; with shuffle, ties are broken randomly and the batch order is
    shuffled. Kim's released code instead pads every sentence to the corpus maximum length.
    Deterministic for a given generator state.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}; e.g. 50 (Kim 2014 §3.1)")
    n = len(lengths)
    order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
    if bucket_by_length:
        order.sort(key=lambda i: lengths[i])  # stable: equal lengths keep their random order
    batches = [order[start : start + batch_size] for start in range(0, n, batch_size)]
    if shuffle and bucket_by_length:
        batches = [batches[b] for b in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id sequences into ids (B, L) and lengths (B,); L is at least 1."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)  # (B,)
    longest = max([1, *(len(s) for s in sequences)])  # an all-empty batch still gives L = 1
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)  # (B, L)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return ids, lengths


class TokenBatches:
    """Token-id sequences (and optional labels) served as padded, length-bucketed `Batch`es each epoch.

    Inputs of each batch are (ids (B, L), lengths (B,)) with L the batch's longest sequence.
    """

    def __init__(
        self, ids: Sequence[Sequence[int]], labels: Sequence[int] | None, batch_size: int, *,
        shuffle: bool, bucket_by_length: bool = True,
    ) -> None:
        self.ids = ids
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        self.lengths = [len(s) for s in ids]
        self.batch_size, self.shuffle, self.bucket_by_length = batch_size, shuffle, bucket_by_length

    def __len__(self) -> int:
        return -(-len(self.ids) // self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        """One pass; shuffled (with `generator`) only when the batches were made with shuffle=True."""
        shuffle = self.shuffle and generator is not None
        for idx in length_buckets(self.lengths, self.batch_size, shuffle=shuffle, generator=generator,
                                  bucket_by_length=self.bucket_by_length):
            index = torch.tensor(idx, dtype=torch.long)
            labels = None if self.labels is None else self.labels[index]
            yield Batch(index, pad_batch([self.ids[i] for i in idx], PAD_ID), labels)
