"""SST-2 (sentences only, no phrases) × the four Kim variants × n seeds, with 50-d GloVe; CPU-friendly.

Resumable: each (variant, seed) cell is saved as JSON under benchmarks/results/sst2_variants/ and skipped
when present. Prints a Markdown table (mean ± std over seeds) and writes it to benchmarks/results/sst2_variants.md.

    TEXTCNN_DATA=../shared/data python -m benchmarks.sst2_variants --seeds 3
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.common.cli import add_vectors_arg, benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS
from textcnn.jobs.text import DataSource, make_classifier, train_run

VARIANTS = ("rand", "static", "non-static", "multichannel")
KIM_2014 = {"rand": 82.7, "static": 86.8, "non-static": 87.2, "multichannel": 88.1}  # Kim 2014 Table 2, SST-2


def run_cell(variant: str, seed: int, vectors: str) -> dict:
    clf = make_classifier(
        DataSource("sst2"), variant=variant, seed=seed, vectors=None if variant == "rand" else vectors
    )
    with tempfile.TemporaryDirectory() as tmp:
        return train_run(clf, DataSource("sst2"), Path(tmp) / "run").metrics


def table(cells: dict[tuple[str, int], dict], seeds: int, command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        f"Hardware: {describe_machine()}; {seeds} seeds  ",
        "Data: SST-2 sentences only (no phrases), GloVe 6B 50-d; Kim used word2vec 300-d and trained on phrases",
        "",
        "| variant | test acc % (mean ± std) | dev acc % | seeds | Kim 2014 |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        runs = [cells[(variant, s)] for s in range(seeds) if (variant, s) in cells]
        if not runs:
            continue
        test = [100 * r["test_acc"] for r in runs]
        dev = [100 * r["best_dev_acc"] for r in runs]
        std = statistics.stdev(test) if len(test) > 1 else 0.0
        lines.append(
            f"| {variant} | {statistics.mean(test):.1f} ± {std:.1f} | {statistics.mean(dev):.1f} | {len(runs)} "
            f"| {KIM_2014[variant]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--seeds", type=int, default=3)
    add_vectors_arg(parser)
    args = parser.parse_args()
    cell_dir = RESULTS / "sst2_variants"
    cell_dir.mkdir(parents=True, exist_ok=True)
    cells = {}
    for seed in range(args.seeds):
        for variant in VARIANTS:
            path = cell_dir / f"{variant}-seed{seed}.json"
            if not path.exists():
                path.write_text(json.dumps(run_cell(variant, seed, args.vectors), indent=2))
            cells[(variant, seed)] = json.loads(path.read_text())
    text = table(
        cells, args.seeds, f"TEXTCNN_DATA=../shared/data python -m benchmarks.sst2_variants --seeds {args.seeds}"
    )
    (RESULTS / "sst2_variants.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
