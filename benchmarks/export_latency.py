"""onnxruntime vs PyTorch on the CPU: latency of one exported text model at batch 1 and 256.

The model (--model, default runs/latest) is exported once to a temporary folder (`textcnn export`'s export_run) and
loaded twice: TextPredictor (PyTorch) and OnnxTextModel (onnxruntime), both on --threads intra-op threads. The
sentences are data/demo/test.tsv's, repeated to 256. Two columns per runtime and batch size:

- model only: the probabilities of one padded batch prepared once (OnnxTextModel.encode); PyTorch runs the wrapper
  that was exported (TextProbabilities) under torch.inference_mode, onnxruntime its session;
- end to end: predict_proba(texts), with tokenising, vocabulary lookup and padding.

Each repeat times the four calls of one batch size in turn, so load from other processes falls on all of them alike;
--warmup untimed rounds come first. The table gives the median and p90 in ms over --repeats and goes to
benchmarks/results/onnx.md.

    python cli.py -q train --variant non-static --epochs 5 --out /tmp/onnxbench --device cpu
    python -m benchmarks.export_latency --model /tmp/onnxbench
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT
from textcnn.estimators.predictor import TextPredictor
from textcnn.export.runtime import OnnxTextModel
from textcnn.export.to_onnx import TextProbabilities, export_run

SENTENCES = ROOT / "data" / "demo" / "test.tsv"  # `label<TAB>text` lines
BATCH_SIZES = (1, 256)
COLUMNS = ("batch", "runtime", "model only: median ms", "p90 ms", "end to end: median ms", "p90 ms")


def load_sentences(n: int, path: Path = SENTENCES) -> list[str]:
    """The text column of a `label<TAB>text` file, repeated (in order) to `n` sentences."""
    lines = path.read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    return [texts[i % len(texts)] for i in range(n)]


def summarize(seconds: list[float]) -> dict[str, float]:
    """Median and p90 in milliseconds (numpy's linear percentiles)."""
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90))}


