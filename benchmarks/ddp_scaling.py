"""Training throughput against the number of CPU ranks under torchrun (DDP, gloo), one thread per rank.

Each row trains SST-2 sentences (6,920, Kim's train split), `rand`, Kim's config, global batch 50, for
1 warm-up + `--epochs` timed epochs, launched as `torchrun --nproc_per_node N cli.py train ...` with
OMP_NUM_THREADS=1; seconds/epoch come from the run's metrics.json (rank 0's clock, dev evaluation included).
Every row uses dense embedding gradients (`--dense-embeddings`), as DDP needs, so only the rank count changes.
A row is skipped when its JSON exists (delete benchmarks/results/ddp_scaling/ to re-run).

    TEXTCNN_DATA=../shared/data python -m benchmarks.ddp_scaling --ranks 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT

CELLS = RESULTS / "ddp_scaling"
N_TRAIN = 6920


def run_row(ranks: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
                   str(ROOT / "cli.py"), "-q", "train", "--dataset", "sst2", "--variant", "rand", "--device", "cpu",
                   "--dense-embeddings", "--epochs", str(1 + epochs), "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{ranks} rank(s) failed:\n{done.stderr[-3000:]}")
        metrics = json.loads((out / "metrics.json").read_text())
    timed = [h["seconds"] for h in metrics["history"][1:]]
    seconds = sum(timed) / len(timed)
    return {"ranks": ranks, "seconds_per_epoch": seconds, "examples_per_s": N_TRAIN / seconds,
            "test_acc": metrics.get("test_acc"), "machine": describe_machine(), "date": date.today().isoformat()}


def table(rows: list[dict], command: str) -> str:
    base = next((r["examples_per_s"] for r in rows if r["ranks"] == 1), None)
    lines = [
        f"Command: `{command}`  ",
        f"Hardware: {rows[0]['machine'] if rows else describe_machine()}; {date.today().isoformat()}  ",
        "Config: SST-2 train sentences (6,920), rand, 3,4,5 × 100, global batch 50, dense embedding gradients, "
        "one thread per rank (OMP_NUM_THREADS=1), gloo; s/epoch includes the dev evaluation.",
        "",
        "| ranks | s/epoch | examples/s | speed-up | test acc |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        speedup = f"{r['examples_per_s'] / base:.2f}×" if base else "–"
        acc = "–" if r["test_acc"] is None else f"{100 * r['test_acc']:.1f}"
        rate = f"{r['examples_per_s']:,.0f}"
        lines.append(f"| {r['ranks']} | {r['seconds_per_epoch']:.1f} | {rate} | {speedup} | {acc} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up epoch")
    args = parser.parse_args()
    if "TEXTCNN_DATA" not in os.environ:
        os.environ["TEXTCNN_DATA"] = str(ROOT.parent / "shared" / "data")
    CELLS.mkdir(parents=True, exist_ok=True)
    rows = []
    for ranks in (int(r) for r in args.ranks.split(",")):
        cell = CELLS / f"ranks{ranks}.json"
        if not cell.exists():
            cell.write_text(json.dumps(run_row(ranks, args.epochs), indent=2))
        rows.append(json.loads(cell.read_text()))
    text = table(rows, "python -m benchmarks.ddp_scaling " + " ".join(sys.argv[1:]))
    print(text)
    (RESULTS / "ddp_scaling.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
