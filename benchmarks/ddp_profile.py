"""One DDP step on the ddp_scaling config, taken apart: bytes each rank sends, and time with vs without the exchange.

Run by `benchmarks.ddp_scaling` under torchrun (one thread per rank); not a user tool. Each rank trains
`rand` (Kim's config, 300-d) on its slice of SST-2 sentence batches (global batch 50), as `fit_model` does,
for `--warmup` + `--steps` steps twice: once normally (DDP all-reduces the gradients) and once inside
`no_sync()` (no exchange; the optimizer steps on the rank's own gradients). The difference per step is the
communication time the rank waits for; compute time is the `no_sync` step. The exchange is the one training
uses (`textcnn.training.distributed.exchange_sparse_rows`), wrapped to count each bucket's payload: a dense
bucket is numel × 4 bytes; the sparse gradient (the touched embedding rows) is its coalesced nnz × (8 bytes of row
index + 300 × 4 bytes of values). "allreduces_per_step" counts buckets (one exchange each).

    torchrun --standalone --nproc_per_node 2 -m benchmarks.ddp_profile --gradients sparse --out profile.json
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from benchmarks.common.cli import benchmark_parser, run_benchmark
from textcnn.base.config import TextCNNConfig, TrainConfig
from textcnn.data.batches import TokenBatches
from textcnn.data.registry import load_named_dataset
from textcnn.data.tokenizer import Tokenizer, Vocabulary
from textcnn.models.text import TextCNN
from textcnn.training import distributed
from textcnn.training.loop import make_optimizer
from textcnn.training.objective import example_losses

EMBEDDING_DIM = 300
GLOBAL_BATCH = 50


class PayloadMeter:
    """Bytes and all-reduce calls counted by `metered_allreduce` (the comm hook's state)."""

    def __init__(self) -> None:
        self.bytes, self.calls = 0, 0


def metered_exchange(meter, bucket):  # noqa: ANN001 - DDP checks real annotations; postponed ones read as str
    """The library's comm hook (`distributed.exchange_sparse_rows`: dense buckets all-reduced, sparse rows
    all-gathered), counting each bucket's payload: dense numel × 4 bytes, sparse coalesced rows × (8 + E × 4)
    (a rank's own rows; the padding to the larger count of the two ranks is not counted)."""
    grad = bucket.buffer()
    if grad.is_sparse:
        rows = grad.coalesce()
        meter.bytes += rows.indices().numel() * rows.indices().element_size()
        meter.bytes += rows.values().numel() * rows.values().element_size()
    else:
        meter.bytes += grad.numel() * grad.element_size()
    meter.calls += 1
    return distributed.exchange_sparse_rows(None, bucket)


def sst2_batches() -> tuple[TokenBatches, int]:
    train = load_named_dataset("sst2")["train"]
    tokenizer = Tokenizer("kim-sst")
    tokens = [tokenizer(t) for t in train.texts]
    vocab = Vocabulary.build(tokens)
    batches = TokenBatches([vocab.encode(t) for t in tokens], list(train.labels), GLOBAL_BATCH, shuffle=True)
    return batches, len(vocab)


def timed_steps(net: nn.Module, module: TextCNN, shard: distributed.RankSlice, optimizer: torch.optim.Optimizer,
                n: int, exchange: bool, generator: torch.Generator) -> list[float]:
    """Seconds of each of `n` training steps (forward, backward with or without the exchange, step, max-norm)."""
    seconds: list[float] = []
    world = dist.get_world_size()
    while len(seconds) < n:
        for batch in shard.epoch(generator):
            start = time.perf_counter()
            with nullcontext() if exchange else net.no_sync():
                logits = net(*batch.inputs)  # (B, 2)
                loss = example_losses(logits, batch.labels, False, None).sum() * world / batch.global_size
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
            module.apply_constraints()
            seconds.append(time.perf_counter() - start)
            if len(seconds) == n:
                break
    return seconds


def main() -> None:
    parser = benchmark_parser("benchmarks.ddp_profile", __doc__)
    parser.add_argument("--gradients", choices=("sparse", "dense"), required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rank, world = distributed.start()
    batches, vocab_size = sst2_batches()
    torch.manual_seed(0)
    module = TextCNN(TextCNNConfig(variant="rand", embedding_dim=EMBEDDING_DIM), vocab_size, 2)
    module.set_speed_options(sparse_embeddings=args.gradients == "sparse")
    optimizer = make_optimizer(module, TrainConfig())
    net = nn.parallel.DistributedDataParallel(module)
    meter = PayloadMeter()
    net.register_comm_hook(meter, metered_exchange)
    shard = distributed.RankSlice(batches, rank, world)
    generator = torch.Generator().manual_seed(0)
    result: dict[str, float] = {}
    for exchange in (True, False):
        timed_steps(net, module, shard, optimizer, args.warmup, exchange, generator)
        meter.bytes, meter.calls = 0, 0
        seconds = timed_steps(net, module, shard, optimizer, args.steps, exchange, generator)
        key = "step_ms" if exchange else "compute_ms"
        result[key] = 1000 * sorted(seconds)[len(seconds) // 2]  # median: robust to a descheduled step
        if exchange:
            result["bytes_per_step"] = meter.bytes / args.steps
            result["allreduces_per_step"] = meter.calls / args.steps
    # every rank's numbers, so the slower rank (the one the others wait for) is visible
    gathered: list[dict | None] = [None] * world
    dist.all_gather_object(gathered, result)
    if rank == 0:
        args.out.write_text(json.dumps({"gradients": args.gradients, "ranks": world, "vocab": vocab_size,
                                        "per_rank": gathered}, indent=2))
    distributed.shutdown()


if __name__ == "__main__":
    run_benchmark(main)