def measure(calls: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, dict[str, float]]:
    """Each call timed `repeats` times, the calls taking turns within every repeat, after `warmup` untimed rounds."""
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(warmup + repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_ >= warmup:
                seconds[name].append(time.perf_counter() - start)
    return {name: summarize(times) for name, times in seconds.items()}


def benchmark_batch(predictor: TextPredictor, exported: OnnxTextModel, texts: list[str], repeats: int,
                    warmup: int) -> tuple[dict[str, dict[str, float]], float]:
    """Timings of the four calls for `texts` (one batch), and max |onnxruntime - PyTorch| of their probabilities."""
    wrapper = TextProbabilities(predictor.module, predictor.multi_label).eval()
    ids, lengths = exported.encode(texts)  # (B, L), (B,): prepared once for the model-only columns
    ids_t, lengths_t = torch.from_numpy(ids), torch.from_numpy(lengths)

    def torch_model() -> np.ndarray:
        with torch.inference_mode():
            return wrapper(ids_t, lengths_t).numpy()

    calls = {"pytorch model": torch_model, "onnxruntime model": lambda: exported.run(ids, lengths),
             "pytorch end": lambda: predictor.predict_proba(texts),
             "onnxruntime end": lambda: exported.predict_proba(texts)}
    gap = float(np.abs(predictor.predict_proba(texts) - exported.predict_proba(texts)).max())
    return measure(calls, repeats, warmup), gap


def format_rows(batch: int, timings: dict[str, dict[str, float]]) -> list[str]:
    rows = []
    for runtime, name in (("pytorch", "PyTorch"), ("onnxruntime", "onnxruntime")):
        model, end = timings[f"{runtime} model"], timings[f"{runtime} end"]
        rows.append(f"| {batch} | {name} | {model['median_ms']:.3f} | {model['p90_ms']:.3f} | "
                    f"{end['median_ms']:.3f} | {end['p90_ms']:.3f} |")
    return rows


def describe_model(predictor: TextPredictor, model: str) -> str:
    config = predictor.module.config
    sizes = ",".join(map(str, config.filter_sizes))
    return (f"`{model}`: {config.variant}, {config.embedding_dim}-d, filter sizes {sizes} × {config.n_filters}, "
            f"{len(predictor.vocab)} words, {len(predictor.classes)} classes, tokenizer {predictor.tokenizer.name}")


def table(rows: list[str], *, command: str, machine: str, model: str, threads: int, repeats: int, warmup: int,
          versions: str, export_s: float, gaps: dict[int, float], speedups: list[str], note: str) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# export_latency: the ONNX export under onnxruntime vs the PyTorch model, CPU",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}; {versions}.  ",
        f"Threads: {threads} intra-op thread(s) for both (torch.set_num_threads, onnxruntime intra_op_num_threads; "
        "onnxruntime inter-op 1).  ",
        f"Model: {model}; export took {export_s:.1f} s.  ",
        f"Sentences: data/demo/test.tsv, repeated to 256; batch 1 is its first sentence. {repeats} timed repeats "
        f"after {warmup} warm-up rounds; the four calls of a batch size take turns within each repeat.  ",
        "Model only: one padded batch (ids, lengths) prepared once; end to end: predict_proba(texts), "
        "tokenising, vocabulary lookup and padding included.  ",
        f"Load average (1, 5, 15 min) at the end: {load}." + (f" {note}" if note else ""),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *rows,
        "",
        *speedups,
        "",
        "Max |onnxruntime − PyTorch| probability, end to end: "
        + ", ".join(f"batch {b}: {gap:.1e}" for b, gap in gaps.items()) + ".",
    ]
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    note = ' --note "..."' if args.note else ""  # the note itself is printed below the command
    return (f"python -m benchmarks.export_latency --model {args.model} --threads {args.threads} "
            f"--repeats {args.repeats} --warmup {args.warmup}{note}")


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("benchmarks.export_latency", __doc__)
    parser.add_argument("--model", default="runs/latest", help="a text run directory written by `python cli.py train`")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for torch and onnxruntime alike")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per cell")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    parser.add_argument("--note", default="", help="a sentence added to the table (e.g. what else ran)")
    parser.add_argument("--out", type=Path, default=RESULTS / "onnx.md")
    args = parser.parse_args(argv)
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"no trained model at {args.model}; train one first: python cli.py train")
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        raise SystemExit("--threads and --repeats must be at least 1, --warmup at least 0")
    torch.set_num_threads(args.threads)
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        export_run(args.model, Path(tmp) / "onnx")
        export_s = time.perf_counter() - start
        exported = OnnxTextModel.load(Path(tmp) / "onnx", threads=args.threads)
    predictor = TextPredictor.load(args.model, device="cpu")
    sentences = load_sentences(max(BATCH_SIZES))
    rows, gaps, speedups = [], {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a demo sentence without tokens would warn on every call
        for batch in BATCH_SIZES:
            timings, gaps[batch] = benchmark_batch(predictor, exported, sentences[:batch], args.repeats, args.warmup)
            rows += format_rows(batch, timings)
            ratio = [timings[f"pytorch {c}"]["median_ms"] / timings[f"onnxruntime {c}"]["median_ms"]
                     for c in ("model", "end")]
            speedups.append(f"Batch {batch}: PyTorch median / onnxruntime median = {ratio[0]:.2f}× (model only), "
                            f"{ratio[1]:.2f}× (end to end).")
    versions = f"onnxruntime {onnxruntime.__version__}"
    text = table(rows, command=command_line(args), machine=describe_machine(), model=describe_model(predictor,
                 args.model), threads=args.threads, repeats=args.repeats, warmup=args.warmup, versions=versions,
                 export_s=export_s, gaps=gaps, speedups=speedups, note=args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
