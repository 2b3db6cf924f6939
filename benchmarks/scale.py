"""Data larger than memory (issue #7): does the on-disk path's memory stay flat as the corpus doubles?

A synthetic corpus (below) of 1M and 2M sentences goes through what `TextCNNClassifier.fit_corpus` runs:

- tokenise: `textcnn.data.corpus.encode_corpus` on a cold cache (read the TSV with `datasets`, tokenise in
  `map(batched=True)`, count the vocabulary, encode to int32, copy the ids into the memory-mapped .npy,
  hold out 10% as dev): sentences/s over the whole file;
- train: `fit_model` over `TokenBatches` on those memory-mapped ids, Kim's rand config (300-d, filters
  3,4,5 × 100, Adadelta, batch 50), one epoch capped at `--steps` steps: sentences/s = steps × 50 / seconds
  (the epoch's batch plan over every sentence is included; dev evaluation is not).

Each size runs in its own subprocess. A thread samples /proc/self/status every 20 ms for the peak RssAnon
(the process's own memory) and the peak VmRSS, which also counts memory-mapped file pages that the kernel
can drop at any time; reporting RSS alone would make the on-disk path look as big as its cache. For
contrast, `--in-memory` sizes run the in-memory `fit` preparation on the same file (texts, token lists,
vocabulary, id lists, TokenBatches) and report its peak RssAnon.

Synthetic corpus: a 50,000-word lexicon, shorter words more frequent (Zipf's law of abbreviation), word
ranks drawn from a Zipf–Mandelbrot law p(r) ∝ (r + 2.7)^-1 (Mandelbrot's fit to English); sentence lengths
log-normal with mean ≈ 20 tokens (Kim 2014 Table 1: MR 20, SST 18, CR 19); two balanced labels, each
sentence carrying 1–3 cue words from 500 mid-frequency "sentiment" words, 80% of them from its own label's
half. The lexicon is saturated by 1M sentences, so the model (vocabulary × 300) is the same at both sizes
and only the corpus doubles.

    python -m benchmarks.scale                                    # 1M and 2M, 200 steps, 1 thread, resumable
    python -m benchmarks.scale --sizes 1000000 --force            # redo one size
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.paths import RESULTS

CELLS = RESULTS / "scale"
LEXICON = 50_000  # words; MR has 18,765 and SST-1 17,836 (Kim 2014 Table 1), reviews corpora more
ZIPF_S, ZIPF_Q = 1.0, 2.7  # Zipf–Mandelbrot exponent and shift (Mandelbrot 1953, English text)
MEAN_WORDS = 20  # Kim 2014 Table 1: MR averages 20 words a sentence
LENGTH_SIGMA = 0.55  # log-normal spread: most sentences 7–50 words, like MR's range (max 56)
CUE_WORDS, CUE_PURITY = 500, 0.8  # sentiment-like words; share taken from the sentence's own label
BATCH = 50  # Kim 2014 §3.1


# ---------------------------------------------------------------- the synthetic corpus


def lexicon(rng: np.random.Generator) -> list[str]:
    """LEXICON distinct lowercase words, shortest first (frequent words are short)."""
    words: set[str] = set()
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    while len(words) < LEXICON:
        lengths = rng.integers(2, 11, size=LEXICON)
        words.update("".join(rng.choice(letters, size=n)) for n in lengths)
    return sorted(list(words)[:LEXICON], key=lambda w: (len(w), w))


def generate(path: Path, n: int, seed: int = 0, chunk: int = 100_000) -> None:
    """Write `n` labelled sentences as label<TAB>text with a header, `chunk` sentences at a time."""
    rng = np.random.default_rng(seed)
    words = np.array(lexicon(rng), dtype=object)
    p = (np.arange(1, LEXICON + 1) + ZIPF_Q) ** -ZIPF_S
    cdf = np.cumsum(p / p.sum())
    cues = rng.choice(np.arange(100, 5000), size=(2, CUE_WORDS // 2), replace=False)  # (label, word) ranks
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as f:
        f.write("label\ttext\n")
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            mu = np.log(MEAN_WORDS) - LENGTH_SIGMA**2 / 2  # log-normal with mean MEAN_WORDS
            lengths = np.clip(np.rint(rng.lognormal(mu, LENGTH_SIGMA, m)), 1, 120).astype(np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            ranks = np.minimum(np.searchsorted(cdf, rng.random(offsets[-1])), LEXICON - 1)
            labels = rng.integers(0, 2, m)
            n_cues = 1 + rng.binomial(2, 0.3, m)  # 1-3 cue words a sentence
            for k in range(3):  # cue k replaces the word at a random position
                has = n_cues > k
                side = np.where(rng.random(m) < CUE_PURITY, labels, 1 - labels)
                at = offsets[:-1] + (rng.random(m) * lengths).astype(np.int64)
                ranks[at[has]] = cues[side[has], rng.integers(0, CUE_WORDS // 2, m)[has]]
            tokens = words[ranks]
            f.writelines(f"{y}\t{' '.join(tokens[a:b])}\n" for y, a, b in zip(labels, offsets[:-1], offsets[1:]))
    partial.replace(path)


# ---------------------------------------------------------------- memory sampling


class PeakMemory(threading.Thread):
    """Samples /proc/self/status every `interval` s; `phase(name)` starts a new peak for a named phase."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval, self.name_now, self.peaks = interval, "start", {}
        self.stop = threading.Event()

    @staticmethod
    def read() -> dict[str, float]:
        """RssAnon, RssFile and VmRSS in MiB."""
        fields = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
        return fields

    def sample(self) -> None:
        now = self.read()
        peak = self.peaks.setdefault(self.name_now, dict(now))
        for key, value in now.items():
            peak[key] = max(peak[key], value)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def phase(self, name: str) -> None:
        self.sample()
        self.name_now = name
        self.sample()


