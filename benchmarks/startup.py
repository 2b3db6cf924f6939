"""Start-up and single-sentence latency: `cli.py predict` cold start, `cli.py --help`, warm `clf.predict`.

    python -m benchmarks.startup                      # a default-size model (20k words) is built in a temp dir
    python -m benchmarks.startup --model runs/latest --repeats 9

Each cold start is a fresh `python cli.py ...` process timed from spawn to exit (wall clock); the table gives
the median and the minimum over the repeats. Other processes sharing the machine make single runs noisy, so
only the median is quoted. `benchmarks.speed` calls `measure_cold_start` and `measure_predict_latency`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from benchmarks.common.cli import run_benchmark

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "a gripping , funny film"
DEFAULT_VOCAB = 20_000  # about SST-2's and MR's vocabulary size (Kim 2014 Table 1: |V| 16-21k)


def _summary(seconds: list[float]) -> dict:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "repeats": len(seconds)}


def _time_process(args: list[str], repeats: int) -> dict:
    """Wall time of `python ARGS` (spawn to exit) run `repeats` times; raises if the command fails."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=ROOT)
        seconds.append(time.perf_counter() - start)
    return _summary(seconds)


def measure_cold_start(model_dir: str | Path, repeats: int = 5) -> dict:
    """Median/min seconds of a fresh `python cli.py predict SENTENCE --model MODEL_DIR` process."""
    return _time_process(["cli.py", "-q", "predict", SENTENCE, "--model", str(model_dir)], repeats)


def measure_help(repeats: int = 5) -> dict:
    """Median/min seconds of a fresh `python cli.py --help` process."""
    return _time_process(["cli.py", "--help"], repeats)


def measure_torch_import(repeats: int = 5) -> dict:
    """Median/min seconds of a process that only imports torch and exits at once: the floor for predict."""
    return _time_process(["-c", "import torch, os; os._exit(0)"], repeats)


def measure_predict_latency(model_dir: str | Path, repeats: int = 100) -> dict:
    """Median/min seconds of a warm in-process `clf.predict([SENTENCE])` on CPU (after 10 warm-up calls)."""
    from textcnn import TextCNNClassifier

    clf = TextCNNClassifier.load(model_dir, device="cpu")
    for _ in range(10):
        clf.predict([SENTENCE])
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.predict([SENTENCE])
        seconds.append(time.perf_counter() - start)
    return _summary(seconds)


def build_default_model(out: str | Path, vocab_size: int = DEFAULT_VOCAB) -> Path:
    """Save an untrained default-size model (non-static, 300-d, 3,4,5 × 100) with a `vocab_size`-word vocabulary."""
    import torch

    from textcnn.base.config import DataConfig, TextCNNConfig, TrainConfig
    from textcnn.data.tokenizer import PAD, UNK, Vocabulary
    from textcnn.models.text import TextCNN
    from textcnn.storage.rundir import describe_run, prepare_run_dir, save_run

    words = ["a", "gripping", ",", "funny", "film"] + [f"word{i}" for i in range(vocab_size - 7)]
    vocab = Vocabulary([PAD, UNK, *words])
    torch.manual_seed(0)
    config = TextCNNConfig()
    run_dir = prepare_run_dir(out, force=True)
    configs = {"model": config, "data": DataConfig(), "train": TrainConfig()}
    save_run(run_dir, TextCNN(config, len(vocab), 2), describe_run("text", configs), ["neg", "pos"], vocab)
    return run_dir


def _machine() -> str:
    from benchmarks.common.machine import describe_machine  # lazy, like every torch import in this script

    return describe_machine()


@click.command()
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Default: a built default-size model.")
@click.option("--repeats", default=7, show_default=True, help="Cold starts per command.")
@click.option("--latency-repeats", default=200, show_default=True, help="Warm predict calls timed.")
def main(model_dir: str | None, repeats: int, latency_repeats: int) -> None:
    """Print a Markdown table of start-up and single-sentence latency."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(model_dir) if model_dir else build_default_model(Path(tmp) / "default")
        rows = [
            (f'`python cli.py -q predict "{SENTENCE}" --model M`', measure_cold_start(model, repeats)),
            ("`python cli.py --help`", measure_help(repeats)),
            (f'`clf.predict(["{SENTENCE}"])`, warm, CPU', measure_predict_latency(model, latency_repeats)),
            ("floor: `python -c \"import torch, os; os._exit(0)\"`", measure_torch_import(repeats)),
        ]
    default = f"untrained, default size (non-static, 300-d, 3,4,5 × 100, {DEFAULT_VOCAB} words)"
    click.echo(f"Command: `python -m benchmarks.startup {' '.join(sys.argv[1:])}`\n")
    click.echo(f"Machine: {_machine()}; shared with other jobs, so quote medians\n")
    click.echo(f"Model: {model_dir or default}\n")
    click.echo("| what | median | min | runs |\n|---|---|---|---|")
    for name, r in rows:
        click.echo(f"| {name} | {_fmt(r['median_s'])} | {_fmt(r['min_s'])} | {r['repeats']} |")


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1e3:.2f} ms"


if __name__ == "__main__":
    run_benchmark(main)
