"""Token ids held as compact tensors and served as length-bucketed, padding-trimmed mini-batches.

Speed tricks here (each has an off switch or a plain equivalent; see benchmarks/speed.py):
- pre-tokenised tensors: the corpus is one flat int32 tensor plus offsets (`TokenIds`), not Python lists,
  and a batch is cut out of it with one vectorised gather;
- length bucketing: batches hold sentences of similar length, so the per-batch padding is small;
- whole corpus on the device: when training on a GPU the token tensor lives there, so a step copies
  only the batch's row indices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from ..base.errors import DataError
from ..base.tokens import PAD_ID


@dataclass
class Batch:
    """One mini-batch: positions in the split, the module's inputs, and labels (None when predicting)."""

    index: Tensor
    inputs: tuple[Tensor, ...]
    labels: Tensor | None = None
    global_size: int | None = None  # under DDP: rows of the whole batch this rank holds a slice of

    def to(self, device: torch.device) -> Batch:
        move = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        labels = None if self.labels is None else move(self.labels)
        return Batch(self.index, tuple(move(t) for t in self.inputs), labels, self.global_size)


class Batches(Protocol):
    """Anything that can be iterated once per epoch as `Batch`es."""

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]: ...


@dataclass
class TokenIds:
    """N token-id sequences as one flat int32 tensor (T,) and offsets (N + 1,): sequence i is flat[o[i]:o[i+1]].

    `flat` may be a memory-mapped array (see `textcnn.data.corpus`), so a corpus larger than memory costs
    only its offsets in RAM.
    """

    flat: Tensor  # (T,) int32
    offsets: Tensor  # (N + 1,) int64

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]]) -> TokenIds:
        """Pack Python lists of ids."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((i for s in sequences for i in s), dtype=np.int32, count=int(offsets[-1]))
        return cls(torch.from_numpy(flat), torch.from_numpy(offsets))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> Tensor:
        """Tokens per sequence, (N,) int64."""
        return self.offsets[1:] - self.offsets[:-1]

    def to(self, device: torch.device | str) -> TokenIds:
        return TokenIds(self.flat.to(device), self.offsets.to(device))

    def gather(self, index: Tensor, longest: int) -> tuple[Tensor, Tensor]:
        """Rows `index` right-padded with PAD_ID to `longest` columns: ids (B, L) int64 and lengths (B,).

        `longest` (≥ the longest selected row, ≥ 1) is passed in because the caller knows it on the host,
        which avoids a device→host sync per batch.
        """
        starts = self.offsets[index]  # (B,)
        lengths = self.offsets[index + 1] - starts  # (B,)
        columns = torch.arange(longest, device=starts.device)  # (L,)
        inside = columns < lengths.unsqueeze(1)  # (B, L)
        positions = (starts.unsqueeze(1) + columns).clamp_(max=max(len(self.flat) - 1, 0))  # (B, L)
        if len(self.flat) == 0:
            return torch.full(inside.shape, PAD_ID, dtype=torch.long, device=starts.device), lengths
        ids = self.flat[positions].long().masked_fill_(~inside, PAD_ID)  # (B, L)
        return ids, lengths


def length_buckets(
    lengths: Sequence[int] | Tensor,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    bucket_by_length: bool = True,
) -> list[Tensor]:
    """Split indices 0..len(lengths)-1 into batches (int64 tensors), each index exactly once.

    bucket_by_length (speed trick, off switch = False): sort by length so each batch holds similar lengths
    and the batch needs little padding; with shuffle, ties are broken randomly and the batch order is
    shuffled. Kim's released code instead pads every sentence to the corpus maximum length.
    Deterministic for a given generator state.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}; e.g. 50 (Kim 2014 §3.1)")
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    n = len(lengths)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    if bucket_by_length:
        order = order[torch.sort(lengths[order], stable=True).indices]  # equal lengths keep their random order
    batches = list(torch.split(order, batch_size))
    if shuffle and bucket_by_length:
        batches = [batches[b] for b in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> tuple[Tensor, Tensor]:
    """Right-pad token id sequences into ids (B, L) and lengths (B,); L is at least 1."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)  # (B,)
    longest = max([1, *(len(s) for s in sequences)])  # an all-empty batch still gives L = 1
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)  # (B, L)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return ids, lengths


def as_label_tensor(labels: Sequence[int] | np.ndarray | Tensor) -> Tensor:
    """Class ids (N,) as int64, or a multi-label 0/1 indicator matrix (N, K) as float32 (what the losses take)."""
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, Tensor) else labels)
    return labels.float() if labels.ndim == 2 else labels.long()


class TokenBatches:
    """Token-id sequences (and optional labels) served as padded, length-bucketed `Batch`es each epoch.

    Inputs of each batch are (ids (B, L), lengths (B,)) with L the batch's longest sequence.
    `ids` is a `TokenIds` or a list of id lists; `device` keeps the whole corpus on that device
    (batches then come out already there).
    """

    def __init__(
        self, ids: TokenIds | Sequence[Sequence[int]], labels: Sequence[int] | np.ndarray | Tensor | None,
        batch_size: int, *,
        shuffle: bool, bucket_by_length: bool = True, device: torch.device | str | None = None,
    ) -> None:
        self.ids = ids if isinstance(ids, TokenIds) else TokenIds.from_lists(ids)
        self.lengths = self.ids.lengths  # (N,) on the host: batch shapes are planned there
        self.labels = None if labels is None else as_label_tensor(labels)
        if device is not None:
            self.ids = self.ids.to(device)
            self.labels = None if self.labels is None else self.labels.to(device)
        self.batch_size, self.shuffle, self.bucket_by_length = batch_size, shuffle, bucket_by_length

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        """One pass; shuffled (with `generator`) only when the batches were made with shuffle=True."""
        shuffle = self.shuffle and generator is not None
        plan = length_buckets(self.lengths, self.batch_size, shuffle=shuffle, generator=generator,
                              bucket_by_length=self.bucket_by_length)
        device = self.ids.flat.device
        longest = [max(int(self.lengths[idx].max()), 1) if len(idx) else 1 for idx in plan]
        # one host→device copy of the epoch's row order, then views of it per batch
        on_device = torch.split(torch.cat(plan).to(device, non_blocking=True), [len(i) for i in plan]) if plan else []
        for index, index_on_device, width in zip(plan, on_device, longest):
            labels = None if self.labels is None else self.labels[index_on_device]
            yield Batch(index, self.ids.gather(index_on_device, width), labels)
