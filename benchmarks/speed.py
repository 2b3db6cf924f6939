"""How fast textcnn trains and predicts, against a naive loop on the same model, in one run.

Config (issue #6): SST-2 phrases (`$TEXTCNN_DATA/sst2/phrases_train.tsv`), multichannel, two 300-d channels
from random vectors (timing only), filters 3,4,5 × 100, Adadelta, batch 50. Rows:

- naive: the same TextCNN driven the way most public re-implementations do it: a DataLoader over Python
  lists, every sentence padded to the corpus maximum length, a host→device copy and `.item()` every step,
  no bucketing;
- default: `textcnn.training.loop.fit_model` over `TokenBatches`, i.e. what `TextCNNClassifier.fit` runs after
  tokenising (pre-tokenised int32 tensors, length bucketing, no host sync inside the epoch);
- one row per speed option on top of the default (and the default without bucketing, to show that trick).

Each row trains a warm-up epoch, then `--epochs` timed epochs (each with its dev evaluation, as in training);
seconds/epoch is their mean. On CPU each row runs in its own subprocess, so its peak RSS is its own; on GPU
the rows share a process and peak memory is `torch.cuda.max_memory_allocated`, reset per row. On CPU the
training set is a slice (`--slice`, default 10,000 phrases), which the table says.

    TEXTCNN_DATA=../shared/data python -m benchmarks.speed --device cpu
    TEXTCNN_DATA=../shared/data python -m benchmarks.speed --device cuda --slice 0 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT
from textcnn.base.config import TextCNNConfig, TrainConfig
from textcnn.base.tokens import PAD_ID
from textcnn.data.batches import TokenBatches
from textcnn.data.registry import load_named_dataset
from textcnn.data.tokenizer import Tokenizer, Vocabulary
from textcnn.models.text import TextCNN
from textcnn.training.loop import fit_model, make_optimizer, predict_logits, resolve_device, seed_everything

EMBEDDING_DIM = 300  # Kim's word2vec size; the vectors are random (only the timing matters here)
# row name → (what it changes, TrainConfig overrides)
ROWS: dict[str, tuple[str, dict]] = {
    "naive": ("DataLoader over lists, pad to corpus max, .item() per step", {"sparse_embeddings": False}),
    "default": ("fit_model + TokenBatches (bucketing, int32 tensors, no per-step sync, sparse rows)", {}),
    "no-bucketing": ("default without length bucketing (padding to each batch's longest)", {"bucket_by_length": False}),
    "fused-conv": ("--fused-conv: one convolution for all widths", {"fused_conv": True}),
    "bf16": ("--bf16: bfloat16 autocast", {"bf16": True}),
    "compile": ("--compile: torch.compile", {"compile": True}),
    "dense-embeddings": ("default with Adadelta over every embedding row", {"sparse_embeddings": False}),
    "batch-1000": ("--batch-size 1000 (large batch; changes the optimisation)", {"batch_size": 1000}),
}


# ---------------------------------------------------------------- data and model, identical for every row


def load_data(slice_size: int) -> tuple[list[list[int]], list[int], list[list[int]], list[int], int]:
    """Token ids and labels of the SST-2 phrase training set (first `slice_size` in a seeded shuffle; 0 = all)
    and of the dev sentences, with the vocabulary size."""
    splits = load_named_dataset("sst2", phrases=True)
    train, dev = splits["train"], splits["dev"]
    if slice_size:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:slice_size].tolist()
        train = train.subset(order)
    tokenizer = Tokenizer("kim-sst")
    train_tokens = [tokenizer(t) for t in train.texts]
    vocab = Vocabulary.build(train_tokens)
    dev_ids = [vocab.encode(tokenizer(t)) for t in dev.texts]
    return [vocab.encode(t) for t in train_tokens], list(train.labels), dev_ids, list(dev.labels), len(vocab)


def build_model(vocab_size: int, seed: int) -> TextCNN:
    torch.manual_seed(seed)
    vectors = torch.empty(vocab_size, EMBEDDING_DIM).uniform_(-0.25, 0.25)
    return TextCNN(TextCNNConfig(variant="multichannel", embedding_dim=EMBEDDING_DIM), vocab_size, 2, vectors)


# ---------------------------------------------------------------- the naive loop


def pad_to(ids: list[int], length: int) -> list[int]:
    return ids + [PAD_ID] * (length - len(ids))


def naive_epochs(module: TextCNN, data: tuple, config: TrainConfig, device: torch.device) -> list[tuple[float, float]]:
    """(seconds, dev accuracy) per epoch of a typical public training loop over the same model."""
    train_ids, train_labels, dev_ids, dev_labels, _ = data
    longest = max(len(s) for s in train_ids + dev_ids)
    train_rows = [(torch.tensor(pad_to(s, longest)), y) for s, y in zip(train_ids, train_labels)]
    dev_rows = [(torch.tensor(pad_to(s, longest)), y) for s, y in zip(dev_ids, dev_labels)]
    loader = torch.utils.data.DataLoader(train_rows, batch_size=config.batch_size, shuffle=True)
    dev_loader = torch.utils.data.DataLoader(dev_rows, batch_size=config.batch_size)
    module.to(device)
    optimizer = make_optimizer(module, config)
    records = []
    for _ in range(config.epochs):
        start = time.perf_counter()
        module.train()
        total_loss = 0.0
        for ids, labels in loader:
            ids, labels = ids.to(device), labels.to(device)
            loss = nn.functional.cross_entropy(module(ids), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            module.apply_constraints()
            total_loss += loss.item()
        module.eval()
        correct = 0
        with torch.no_grad():
            for ids, labels in dev_loader:
                correct += (module(ids.to(device)).argmax(1) == labels.to(device)).sum().item()
        records.append((time.perf_counter() - start, correct / len(dev_rows)))
    return records


# ---------------------------------------------------------------- one row


def run_row(row: str, data: tuple, args: argparse.Namespace) -> dict:
    device = resolve_device(args.device)
    overrides = ROWS[row][1]
    config = TrainConfig(epochs=1 + args.epochs, seed=0, device=args.device, **overrides)
    seed_everything(0)
    module = build_model(data[4], seed=0)
    module.set_speed_options(fused_conv=config.fused_conv, sparse_embeddings=config.sparse_embeddings)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if row == "naive":
        records = naive_epochs(module, data, config, device)
    else:
        train_ids, train_labels, dev_ids, dev_labels, _ = data
        on = device if device.type == "cuda" else None
        train = TokenBatches(train_ids, train_labels, config.batch_size, shuffle=True,
                             bucket_by_length=config.bucket_by_length, device=on)
        dev = TokenBatches(dev_ids, None, config.batch_size, shuffle=False, device=on)
        result = fit_model(module, train, config, dev=(dev, torch.tensor(dev_labels)))
        records = [(r.seconds, r.dev_acc) for r in result.history]
    timed = records[1:]  # the first epoch is the warm-up (allocator, kernels, compilation)
    seconds = statistics.mean(s for s, _ in timed)
    return {
        "row": row, "what": ROWS[row][0], "seconds_per_epoch": seconds, "warmup_seconds": records[0][0],
        "examples_per_s": len(data[0]) / seconds, "dev_acc": timed[-1][1], "peak_mb": peak_memory_mb(device),
        "inference_per_s": inference_throughput(module, data, device, args) if row == "default" else None,
    }


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def inference_throughput(module: TextCNN, data: tuple, device: torch.device, args: argparse.Namespace) -> float:
    """Sentences/s of `predict_logits` over the training slice at the inference batch size (best of 3)."""
    batch_size = 4096 if device.type == "cuda" else 256
    batches = TokenBatches(data[0], None, batch_size, shuffle=False, device=device if device.type == "cuda" else None)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        predict_logits(module, batches, device)  # ends with a copy to the host: synchronised
        best = min(best, time.perf_counter() - start)
    return len(data[0]) / best


# ---------------------------------------------------------------- driver


def run_rows_in_subprocesses(rows: list[str], args: argparse.Namespace) -> list[dict]:
    results = []
    for row in rows:
        command = [sys.executable, "-m", "benchmarks.speed", "--row", row, "--device", args.device,
                   "--slice", str(args.slice), "--epochs", str(args.epochs)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"row {row} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {row}: {results[-1]['seconds_per_epoch']:.2f} s/epoch", file=sys.stderr, flush=True)
    return results


def table(results: list[dict], args: argparse.Namespace, n_train: int, extras: list[str]) -> str:
    naive = next((r["seconds_per_epoch"] for r in results if r["row"] == "naive"), None)
    scope = "all 76,961 phrases" if not args.slice else f"a seeded slice of {n_train:,} phrases"
    lines = [
        f"Command: `{' '.join(['python', '-m', 'benchmarks.speed', *sys.argv[1:]])}`  ",
        f"Hardware: {describe_machine()}; {date.today().isoformat()}  ",
        f"Config: SST-2 train on {scope}, dev 872 sentences; multichannel, 2 × 300-d random vectors, "
        f"filters 3,4,5 × 100, Adadelta, batch 50 unless the row says; 1 warm-up + {args.epochs} timed "
        "epoch(s), each with its dev evaluation; one seed.",
        "",
        "| row | what | s/epoch | examples/s | × naive | peak memory MB | dev acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{naive / r['seconds_per_epoch']:.1f}×" if naive else "–"
        lines.append(
            f"| {r['row']} | {r['what']} | {r['seconds_per_epoch']:.2f} | {r['examples_per_s']:,.0f} | {ratio} "
            f"| {r['peak_mb']:,.0f} | {100 * r['dev_acc']:.1f} |"
        )
    return "\n".join(lines + [""] + extras)


def extra_lines(results: list[dict], args: argparse.Namespace) -> list[str]:
    lines = []
    default = next((r for r in results if r["row"] == "default"), None)
    if default is not None:
        batch = 4096 if args.device == "cuda" else 256
        lines.append(f"- Inference (`predict_logits`, batch {batch}): {default['inference_per_s']:,.0f} sentences/s")
    if args.device == "cpu" and not args.skip_startup:
        lines += startup_lines(args)
    if not args.skip_vectors:
        lines += vectors_memory_lines()
    return lines


def startup_lines(args: argparse.Namespace) -> list[str]:
    """Library predict latency (warm), CLI cold start and the torch-import floor, from benchmarks.startup."""
    from benchmarks.startup import (
        build_default_model,
        measure_cold_start,
        measure_predict_latency,
        measure_torch_import,
    )

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_default_model(Path(tmp) / "model")
        latency = measure_predict_latency(model_dir, repeats=300)
        cold = measure_cold_start(model_dir, repeats=7)
        floor = measure_torch_import(repeats=7)
    return [
        f"- `clf.predict([one sentence])`, warm, CPU, default-size model (20k words): median "
        f"{1000 * latency['median_s']:.2f} ms (min {1000 * latency['min_s']:.2f} ms, {latency['repeats']} calls)",
        f"- `python cli.py predict \"text\"` cold start: median {cold['median_s']:.2f} s (min {cold['min_s']:.2f} s); "
        f"floor, `python -c \"import torch\"`: median {floor['median_s']:.2f} s",
    ]


VECTORS_SCRIPT = """
import json, resource, sys
from pathlib import Path
import textcnn.data.embeddings, gensim.models, torch  # baseline: every import either path needs

