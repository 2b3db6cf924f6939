"""What the speed options that change numerics do to accuracy: SST-2 dev, full training runs, several seeds.

Each cell trains SST-2 (Kim's 6,920 training sentences; `--phrases` for the 76,961 phrases) with Kim's
config and 25 epochs, once per option and seed, and records the best dev accuracy (the model selection
criterion; test is not looked at). Cells are written to benchmarks/results/speed_accuracy/ at once and
skipped on the next run. The table goes to benchmarks/results/speed_accuracy.md.

    TEXTCNN_DATA=../shared/data python -m benchmarks.speed_accuracy --seeds 3
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from datetime import date

from benchmarks.common.cli import benchmark_parser, run_benchmark
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, ROOT
from textcnn.data.registry import load_named_dataset
from textcnn.jobs.text import DataSource, make_classifier

CELLS = RESULTS / "speed_accuracy"
OPTIONS = {"default": {}, "bf16": {"bf16": True}, "batch-1000": {"batch_size": 1000}}


def run_cell(option: str, seed: int, variant: str, phrases: bool) -> dict:
    splits = load_named_dataset("sst2", phrases=phrases)
    train, dev = splits["train"], splits["dev"]
    clf = make_classifier(DataSource("sst2"), variant=variant, seed=seed, device="cpu", **OPTIONS[option])
    names = train.label_names
    clf.fit(train.texts, [names[i] for i in train.labels], dev=(dev.texts, [names[i] for i in dev.labels]),
            label_names=names)
    result = clf.fit_result_
    return {"option": option, "seed": seed, "variant": variant, "phrases": phrases,
            "best_dev_acc": result.best_dev_acc, "best_epoch": result.best_epoch,
            "seconds": sum(r.seconds for r in result.history), "machine": describe_machine()}


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--options", default=",".join(OPTIONS))
    parser.add_argument("--variant", default="rand", help="rand needs no vectors")
    parser.add_argument("--phrases", action="store_true")
    args = parser.parse_args()
    if "TEXTCNN_DATA" not in os.environ:
        os.environ["TEXTCNN_DATA"] = str(ROOT.parent / "shared" / "data")
    data = "phrases" if args.phrases else "sentences"
    lines = [
        f"Command: `python -m benchmarks.speed_accuracy {' '.join(sys.argv[1:])}`  ",
        f"Hardware: {describe_machine()}; {date.today().isoformat()}  ",
        f"SST-2 {data}, {args.variant}, Kim's config (Adadelta, batch 50 unless the row says, 25 epochs); best dev "
        "accuracy over the epochs (dev = 872 sentences).",
        "",
        "| option | best dev acc % (mean ± std) | seeds | training s per run (mean) |",
        "|---|---|---|---|",
    ]
    for option in args.options.split(","):
        cells = []
        for seed in range(args.seeds):
            path = CELLS / f"{data}-{args.variant}-{option}-seed{seed}.json"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(run_cell(option, seed, args.variant, args.phrases), indent=2))
            cells.append(json.loads(path.read_text()))
        acc = [100 * c["best_dev_acc"] for c in cells]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        seconds = statistics.mean(c["seconds"] for c in cells)
        lines.append(f"| {option} | {statistics.mean(acc):.1f} ± {std:.1f} | {len(acc)} | {seconds:.0f} |")
    text = "\n".join(lines)
    print(text)
    (RESULTS / "speed_accuracy.md").write_text(text + "\n")


if __name__ == "__main__":
    run_benchmark(main)
