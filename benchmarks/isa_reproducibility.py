"""Does the same seed give the same model on another CPU? Same training under each CPU instruction-set setting.

Training on CPU is bit-identical run after run on one machine, yet the beyond-Kim benchmark found members of the same
seed that differed between sessions (SST-2: dev 86.5 against 85.6 for one seed). Sessions run on different machines,
and PyTorch's CPU kernels pick their code path from the CPU's vector instructions: oneDNN (the convolutions), ATen's
own vectorised kernels and MKL (the matrix products) each choose AVX2 or AVX-512, with rounding that differs. Each
library can be held to a lower instruction set by an environment variable read when the process starts:
ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY and MKL_CBWR. This trains one small model of a strong-recipe member (GloVe
50-d plus a 250-d random channel, adversarial training; SST-2 sentences) in a fresh process under each setting, and
shows whether its weights equal those of the default run. Each process uses one thread, but for a last run with
two.

    TEXTCNN_DATA=../shared/data python -m benchmarks.isa_reproducibility
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch

from benchmarks.common.cli import add_vectors_arg, benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS

RESULT = RESULTS / "isa_reproducibility.md"
PORTABLE = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
# (name, environment) in table order; "default" runs twice to show that one machine repeats itself
SETTINGS: list[tuple[str, dict[str, str]]] = [
    ("default", {}),
    ("default, again", {}),
    ("ONEDNN_MAX_CPU_ISA=AVX2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    ("ATEN_CPU_CAPABILITY=avx2", {"ATEN_CPU_CAPABILITY": "avx2"}),
    ("MKL_CBWR=AVX2", {"MKL_CBWR": "AVX2"}),
    ("all three (portable)", PORTABLE),
    ("all three, again", PORTABLE),
    ("default, 2 threads", {"OMP_NUM_THREADS": "2"}),
]
CONTROLLED = sorted({name for _, env in SETTINGS for name in env})


def train_once(args: argparse.Namespace) -> dict[str, Any]:
    """Train the model of `args` in this process; its dev accuracy and hashes of its weights and dev probabilities."""
    from textcnn.jobs.text import DataSource, make_classifier
    from textcnn.training.members import data_fingerprint

    source = DataSource(None if args.dataset == "demo" else args.dataset)
    splits = source.load()
    train, dev = splits["train"], splits["dev"]
    names = train.label_names
    y_train = [names[i] for i in train.labels[:args.train_size]]
    y_dev = [names[i] for i in dev.labels]
    clf = make_classifier(source, variant="non-static", vectors=args.vectors, extra_vectors=("rand:250",),
                          adversarial=0.5, epochs=args.epochs, seed=args.seed, device="cpu")
    start = time.perf_counter()
    clf.fit(train.texts[:args.train_size], y_train, dev=(dev.texts, y_dev), label_names=names)
    seconds = time.perf_counter() - start
    return {"dev_acc": clf.score(dev.texts, y_dev),
            "weights": data_fingerprint(sorted(clf.module_.state_dict().items())),  # (name, tensor) in name order
            "probabilities": data_fingerprint([clf.predict_proba(dev.texts)]), "seconds": seconds,
            "aten_capability": torch.backends.cpu.get_cpu_capability()}


def run_setting(env: dict[str, str], argv: list[str]) -> dict[str, Any]:
    """`train_once` in a fresh process whose environment adds `env` (and drops the other controlled variables); one
    thread unless `env` sets OMP_NUM_THREADS."""
    base = {key: value for key, value in os.environ.items() if key not in CONTROLLED}
    env = {**base, "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run([sys.executable, "-m", __spec__.name, *argv, "--child"], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Markdown rows; a run's weights are compared with the first (default) run's and named by group."""
    groups: dict[str, str] = {}
    lines = ["| setting | ATen kernels | dev acc. | weights | same weights as default | seconds |",
             "|---|---|---:|---|---|---:|"]
    reference = rows[0][1]["weights"]
    for name, run in rows:
        group = groups.setdefault(run["weights"], "ABCDEFGHIJ"[len(groups)])
        same = "yes" if run["weights"] == reference else "no"
        lines.append(f"| {name} | {run['aten_capability']} | {100 * run['dev_acc']:.2f} | "
                     f"{group} (`{run['weights'][:12]}`) | {same} | {run['seconds']:.0f} |")
    return lines


def report(rows: list[tuple[str, dict[str, Any]]], args: argparse.Namespace) -> str:
    command = "TEXTCNN_DATA=../shared/data python -m benchmarks.isa_reproducibility"
    return "\n".join([
        "# Same seed, other CPU instruction sets",
        "",
        f"Generated by `{command}` on {date.today().isoformat()}.  ",
        f"Machine: {describe_machine()}; one thread per process unless the row says otherwise.  ",
        f"Model: `non-static` GloVe 6B 50-d plus `--extra-vectors rand:250`, `--adversarial 0.5`, seed {args.seed}, "
        f"{args.epochs} epochs on the first {args.train_size} {args.dataset} training sentences; dev is the full "
        "dev set. Each row is a fresh process; rows with the same letter have bit-identical weights.",
        "",
        *table(rows),
        "",
        "Read it as: a row that differs from the default shows that the library's code path changes the arithmetic, "
        "so a machine whose CPU lacks that instruction set (AVX-512 here) trains another model from the same seed. "
        "The portable setting holds all three libraries to AVX2, which x86 CPUs of the last decade have; runs "
        "under it are meant to repeat across such machines (checked here only on this one). The last row changes "
        "only the number of threads, which splits the sums of a kernel differently.",
        "",
    ])


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--dataset", default="sst2", help="a named dataset with a dev split, or demo (data/)")
    parser.add_argument("--train-size", type=int, default=4000, help="training sentences used (the first N)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2)
    add_vectors_arg(parser)
    parser.add_argument("--out", type=Path, default=RESULT, help="where the table is written")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(train_once(args)))
        return
    argv = ["--dataset", args.dataset, "--train-size", str(args.train_size), "--epochs", str(args.epochs),
            "--seed", str(args.seed), "--vectors", args.vectors]
    rows = []
    for name, env in SETTINGS:
        rows.append((name, run_setting(env, argv)))
        print(f"{name}: dev {rows[-1][1]['dev_acc']:.4f}, weights {rows[-1][1]['weights'][:12]}", flush=True)
    text = report(rows, args)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
