"""Is Kim's 25-epoch cap too short for GloVe 50-d? Best dev accuracy within 25 epochs vs within more, on dev only.

In the Table 2 reproduction the fine-tuned variants often pick one of the last epochs (MR non-static: best
epoch 20-25 on 8 of 10 folds), a sign that they were still improving when training stopped. This trains a few
units of one cell for `--epochs` (default 50) and reads, from the same run, the best dev accuracy over the first
25 epochs (what the 25-epoch protocol sees: the first 25 epochs are the same run) and over all of them. Test
data is never scored. Each finished unit is written to benchmarks/results/epoch_cap/<dataset>-<variant>/<unit>.json
and skipped on the next run; the table goes to benchmarks/results/epoch_cap/<dataset>-<variant>.md.

    TEXTCNN_DATA=../shared/data python -m benchmarks.epoch_cap --dataset mr --variant non-static --folds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

from benchmarks.common.cli import add_vectors_arg, benchmark_parser, run_benchmark
from benchmarks.common.kim import units_for
from benchmarks.common.paths import RESULTS
from textcnn.base.atomic import write_json
from textcnn.data.splits import unit_splits
from textcnn.jobs.text import DataSource, make_classifier

KIM_EPOCHS = 25


def run_unit(path: Path, dataset: str, variant: str, unit, splits, cv, args: argparse.Namespace) -> None:
    if path.exists():
        return
    logging.info("%s %s %s, %d epochs", dataset, variant, unit.name, args.epochs)
    clf = make_classifier(DataSource(dataset), variant=variant, seed=unit.seed, epochs=args.epochs,
                          vectors=None if variant == "rand" else args.vectors, device="cpu")
    data = unit_splits(splits, unit, cv)
    names = data["train"].label_names

    def texts_and_labels(split):
        return split.texts, [names[i] for i in split.labels]

    dev = texts_and_labels(data["dev"]) if "dev" in data else None  # else fit holds out 10% of train
    clf.fit(*texts_and_labels(data["train"]), dev=dev, label_names=names)
    dev = [r.dev_acc for r in clf.fit_result_.history]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"dataset": dataset, "variant": variant, "unit": unit.name, "epochs": args.epochs,
                      "dev_acc": dev})


def best(dev: list[float], epochs: int) -> tuple[float, int]:
    """(best dev accuracy %, its epoch) over the first `epochs` epochs."""
    top = max(dev[:epochs])
    return 100 * top, dev.index(top) + 1


def main() -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--dataset", default="mr")
    parser.add_argument("--variant", default="non-static")
    parser.add_argument("--folds", default="0,1,2", help="CV folds (or seeds, for fixed-split datasets) to run")
    parser.add_argument("--epochs", type=int, default=50)
    add_vectors_arg(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    splits, cv, units = units_for(args.dataset, seeds=max(int(f) for f in args.folds.split(",")) + 1)
    wanted = {int(f) for f in args.folds.split(",")}
    units = [u for u in units if (u.fold if cv else u.seed) in wanted]
    cells = RESULTS / "epoch_cap" / f"{args.dataset}-{args.variant}"
    for unit in units:
        run_unit(cells / f"{unit.name}.json", args.dataset, args.variant, unit, splits, cv, args)
    lines = [f"{args.dataset} {args.variant}, seed as in the reproduction: best dev accuracy % (its epoch) within "
             f"{KIM_EPOCHS} vs {args.epochs} epochs. Command: `TEXTCNN_DATA=../shared/data python -m "
             f"benchmarks.epoch_cap --dataset {args.dataset} --variant {args.variant} --folds {args.folds} "
             f"--epochs {args.epochs}`", "",
             f"| unit | ≤ {KIM_EPOCHS} epochs | ≤ {args.epochs} epochs | gain |", "|---|---|---|---|"]
    gains = []
    for unit in units:
        dev = json.loads((cells / f"{unit.name}.json").read_text())["dev_acc"]
        (short, e_short), (long, e_long) = best(dev, KIM_EPOCHS), best(dev, args.epochs)
        gains.append(long - short)
        lines.append(f"| {unit.name} | {short:.1f} ({e_short}) | {long:.1f} ({e_long}) | {long - short:+.1f} |")
    lines += ["", f"Mean gain {statistics.mean(gains):+.2f} points over {len(gains)} units."]
    (cells.parent / f"{cells.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_benchmark(main)
