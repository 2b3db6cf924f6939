"""Training throughput against the number of CPU ranks under torchrun (DDP, gloo), one thread per rank.

Config: SST-2 sentences (6,920, Kim's train split), `rand`, Kim's config (3,4,5 × 100, 300-d), global batch 50,
OMP_NUM_THREADS=1 per rank, launched as `torchrun --standalone --nproc_per_node N cli.py train ...`.

1. Throughput: 1 warm-up + `--epochs` timed epochs per row; seconds/epoch from the run's metrics.json (rank 0's
   clock, dev evaluation included). Rows: each rank count with sparse embedding rows (the default: lazy-row
   Adadelta, and under DDP only the touched rows are exchanged) and with dense embedding gradients
   (`--dense-embeddings`, every row every step: how DDP ran before). Speed-up is against 1 rank, sparse: the
   default single-process path.
2. Communication per step (ranks > 1): `benchmarks.ddp_profile` counts each rank's all-reduce payload and times
   a step with and without the exchange (median of `--profile-steps` steps).
3. Accuracy: full `--accuracy-epochs`-epoch runs (best-dev epoch, Kim's protocol), `--seeds` seeds per rank count,
   sparse rows; dev and test accuracy, mean ± std.

Every cell is a JSON file in benchmarks/results/ddp_scaling/ and is skipped when it exists (delete it to re-run),
so an interrupted run resumes. Timings need otherwise idle cores: run nothing else meanwhile.

    TEXTCNN_DATA=../shared/data python -m benchmarks.ddp_scaling --ranks 1,2
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT

CELLS = RESULTS / "ddp_scaling"
N_TRAIN = 6920
GRADIENTS = ("sparse", "dense")


def torchrun(ranks: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)]


def run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")


def train_metrics(ranks: int, options: list[str]) -> dict:
    """metrics.json of one `cli.py train --dataset sst2 --variant rand` run on `ranks` ranks."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        run([*torchrun(ranks), str(ROOT / "cli.py"), "-q", "train", "--dataset", "sst2", "--variant", "rand",
             "--device", "cpu", *options, "--out", str(out)], f"training on {ranks} rank(s)")
        return json.loads((out / "metrics.json").read_text())


def stamp(row: dict) -> dict:
    return {**row, "machine": describe_machine(), "date": date.today().isoformat()}


def throughput_row(ranks: int, gradients: str, epochs: int) -> dict:
    flag = ["--dense-embeddings"] if gradients == "dense" else []
    metrics = train_metrics(ranks, [*flag, "--epochs", str(1 + epochs)])
    timed = [h["seconds"] for h in metrics["history"][1:]]
    seconds = sum(timed) / len(timed)
    return stamp({"ranks": ranks, "gradients": gradients, "seconds_per_epoch": seconds,
                  "examples_per_s": N_TRAIN / seconds})


