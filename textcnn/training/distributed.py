"""PyTorch DDP under `torchrun`: process group, rank checks, and the per-rank slice of each global batch.

Nothing here is home-made communication: `torchrun` sets RANK/WORLD_SIZE/LOCAL_RANK, `init_process_group`
picks gloo for CPU tensors and NCCL for CUDA tensors, and `DistributedDataParallel` averages gradients.
Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op and the single-process path is unchanged.
Queries (`world`, `is_primary`) never start anything; the job layer calls `start` once.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

from ..base.errors import TextCNNError
from ..data.batches import Batch, Batches


def launched_world_size() -> int:
    """The number of processes torchrun started (its WORLD_SIZE); 1 without torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_initialized() -> bool:
    """True when a process group is running (launched by torchrun)."""
    return dist.is_available() and dist.is_initialized()


def start() -> tuple[int, int]:
    """Start the process group torchrun asked for, once; a no-op without torchrun. Returns (rank, world size).

    Called explicitly by the job layer (`textcnn train`, `train-image`); a script of your own that runs the
    estimators under torchrun calls it (or `torch.distributed.init_process_group`) before `fit`.
    """
    if launched_world_size() > 1 and not is_initialized():
        # "cpu:gloo,cuda:nccl": each tensor's device picks its backend, so --device cpu works on a GPU host
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return world()


def world() -> tuple[int, int]:
    """(rank, world size) of the running process group, (0, 1) without one. A pure query: it starts nothing."""
    if is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if launched_world_size() > 1:
        raise TextCNNError(
            f"this process was launched by torchrun (WORLD_SIZE={launched_world_size()}) but no process group is "
            "running; call textcnn.training.distributed.start() before fit, or train with `textcnn train`"
        )
    return 0, 1


def is_primary() -> bool:
    """True on rank 0 (and always without torchrun): the one process that logs and writes files."""
    return world()[0] == 0


def shutdown() -> None:
    """Destroy the process group if one was initialised."""
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(*values: Tensor) -> list[Tensor]:
    """Sum each tensor over ranks (identity in one process); one collective for all of them."""
    if not dist.is_initialized():
        return list(values)
    flat = torch.stack([v.double() for v in values])
    dist.all_reduce(flat)
    return [flat[i].to(v.dtype) for i, v in enumerate(values)]


def all_max(value: Tensor) -> Tensor:
    """The maximum of a tensor over ranks (identity in one process)."""
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value


def all_min(value: Tensor) -> Tensor:
    """The minimum of a tensor over ranks (identity in one process)."""
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return value


def exchange_sparse_rows(state, bucket):  # no annotations: DDP checks them, and postponed ones read as str
    """A DDP comm hook: dense buckets are all-reduced and averaged as DDP's default hook does; a sparse embedding
    gradient is exchanged as its touched rows through dense all-gathers.

    gloo's own sparse all-reduce crashed (SIGSEGV) in 2 of 4 full 2-rank SST-2 runs here; dense collectives did
    not. Each rank sends its row count, then its rows packed as bytes (8 of row index, then the values),
    padded to the largest count; the result is the concatenation of every rank's rows, divided by the world
    size (duplicate rows are summed when the optimizer coalesces). Only dense tensors travel, so this works with
    any backend.
    """
    grad = bucket.buffer()
    if not grad.is_sparse:
        return default_hooks.allreduce_hook(state, bucket)
    result = torch.futures.Future()
    result.set_result(_all_gather_rows(grad.coalesce()))
    return result


def _all_gather_rows(grad: Tensor) -> Tensor:
    """The rows of every rank's coalesced sparse (V, E) gradient, as one uncoalesced sparse tensor / world size."""
    world = dist.get_world_size()
    rows, values = grad.indices()[0], grad.values()  # (n,), (n, E)
    counts = [torch.zeros(1, dtype=torch.long, device=rows.device) for _ in range(world)]
    dist.all_gather(counts, torch.tensor([len(rows)], device=rows.device))
    n_most = int(max(counts).item())
    packed = _pack_rows(rows, values, n_most)  # (n_most, 8 + E × bytes per value)
    parts = [torch.empty_like(packed) for _ in range(world)]
    dist.all_gather(parts, packed)
    unpacked = [_unpack_rows(part[: int(count.item())], values) for part, count in zip(parts, counts)]
    all_rows = torch.cat([r for r, _ in unpacked])
    all_values = torch.cat([v for _, v in unpacked]) / world
    return torch.sparse_coo_tensor(all_rows.unsqueeze(0), all_values, grad.shape, check_invariants=True)


def _pack_rows(rows: Tensor, values: Tensor, length: int) -> Tensor:
    """Row indices and values as one uint8 matrix (length, 8 + row bytes), zero-padded below the real rows."""
    raw = torch.cat([rows.contiguous().view(torch.uint8).view(len(rows), -1),
                     values.contiguous().view(torch.uint8).view(len(rows), -1)], dim=1)
    packed = torch.zeros(length, raw.shape[1], dtype=torch.uint8, device=raw.device)
    packed[: len(rows)] = raw
    return packed


def _unpack_rows(packed: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
    rows = packed[:, :8].contiguous().view(torch.long).view(-1)  # (n,)
    values = packed[:, 8:].contiguous().view(like.dtype).view(len(packed), *like.shape[1:])  # (n, E)
    return rows, values


def check_same_on_every_rank(what: str, text: str) -> None:
    """Raise when `text` (e.g. the vocabulary) differs between ranks: DDP needs identical inputs everywhere."""
    if not dist.is_initialized():
        return
    digest = torch.tensor(list(hashlib.sha256(text.encode()).digest()[:8]), dtype=torch.long)
    reference = digest.clone()
    dist.broadcast(reference, src=0)
    if not torch.equal(reference, digest):
        raise TextCNNError(f"the {what} on rank {dist.get_rank()} differs from rank 0's; every rank must read "
                           "the same data with the same seed")


class RankSlice:
    """Each global batch of `batches`, cut into world-size row slices: rank r trains on rows r, r+W, r+2W, ...

    Every rank walks the same shuffled (and length-bucketed) global batch list, seeded alike, so each rank
    sees a disjoint shard of every epoch and all ranks take the same number of steps. A final global
    batch with fewer rows than ranks is dropped (at most W-1 examples per epoch).
    """

    def __init__(self, batches: Batches, rank: int, world_size: int) -> None:
        self.batches, self.rank, self.world_size = batches, rank, world_size

    def __len__(self) -> int:
        return len(self.batches)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        for batch in self.batches.epoch(generator):
            if len(batch.index) < self.world_size:
                continue
            rows = slice(self.rank, None, self.world_size)
            labels = None if batch.labels is None else batch.labels[rows]
            yield Batch(batch.index[rows], tuple(x[rows] for x in batch.inputs), labels, len(batch.index))


class RankBatches:
    """Whole batches dealt round-robin to ranks (for evaluation: every example scored exactly once)."""

    def __init__(self, batches: Batches, rank: int, world_size: int) -> None:
        self.batches, self.rank, self.world_size = batches, rank, world_size

    def __len__(self) -> int:
        return len(range(self.rank, len(self.batches), self.world_size))

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        return itertools.islice(self.batches.epoch(generator), self.rank, None, self.world_size)