# ---------------------------------------------------------------- one measurement (in its own process)


def measure_on_disk(corpus: Path, cache: Path, steps: int, memory: PeakMemory) -> dict[str, Any]:
    import torch

    from textcnn.base.config import TextCNNConfig, TrainConfig
    from textcnn.data.batches import TokenBatches
    from textcnn.data.corpus import encode_corpus
    from textcnn.data.tokenizer import Tokenizer
    from textcnn.models.text import TextCNN
    from textcnn.training.loop import fit_model

    memory.phase("tokenise")
    start = time.perf_counter()
    data = encode_corpus(corpus, tokenizer=Tokenizer("unicode"), cache_dir=cache)
    tokenise_s = time.perf_counter() - start
    n = len(data.train) + len(data.dev)
    memory.phase("train")
    torch.manual_seed(0)
    module = TextCNN(TextCNNConfig(variant="rand"), len(data.vocab), len(data.label_names))
    module.set_speed_options(sparse_embeddings=True)  # as fit_corpus trains by default (lazy Adadelta rows)
    batches = TokenBatches(data.train.ids, data.train.labels, BATCH, shuffle=True)
    start = time.perf_counter()
    result = fit_model(module, batches, TrainConfig(device="cpu", dry_run=True, dry_run_batches=steps))
    train_s = time.perf_counter() - start
    memory.phase("end")
    ids_bytes = sum(p.stat().st_size for p in cache.rglob("ids-*.npy"))
    return {
        "sentences": n, "tokens": len(data.train.ids.flat) + len(data.dev.ids.flat), "vocab": len(data.vocab),
        "tokenise_s": round(tokenise_s, 1), "tokenise_per_s": round(n / tokenise_s),
        "train_steps": steps, "train_s": round(train_s, 1), "train_per_s": round(steps * BATCH / train_s),
        "train_loss": round(result.history[-1].loss, 4), "ids_mib": round(ids_bytes / 2**20, 1),
        "cache_mib": round(sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 2**20, 1),
    }