def profile_row(ranks: int, gradients: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.json"
        run([*torchrun(ranks), "-m", "benchmarks.ddp_profile", "--gradients", gradients, "--steps", str(steps),
             "--out", str(out)], f"the {gradients} profile on {ranks} ranks")
        return stamp(json.loads(out.read_text()))


def accuracy_row(ranks: int, seed: int, epochs: int) -> dict:
    metrics = train_metrics(ranks, ["--epochs", str(epochs), "--seed", str(seed)])
    return stamp({"ranks": ranks, "seed": seed, "epochs": epochs, "best_epoch": metrics["best_epoch"],
                  "dev_acc": metrics["best_dev_acc"], "test_acc": metrics["test_acc"],
                  "train_seconds": metrics["train_seconds"]})


def cell(name: str, compute: Callable[[], dict]) -> dict:
    """The cell's JSON, computed (and written at once) only when it is not there yet."""
    path = CELLS / f"{name}.json"
    if not path.exists():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        path.write_text(json.dumps(compute(), indent=2))
    return json.loads(path.read_text())


def mean_std(values: list[float]) -> str:
    pct = [100 * v for v in values]
    spread = f" ± {statistics.stdev(pct):.1f}" if len(pct) > 1 else ""
    return f"{statistics.mean(pct):.1f}{spread}"


def throughput_table(rows: list[dict]) -> list[str]:
    base = next((r["examples_per_s"] for r in rows if r["ranks"] == 1 and r["gradients"] == "sparse"), None)
    lines = ["| ranks | embedding gradients | s/epoch | examples/s | speed-up vs 1 rank, sparse (default) |",
             "|---|---|---|---|---|"]
    for r in rows:
        speedup = f"{r['examples_per_s'] / base:.2f}×" if base else "–"
        lines.append(f"| {r['ranks']} | {r['gradients']} | {r['seconds_per_epoch']:.2f} | "
                     f"{r['examples_per_s']:,.0f} | {speedup} |")
    return lines


def profile_table(rows: list[dict]) -> list[str]:
    lines = ["| ranks | embedding gradients | buckets exchanged/step | MB sent per rank/step | step ms | "
             "compute ms (no exchange) | communication ms (waited for) | communication share |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        slow = max(r["per_rank"], key=lambda p: p["step_ms"])  # the rank the others wait for
        comm = slow["step_ms"] - slow["compute_ms"]
        mb = statistics.mean(p["bytes_per_step"] for p in r["per_rank"]) / 1e6
        lines.append(f"| {r['ranks']} | {r['gradients']} | {slow['allreduces_per_step']:.0f} | {mb:.2f} | "
                     f"{slow['step_ms']:.1f} | {slow['compute_ms']:.1f} | {comm:.1f} | "
                     f"{comm / slow['step_ms']:.0%} |")
    return lines


def accuracy_table(rows: list[dict]) -> list[str]:
    lines = ["| ranks | seeds | epochs | kept epochs | dev acc % | test acc % |", "|---|---|---|---|---|---|"]
    for ranks in sorted({r["ranks"] for r in rows}):
        mine = [r for r in rows if r["ranks"] == ranks]
        kept = ", ".join(str(r["best_epoch"]) for r in mine)
        lines.append(f"| {ranks} | {len(mine)} | {mine[0]['epochs']} | {kept} | "
                     f"{mean_std([r['dev_acc'] for r in mine])} | {mean_std([r['test_acc'] for r in mine])} |")
    return lines


def report(throughput: list[dict], profiles: list[dict], accuracy: list[dict], command: str) -> str:
    machine = (throughput or profiles or accuracy or [{"machine": describe_machine()}])[0]["machine"]
    dates = sorted({r["date"] for r in throughput + profiles + accuracy}) or [date.today().isoformat()]
    lines = [
        f"Command: `{command}`  ",
        f"Hardware: {machine}; measured {', '.join(dates)}  ",
        "Config: SST-2 train sentences (6,920), rand, 3,4,5 × 100, 300-d, global batch 50, one thread per rank "
        "(OMP_NUM_THREADS=1), gloo. Sparse: each step exchanges only the embedding rows its batch touched "
        "(lazy-row Adadelta on every rank); dense: the whole embedding gradient every step.",
        "",
        "Throughput (1 warm-up + timed epochs; s/epoch includes the dev evaluation):",
        "",
        *throughput_table(throughput),
    ]
    if profiles:
        lines += ["", "Per step, on the slower rank (median of the profiled steps; communication = step time minus "
                  "the same step under `no_sync()`; MB = each rank's all-reduce payload, the mean over ranks):", "",
                  *profile_table(profiles)]
    if accuracy:
        lines += ["", "Accuracy over full runs (sparse rows, best-dev epoch, seeds 0..n-1):", "",
                  *accuracy_table(accuracy)]
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up epoch")
    parser.add_argument("--profile-steps", type=int, default=100, help="steps per profile measurement")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the accuracy runs (0 skips them)")
    parser.add_argument("--accuracy-epochs", type=int, default=25, help="epochs of each accuracy run")
    args = parser.parse_args()
    if "TEXTCNN_DATA" not in os.environ:
        os.environ["TEXTCNN_DATA"] = str(ROOT.parent / "shared" / "data")
    CELLS.mkdir(parents=True, exist_ok=True)
    rank_counts = [int(r) for r in args.ranks.split(",")]
    throughput = [cell(f"throughput-ranks{n}-{g}", lambda n=n, g=g: throughput_row(n, g, args.epochs))
                  for n in rank_counts for g in GRADIENTS]
    profiles = [cell(f"profile-ranks{n}-{g}", lambda n=n, g=g: profile_row(n, g, args.profile_steps))
                for n in rank_counts if n > 1 for g in GRADIENTS]
    accuracy = [cell(f"accuracy-ranks{n}-seed{s}", lambda n=n, s=s: accuracy_row(n, s, args.accuracy_epochs))
                for n in rank_counts for s in range(args.seeds)]
    text = report(throughput, profiles, accuracy, "python -m benchmarks.ddp_scaling " + " ".join(sys.argv[1:]))
    print(text)
    (RESULTS / "ddp_scaling.md").write_text(text + "\n")


if __name__ == "__main__":
    run_benchmark(main)