def rss_mb(field):
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1]) / 1024

baseline = rss_mb("VmRSS:")
path, how = sys.argv[1], sys.argv[2]
if how == "textcnn":
    words = [f"w{i}" for i in range(0, 1_000_000, 50)]  # a 20,000-word vocabulary
    kv = textcnn.data.embeddings.load_vectors(path, words=words)
else:
    kv = gensim.models.KeyedVectors.load_word2vec_format(path, binary=True)
print(json.dumps({"rows": len(kv), "peak_above_baseline_mb": rss_mb("VmHWM:") - baseline}))
"""


def write_synthetic_word2vec(path: Path, n_words: int = 1_000_000, dim: int = 300) -> None:
    """A word2vec binary file of `n_words` random vectors named w0, w1, ... (about 1.2 GB at 1M × 300)."""
    rng = np.random.default_rng(0)
    with path.open("wb") as f:
        f.write(f"{n_words} {dim}\n".encode())
        for start in range(0, n_words, 10_000):
            block = rng.standard_normal((min(10_000, n_words - start), dim), dtype=np.float32)
            f.write(b"".join(f"w{start + i} ".encode() + row.tobytes() + b"\n" for i, row in enumerate(block)))


def vectors_memory_lines() -> list[str]:
    """Peak memory above the process baseline: our streaming reader (20k words) vs gensim's full load."""
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic-1M-300.bin"
        write_synthetic_word2vec(path)
        for how in ("textcnn", "gensim"):
            done = subprocess.run([sys.executable, "-c", VECTORS_SCRIPT, str(path), how], capture_output=True,
                                  text=True)
            if done.returncode != 0:
                lines.append(f"- vectors memory ({how}) failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            result = json.loads(done.stdout)
            what = ("`load_vectors(path, words=20k vocabulary)`" if how == "textcnn"
                    else "gensim `KeyedVectors.load_word2vec_format` (all rows)")
            lines.append(f"- Vectors, synthetic 1M × 300 word2vec binary ({path.stat().st_size / 2**30:.2f} GiB): "
                         f"{what} keeps {result['rows']:,} rows, peak {result['peak_above_baseline_mb']:,.0f} MB "
                         "above the process baseline (own subprocess)")
    return lines


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--slice", type=int, default=None, help="training phrases (0 = all; CPU default 10000)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs after the warm-up epoch")
    parser.add_argument("--skip-startup", action="store_true", help="skip predict latency and CLI cold start")
    parser.add_argument("--skip-vectors", action="store_true", help="skip the vectors-loading memory rows")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row, print its JSON
    args = parser.parse_args()
    if args.slice is None:
        args.slice = 10_000 if args.device == "cpu" else 0
    if "TEXTCNN_DATA" not in os.environ:
        os.environ["TEXTCNN_DATA"] = str(ROOT.parent / "shared" / "data")
    rows = args.rows.split(",")
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    data = load_data(args.slice)
    if args.row:
        print(json.dumps(run_row(args.row, data, args)))
        return
    if args.device == "cpu":
        results = run_rows_in_subprocesses(rows, args)
    else:
        results = [run_row(row, data, args) for row in rows]
    text = table(results, args, len(data[0]), extra_lines(results, args))
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"speed_{args.device}"
    (RESULTS / f"{stem}.md").write_text(text + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": describe_machine(), "rows": results}, indent=2))


if __name__ == "__main__":
    run_benchmark(main)