def measure_in_memory(corpus: Path, memory: PeakMemory) -> dict[str, Any]:
    """What `TextCNNClassifier.fit` builds before training, on the same file: the in-memory contrast."""
    from textcnn.data.batches import TokenBatches
    from textcnn.data.files import load_files
    from textcnn.data.splits import split_off_dev
    from textcnn.data.tokenizer import Tokenizer, Vocabulary

    memory.phase("tokenise")
    start = time.perf_counter()
    train, dev = split_off_dev(load_files(corpus)["train"], 0.1, 0)
    tokenizer = Tokenizer("unicode")
    tokens = [tokenizer(t) for t in train.texts]
    vocab = Vocabulary.build(tokens)
    batches = TokenBatches([vocab.encode(t) for t in tokens], train.labels, BATCH, shuffle=True)
    dev_batches = TokenBatches([vocab.encode(tokenizer(t)) for t in dev.texts], None, BATCH, shuffle=False)
    tokenise_s = time.perf_counter() - start
    n = len(train) + len(dev)
    memory.phase("end")
    del tokens, batches, dev_batches
    return {"sentences": n, "vocab": len(vocab), "tokenise_s": round(tokenise_s, 1),
            "tokenise_per_s": round(n / tokenise_s)}


def measure(args: argparse.Namespace) -> None:
    """Child process: one (mode, size) row, written as JSON to args.out."""
    memory = PeakMemory()
    memory.start()
    import torch

    torch.set_num_threads(args.threads)
    memory.phase("imported")
    baseline = PeakMemory.read()
    corpus = Path(args.workdir) / f"corpus-{args.size}.tsv"
    cache = Path(args.workdir) / f"cache-{args.size}"
    shutil.rmtree(cache, ignore_errors=True)  # a cold cache: tokenising is measured, not a cache hit
    row = measure_on_disk(corpus, cache, args.steps, memory) if args.mode == "on-disk" \
        else measure_in_memory(corpus, memory)
    if not args.keep_cache:
        shutil.rmtree(cache, ignore_errors=True)
    memory.stop.set()
    peaks = memory.peaks
    row.update(
        mode=args.mode, baseline_anon_mib=round(baseline["RssAnon"]),
        tokenise_anon_mib=round(peaks["tokenise"]["RssAnon"]), tokenise_rss_mib=round(peaks["tokenise"]["VmRSS"]),
        train_anon_mib=round(peaks["train"]["RssAnon"]) if "train" in peaks else None,
        train_rss_mib=round(peaks["train"]["VmRSS"]) if "train" in peaks else None,
        peak_anon_mib=round(max(p["RssAnon"] for p in peaks.values())),
        peak_rss_mib=round(max(p["VmRSS"] for p in peaks.values())),
        threads=args.threads, torch=torch.__version__,
    )
    Path(args.out).write_text(json.dumps(row, indent=1))


# ---------------------------------------------------------------- the table


def cell_path(mode: str, size: int) -> Path:
    return CELLS / f"{mode}-{size}.json"


def run_cell(mode: str, size: int, args: argparse.Namespace) -> None:
    path = cell_path(mode, size)
    if path.exists() and not args.force:
        logging.info("%s %d: done before (%s); --force redoes it", mode, size, path)
        return
    corpus = Path(args.workdir) / f"corpus-{size}.tsv"
    if not corpus.exists():
        logging.info("generating %s", corpus)
        generate(corpus, size)
    logging.info("%s %d: measuring", mode, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [sys.executable, "-m", "benchmarks.scale", "--measure", mode, "--size", str(size), "--out", str(path),
               "--steps", str(args.steps), "--threads", str(args.threads), "--workdir", args.workdir]
    subprocess.run(command + ["--keep-cache"] * args.keep_cache, check=True, env=env)
    logging.info("%s %d: %s", mode, size, path.read_text().replace("\n", ""))


def table(rows: list[dict[str, Any]], command: str, machine: str) -> str:
    """The markdown report: one line per (path, size), then the growth of peak RssAnon per added sentence."""
    lines = [
        "# Data larger than memory: memory and speed as the corpus doubles",
        "",
        f"`{command}` · {machine} · {rows[0]['threads']} torch thread(s) · {date.today()} · one run per row "
        "(the machine was shared with other benchmarks, so speeds are approximate)",
        "",
        "| path | sentences | tokens | vocab | tokenise s | tokenise sent/s | train sent/s (steps) "
        "| peak RssAnon tokenise MiB | peak RssAnon train MiB | peak RSS MiB (incl. mmap) | ids .npy MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        train = f"{r['train_per_s']:,} ({r['train_steps']})" if r.get("train_per_s") else "—"
        tokens = f"{r['tokens']:,}" if "tokens" in r else "—"
        lines.append(
            f"| {r['mode']} | {r['sentences']:,} | {tokens} | {r['vocab']:,} | {r['tokenise_s']} "
            f"| {r['tokenise_per_s']:,} | {train} | {r['tokenise_anon_mib']:,} | {r.get('train_anon_mib') or '—'} "
            f"| {r['peak_rss_mib']:,} | {r.get('ids_mib', '—')} |"
        )
    disk = sorted((r for r in rows if r["mode"] == "on-disk"), key=lambda r: r["sentences"])
    if len(disk) >= 2:
        a, b = disk[0], disk[-1]
        added = b["sentences"] - a["sentences"]

        def growth(key: str) -> str:
            mib = b[key] - a[key]
            return f"{a[key]:,} → {b[key]:,} MiB ({mib:+,} MiB, {mib * 2**20 / added:.0f} bytes per added sentence)"

        lines += ["", f"On disk, {a['sentences']:,} → {b['sentences']:,} sentences: peak RssAnon while tokenising "
                  f"{growth('tokenise_anon_mib')}, while training {growth('train_anon_mib')}; the token ids grow "
                  f"{a['ids_mib']} → {b['ids_mib']} MiB on disk. Baseline after imports: {a['baseline_anon_mib']} MiB."]
    memory = [r for r in rows if r["mode"] == "in-memory"]
    for r in memory:
        per = (r["peak_anon_mib"] - r["baseline_anon_mib"]) * 2**20 / r["sentences"]
        lines += ["", f"In memory (`fit`'s preparation: texts, token lists, id lists), {r['sentences']:,} "
                  f"sentences: peak RssAnon {r['peak_anon_mib']:,} MiB, about {per:,.0f} bytes per sentence "
                  "above the baseline."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--sizes", default="1000000,2000000", help="On-disk corpus sizes (sentences).")
    parser.add_argument("--in-memory", default="1000000", help="Sizes for the in-memory contrast ('' = none).")
    parser.add_argument("--steps", type=int, default=200, help="Training steps of the capped epoch.")
    parser.add_argument("--threads", type=int, default=1, help="torch (and OpenMP) threads.")
    parser.add_argument("--workdir", default="/tmp/textcnn-scale", help="Corpora and caches (not committed).")
    parser.add_argument("--force", action="store_true", help="Redo sizes whose result JSON exists.")
    parser.add_argument("--keep-cache", action="store_true", help="Keep each size's cache after measuring.")
    parser.add_argument("--measure", choices=["on-disk", "in-memory"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.measure:
        args.mode = args.measure
        measure(args)
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    cells = [("on-disk", int(s)) for s in args.sizes.split(",") if s]
    cells += [("in-memory", int(s)) for s in args.in_memory.split(",") if s]
    for mode, size in cells:
        run_cell(mode, size, args)
    import torch

    from benchmarks.common.machine import describe_machine

    rows = [json.loads(cell_path(m, s).read_text()) for m, s in cells]
    command = "python -m benchmarks.scale " + " ".join(sys.argv[1:])
    report = table(rows, command.strip(), describe_machine())
    (RESULTS / "scale.md").write_text(report)
    meta = {"command": command.strip(), "machine": describe_machine(), "torch": torch.__version__,
            "date": str(date.today()), "rows": rows}
    (RESULTS / "scale.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(report)


if __name__ == "__main__":
    run_benchmark(main)
