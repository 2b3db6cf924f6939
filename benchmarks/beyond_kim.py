"""Beyond Kim's recipe (issue 23): each new ingredient alone and all together, against Kim's best variant and the
TF-IDF + LR and fastText baselines, on Kim's seven datasets and zh_reviews.

Base: Kim's training recipe (Adadelta, batch 50, dropout 0.5, max-norm 3, filters 3,4,5 × 100, best dev epoch of
25), `non-static` from GloVe 6B 50-d for English (the only vectors here), `rand` over characters for zh_reviews.
Ingredients (each one switch of the library):
- ensemble3: `--ensemble 3`, three seeds' probabilities averaged;
- mixup: `--mixup 0.2`, mixup of the pooled features (Guo, Mao & Zhang 2019);
- fasttext: `--extra-vectors fasttext:100`, a fastText channel trained on the unit's own training texts;
- adam: Adam lr 1e-3 with the plateau schedule (lr × 0.5 after 2 epochs without a better dev score), up to 40
  epochs, early stopping after 5.
The ingredients are declared once, in textcnn.base.config.INGREDIENTS. Recipes: `base`, `base+<ingredient>` for
each ingredient, `all` (every ingredient), `all-<ingredient>` (the ablation: what removing one ingredient from
`all` costs), `base+<a>+<b>` for the compositions in CANDIDATES, and `strong+<variation>` for the settings in
STRONG_VARIATIONS tried on top of the strong recipe, `base+adversarial<ε>` for adversarial training alone at the
step sizes of ADVERSARIAL_SCAN, `base+rand250` and `base+ensemble3+adversarial0.5+rand250` for a random 250-d channel
beside the vectors (RANDOM_CHANNEL), `base+ensemble3+adversarial0.5+fill` for the library's `rand:fill` channel,
which is that channel beside GloVe 50-d and none on zh_reviews (a recipe that trains the same model as another cell on a
dataset takes that cell's units there: `cell_of`), and `base+search`: `textcnn search`'s 12 trials of filter widths,
maps, dropout and learning rate scored on the unit's dev split, then the best settings trained on the unit (a
unit cut off keeps its finished trials and its final fit resumes). The table's main column is the library's
`--recipe strong` (textcnn.base.config.RECIPES; one of the recipes above, or its own `strong` cell); beside it,
the recipe with the best mean *dev* accuracy on each dataset; below, the paired per-unit differences of the
comparisons in PAIRS (over the units both recipes have finished), and the candidates for `--recipe strong`
(STRONG_CANDIDATES) by mean dev accuracy over the datasets all of them have finished. Test is only read, once per
unit, for the tables.

Units are those of the Kim table (benchmarks.reproduce_kim: SST on phrases with 3 seeds, TREC 3 seeds, the others
10-fold CV; zh_reviews its own split, 3 seeds), written one JSON per unit to
benchmarks/results/beyond_kim/<dataset>/<recipe>/<unit>.json, skipped when present and resumed when cut off
(state under runs/benchmarks/beyond_kim/), so the run can be stopped and restarted, and several processes (one
thread each) can share it: `--workers N` starts N-1 copies of the command and writes the tables once all of them
have finished. Kim's best variant is read from benchmarks/results/kim_table2/ (the variant with the best mean dev
accuracy; for zh_reviews from benchmarks/results/zh_reviews/), the baselines from
benchmarks/results/baselines/.

    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.beyond_kim --datasets trec --recipes base,strong
    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.beyond_kim --datasets cr --recipes every
    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.beyond_kim --datasets mr --stop-at 04:05
    TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.beyond_kim --datasets subj,mpqa --workers 2
    TEXTCNN_DATA=../shared/data python -m benchmarks.beyond_kim --table-only

Ensemble units on a fixed train and dev split (SST-1, SST-2, zh_reviews) overlap: unit `seed<s>` trains members on
seeds s, s+1, s+2, each the same model whichever unit trains it. Such a cell keeps its finished members in a member
store (textcnn.training.members; `<state>/<dataset>/<recipe>/members/`, removed once every unit is done), from
which a later unit takes the members it shares with an earlier one instead of training them again. A unit's
`wall_seconds` is the time its own process(es) spent; `reused_seconds` what its taken members took to train when
they were first trained; the tables' wall time adds both, the cost of each ensemble trained alone. (TREC holds out
its dev split with the unit's seed, and CV units train on different folds: they share nothing.)

`--stop-at HH:MM` starts no unit that would not end by then (judged by the cell's mean unit time so far), so a run
that must end with a session does not leave a unit half-trained.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from functools import cache, partial
from typing import Any

import torch

from benchmarks.common.cli import (
    add_vectors_arg,
    add_worker_args,
    benchmark_parser,
    copies_of_this_run,
    run_benchmark,
    stop_time,
    units_before,
)
from benchmarks.common.kim import KIM_DATASETS, KIM_TABLE2, VARIANTS, baseline_result, parse_list, units_for
from benchmarks.common.machine import describe_machine
from benchmarks.common.paths import RESULTS, STATES
from textcnn.analysis.metrics import mean_std
from textcnn.base.config import FILL_CHANNEL, INGREDIENTS, RECIPES, TextCNNConfig, as_flags, combine
from textcnn.data.embeddings import SIZED_SOURCE, fill_channel, load_vectors
from textcnn.data.files import TextDataset
from textcnn.data.splits import Unit, unit_splits
from textcnn.jobs.search import SearchConfig, search_settings
from textcnn.jobs.text import DataSource, fit_and_score, make_classifier, shares_members
from textcnn.jobs.units import JOURNAL, UnitState, run_units

CELLS = RESULTS / "beyond_kim"
DATASETS = (*KIM_DATASETS, "zh_reviews")
# other compositions measured as candidates for the strong recipe: the ensemble and Adam without mixup, which did
# not help alone on CR or TREC, nor in the all-but-one ablation on TREC
CANDIDATES: tuple[list[str], ...] = (["ensemble3", "adam"],)
# settings tried on top of the strong recipe, to close the distance left on MR, TREC and the rest (each cell is
# `strong+<name>`): a larger ensemble, twice the feature maps, widths 1 and 2 added (word and bigram detectors,
# what the TF-IDF baseline's features are), and adversarial training of the embedded tokens (Miyato et al. 2017)
# at two step sizes ε
# what the `strong+<variation>` cells vary: the first strong recipe (ensemble3, mixup, adam), fixed here so that the
# cells keep their meaning if the library's recipe (textcnn.base.config.RECIPES) takes a variation in
FIRST_STRONG: dict[str, Any] = combine(["ensemble3", "mixup", "adam"])
STRONG_VARIATIONS: dict[str, dict[str, Any]] = {
    "ensemble5": {"ensemble": 5},
    "maps200": {"n_filters": 200},
    "widths1-5": {"filter_sizes": (1, 2, 3, 4, 5)},
    "adversarial0.5": {"adversarial": 0.5},
    "adversarial2": {"adversarial": 2.0},
}
# recipes whose unit first searches Zhang & Wallace's settings (textcnn.jobs.search) on the unit's train/dev split,
# then trains the best as that recipe; their dev score is what the search maximised, so "best on dev" skips them
SEARCHED: dict[str, SearchConfig] = {"base+search": SearchConfig(trials=12, folds=1)}
# the paired per-unit comparisons the README quotes: (recipe, against); all-fasttext = the first strong recipe
PAIRS: tuple[tuple[str, str], ...] = (
    ("strong+adversarial0.5", "all-fasttext"),
    ("base+ensemble3+adversarial0.5", "strong+adversarial0.5"),
    ("base+ensemble3+adversarial0.5", "all-fasttext"),
    # the strong recipe's ablation: what adversarial training and the ensemble each add, alone and with the other
    ("base+adversarial0.5", "base"),
    ("base+ensemble3", "base"),
    ("base+ensemble3+adversarial0.5", "base+ensemble3"),
    ("base+ensemble3+adversarial0.5", "base+adversarial0.5"),
    # two more seeds in the strong recipe's ensemble, where it misses the target (MR, SST-1)
    ("base+ensemble5+adversarial0.5", "base+ensemble3+adversarial0.5"),
    # what searching Zhang & Wallace's settings on dev adds to Kim's recipe
    ("base+search", "base"),
    # the adversarial step size: each larger ε against the strong recipe's 0.5, on one model
    ("base+adversarial1", "base+adversarial0.5"),
    ("base+adversarial2", "base+adversarial0.5"),
    ("base+adversarial4", "base+adversarial0.5"),
    # a random 250-d channel beside GloVe 50-d, alone and in the strong recipe
    ("base+rand250", "base"),
    ("base+ensemble3+adversarial0.5+rand250", "base+ensemble3+adversarial0.5"),
)
# adversarial training's step size ε on Kim's recipe (one model), scanned on dev around the strong recipe's 0.5: with
# 50-d vectors and ~20 tokens, ε 0.5 moves each token by about 0.1 against vector norms of about 5
ADVERSARIAL_SCAN: tuple[float, ...] = (1.0, 2.0, 4.0)
# a randomly initialised 250-d channel beside GloVe's 50 dimensions (extra_vectors "rand:250"): Kim's k = 300 of
# capacity, a sixth of which starts from vectors; Kim's `rand` (300-d) is within half a point of `non-static` (50-d)
# on MR and SST, so the small vectors may be what holds the model back there
RANDOM_CHANNEL: dict[str, Any] = {"extra_vectors": ("rand:250",)}
# the same channel as the library offers it, `rand:fill` (FILL_CHANNEL): as wide as it takes to bring each token to
# Kim's k = 300, so 250-d beside GloVe 50-d and nothing beside zh_reviews' 300-d rand channel; a recipe with it runs
# in the cell of the recipe that trains the same model on that dataset (`cell_of`), never a twin of its own
FILLED_CHANNEL: dict[str, Any] = {"extra_vectors": (FILL_CHANNEL,)}
# the recipes compared for the library's `--recipe strong` (the first one, all-fasttext, and two with adversarial
# training), by the mean dev accuracy over the datasets all of them have finished
STRONG_CANDIDATES: tuple[str, ...] = ("all-fasttext", "strong+adversarial0.5", "base+ensemble3+adversarial0.5",
                                      "base+ensemble3+adversarial0.5+fill")
EVERY_RECIPE = "every"  # not "all": that is the name of the recipe with every ingredient


def recipes() -> dict[str, dict[str, Any]]:
    """Every recipe's parameter overrides on the base: base, base+X, all, all-X, and the library's "strong" recipe
    when it is none of those."""
    table: dict[str, dict[str, Any]] = {"base": {}}
    table.update({f"base+{name}": combine([name]) for name in INGREDIENTS})
    table["all"] = combine(list(INGREDIENTS))
    table.update({f"all-{name}": combine([other for other in INGREDIENTS if other != name]) for name in INGREDIENTS})
    table.update({"base+" + "+".join(names): combine(names) for names in CANDIDATES})
    table.update({f"strong+{name}": {**FIRST_STRONG, **params} for name, params in STRONG_VARIATIONS.items()})
    # adversarial training on Kim's recipe: alone (the ablation of the strong recipe), with SST-2's best recipe on dev
    # (Kim's Adadelta and a 3-seed ensemble; the strong recipe), and with five seeds, tried where the strong recipe
    # misses the target (MR, SST-1)
    adversarial = STRONG_VARIATIONS["adversarial0.5"]
    table["base+adversarial0.5"] = dict(adversarial)
    table.update({f"base+adversarial{epsilon:g}": {"adversarial": epsilon} for epsilon in ADVERSARIAL_SCAN})
    for size in (3, 5):
        table[f"base+ensemble{size}+adversarial0.5"] = {"ensemble": size, **adversarial}
    table["base+rand250"] = dict(RANDOM_CHANNEL)
    table["base+ensemble3+adversarial0.5+rand250"] = {**table["base+ensemble3+adversarial0.5"], **RANDOM_CHANNEL}
    table["base+ensemble3+adversarial0.5+fill"] = {**table["base+ensemble3+adversarial0.5"], **FILLED_CHANNEL}
    if strong_cell(table) is None:  # looked for among every cell, so that a measured one is never run twice
        table["strong"] = dict(RECIPES["strong"])
    table.update({name: {} for name in SEARCHED})  # base's parameters, then the searched ones
    return table


def selected_recipes(value: str) -> list[str]:
    """The recipes named by `--recipes`: comma-separated names (`strong` names the library's `--recipe strong`
    cell), or every recipe for EVERY_RECIPE."""
    table = recipes()
    names = ",".join(strong_cell(table) if name == "strong" else name for name in value.split(","))
    return parse_list(names, tuple(table), every=EVERY_RECIPE)


def strong_cell(table: dict[str, dict[str, Any]]) -> str | None:
    """The recipe of `table` that is the library's `--recipe strong`."""
    return next((name for name, params in table.items() if params == RECIPES["strong"] and name not in SEARCHED),
                None)


def token_width(dataset: str, vectors: str) -> int:
    """How wide the base variant embeds a token on `dataset`: the vectors' size, or Kim's k for `rand`."""
    if base_params(dataset, vectors, 1)["variant"] == "rand":
        return TextCNNConfig().embedding_dim
    return _vector_size(vectors)


@cache
def _vector_size(vectors: str) -> int:
    return load_vectors(vectors, words=()).vector_size


def on_dataset(params: dict[str, Any], width: int) -> dict[str, Any]:
    """`params` as trained where the base embeds a token `width` wide: a fill channel as `rand:<its size>` there
    (textcnn.data.embeddings.fill_channel), or left out when there is nothing to fill."""
    sources = tuple(params.get("extra_vectors", ()))
    if FILL_CHANNEL not in sources:
        return params
    sizes = [(None, 0 if source == FILL_CHANNEL else _channel_size(source)) for source in sources]
    filled = fill_channel(sizes, sources, width, params.get("embedding_dim", TextCNNConfig().embedding_dim))
    if len(filled) < len(sources):  # nothing to fill
        sources = tuple(source for source in sources if source != FILL_CHANNEL)
    extra = tuple(f"rand:{size}" if source == FILL_CHANNEL else source for source, (_, size) in zip(sources, filled))
    rest = {key: value for key, value in params.items() if key != "extra_vectors"}
    return {**rest, "extra_vectors": extra} if extra else rest


def _channel_size(source: str) -> int:
    sized = SIZED_SOURCE.match(source)
    if sized is None:
        raise ValueError(f"the size of extra vectors {source!r} is known only once they are read")
    return int(sized.group(2))


def cell_of(recipe: str, table: dict[str, dict[str, Any]], width: int) -> str:
    """The cell that trains `recipe` where the base embeds a token `width` wide: the first recipe of `table` with
    the same parameters there (a searched recipe is its own cell)."""
    if recipe in SEARCHED:
        return recipe
    wanted = on_dataset(table[recipe], width)
    return next(name for name, params in table.items() if name not in SEARCHED and on_dataset(params, width) == wanted)


def base_params(dataset: str, vectors: str, epochs: int) -> dict[str, Any]:
    if dataset == "zh_reviews":
        return {"variant": "rand", "epochs": epochs}
    return {"variant": "non-static", "vectors": vectors, "epochs": epochs}


def train_unit(dataset: str, recipe: str, splits: dict[str, TextDataset], cv: int | None, args: argparse.Namespace,
               unit: Unit, state: UnitState) -> dict[str, Any]:
    logging.info("%s %s %s%s", dataset, recipe, unit.name, " (resuming)" * state.resume)
    params = {**base_params(dataset, args.vectors, args.epochs), **recipes()[recipe]}
    clf = make_classifier(DataSource(dataset), seed=unit.seed, device=args.device, **params)
    start = time.perf_counter()
    data, found = unit_splits(splits, unit, cv), None
    if recipe in SEARCHED:  # a cut-off unit keeps its finished trials (the journal) and resumes the final fit
        found = search_settings(clf, data, SEARCHED[recipe], journal=state.folder / JOURNAL)
        clf.set_params(**found.estimator_params())
        params.update(found.best_params)
    store = member_store(dataset, recipe) if cell_shares_members(recipe, splits, cv) else None
    metrics = fit_and_score(clf, data, checkpoint_dir=state.folder, resume=state.resume, member_store=store)
    if found is not None:
        metrics["search"] = {**found.summary(), "trial_records": found.trials}
    metrics.update(dataset=dataset, recipe=recipe, unit=unit.name, wall_seconds=time.perf_counter() - start,
                   resumed=state.resume, params={k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
                   torch=torch.__version__, machine=describe_machine())
    metrics.pop("history", None)  # per-epoch curves stay in the run state; the table needs the scores
    return metrics


def cell_shares_members(recipe: str, splits: dict[str, TextDataset], cv: int | None) -> bool:
    """Whether the units of a cell train the same member for the same seed (textcnn.jobs.text.shares_members); a
    searched recipe's units train the settings each found, not one recipe."""
    return shares_members(recipes()[recipe].get("ensemble", 1), splits, cv) and recipe not in SEARCHED


def member_store(dataset: str, recipe: str) -> Any:
    return STATES / "beyond_kim" / dataset / recipe / "members"


def run_cell(dataset: str, recipe: str, args: argparse.Namespace) -> None:
    cell = cell_of(recipe, recipes(), token_width(dataset, args.vectors))
    if cell != recipe:
        logging.info("%s on %s trains the same model as %s: its cell", recipe, dataset, cell)
        recipe = cell
    splits, cv, units = units_for(dataset, args.seeds)
    folder = CELLS / dataset / recipe

    def result(unit: Unit) -> Any:
        return folder / f"{unit.name}.json"

    def unit_seconds() -> float | None:  # the mean of this cell's finished units, else unknown
        runs = cell_runs(folder)
        return sum(r["wall_seconds"] for r in runs) / len(runs) if runs else None

    run_units(units_before(units, args.stop_at, lambda unit: result(unit).is_file(), unit_seconds),
              partial(train_unit, dataset, recipe, splits, cv, args), result=result,
              folder=lambda unit: STATES / "beyond_kim" / dataset / recipe / unit.name, seconds_key="wall_seconds")
    if all(result(unit).is_file() for unit in units):
        shutil.rmtree(member_store(dataset, recipe), ignore_errors=True)


def cell_runs(folder: Any) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def summary(runs: list[dict[str, Any]], expected: int) -> dict[str, Any] | None:
    """Mean dev and test accuracy (%) and wall time of a complete cell; None until every unit is done."""
    if len(runs) < expected or not runs:
        return None
    dev = mean_std([100 * r["best_dev_acc"] for r in runs])
    test = mean_std([100 * r["test_acc"] for r in runs])
    return {"dev": dev[0], "test": test, "hours": sum(unit_cost_seconds(r) for r in runs) / 3600}


def unit_cost_seconds(run: dict[str, Any]) -> float:
    """A unit's training time as if it had trained every member itself: its own, and its taken members' first."""
    return run["wall_seconds"] + run.get("reused_seconds", 0.0)


def kim_folders(dataset: str) -> dict[str, Any]:
    """The finished runs of Kim's recipe on `dataset`, by variant: the Kim table's, or for zh_reviews its own
    benchmark's configurations (benchmarks.zh_reviews: same split, seeds and 25 epochs)."""
    if dataset in KIM_TABLE2:
        return {v: RESULTS / "kim_table2" / dataset / v for v in VARIANTS}
    folder = RESULTS / dataset
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()} if folder.is_dir() else {}


def kim_best(dataset: str, expected: int) -> tuple[str, dict[str, Any]] | None:
    """Kim's variant with the best mean dev accuracy on `dataset` (from the Kim table's units), or None."""
    cells = {v: summary(cell_runs(folder), expected) for v, folder in kim_folders(dataset).items()}
    done = {v: s for v, s in cells.items() if s is not None}
    if not done:
        return None
    best = max(done, key=lambda v: done[v]["dev"])
    return best, done[best]


def kim_paper_best(dataset: str) -> tuple[str, float] | None:
    """The best of Kim 2014's Table 2 on `dataset` (variant, accuracy %); None for datasets he did not use."""
    if dataset not in KIM_TABLE2:
        return None
    accuracy, variant = max(zip(KIM_TABLE2[dataset], VARIANTS))
    return variant, accuracy


def strong(cells: dict[str, dict[str, Any] | None]) -> tuple[str, dict[str, Any]] | None:
    """The recipe with the best mean dev accuracy among the finished ones (the "strong" recipe of a dataset),
    searched recipes aside."""
    done = {r: s for r, s in cells.items() if s is not None and r not in SEARCHED}
    if not done:
        return None
    best = max(done, key=lambda r: done[r]["dev"])
    return best, done[best]


def acc(s: dict[str, Any] | None) -> str:
    return "pending" if s is None else f"{s['test'][0]:.1f} ± {s['test'][1]:.1f}"


def unit_runs(dataset: str, recipe: str) -> dict[str, dict[str, Any]]:
    return {run["unit"]: run for run in cell_runs(CELLS / dataset / recipe)}


def paired(dataset: str, recipe: str, against: str) -> dict[str, Any] | None:
    """Mean per-unit differences (points) of `recipe` minus `against` in test and dev accuracy over the units both
    have finished, and how many of those units `recipe` is better on in test; None when they share no unit."""
    mine, theirs = unit_runs(dataset, recipe), unit_runs(dataset, against)
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    test = [100 * (mine[u]["test_acc"] - theirs[u]["test_acc"]) for u in shared]
    dev = [100 * (mine[u]["best_dev_acc"] - theirs[u]["best_dev_acc"]) for u in shared]
    return {"units": len(shared), "test": sum(test) / len(test), "dev": sum(dev) / len(dev),
            "better": sum(diff > 0 for diff in test)}


def paired_table(datasets: list[str], expected: dict[str, int]) -> list[str]:
    """One row per dataset and pair of PAIRS: paired test / dev differences, units better, units shared."""
    lines = ["", "## Paired per-unit differences (recipe − against; test / dev points, units better on test)", "",
             "| dataset | recipe | against | test / dev | better on test | units |", "|---|---|---|---|---|---|"]
    for dataset in datasets:
        for recipe, against in PAIRS:
            diff = paired(dataset, recipe, against)
            if diff is None:
                continue
            lines.append(f"| {dataset} | {recipe} | {against} | {diff['test']:+.1f} / {diff['dev']:+.1f} | "
                         f"{diff['better']} of {diff['units']} | {diff['units']} of {expected[dataset]} |")
    return lines


def candidates_table(cells: dict[str, dict[str, dict[str, Any] | None]]) -> list[str]:
    """Each of STRONG_CANDIDATES: on how many datasets it has finished, and its mean dev and test accuracy and
    total wall time over the datasets every candidate has finished (`cells`: dataset → recipe → summary)."""
    names = list(STRONG_CANDIDATES)
    common = [d for d, by_recipe in cells.items() if all(by_recipe.get(name) for name in names)]
    lines = ["", "## Candidates for `--recipe strong` (mean over the datasets all of them finished: "
             + (", ".join(common) or "none yet") + ")", "",
             "| recipe | datasets finished | mean dev | mean test | wall time (h) |", "|---|---|---|---|---|"]
    for name in names:
        done = sum(1 for by_recipe in cells.values() if by_recipe.get(name))
        mean_dev = mean_test = hours = "–"
        if common:
            mean_dev = f"{sum(cells[d][name]['dev'] for d in common) / len(common):.2f}"
            mean_test = f"{sum(cells[d][name]['test'][0] for d in common) / len(common):.2f}"
            hours = f"{sum(cells[d][name]['hours'] for d in common):.1f}"
        lines.append(f"| {name} | {done} of {len(cells)} | {mean_dev} | {mean_test} | {hours} |")
    return lines


def baseline(dataset: str, model: str) -> float | None:
    result = baseline_result(dataset, model)
    return None if result is None else 100 * result["test_acc_mean"]


def tables(datasets: list[str], args: argparse.Namespace) -> str:
    table = recipes()
    names, named = list(table), strong_cell(table)
    lines = [
        "# Beyond Kim's recipe",
        "",
        "Command: `TEXTCNN_DATA=../shared/data OMP_NUM_THREADS=1 python -m benchmarks.beyond_kim` (see the module "
        "docstring for the recipes)  ",
        f"Units: the Kim table's ({args.seeds} seeds on fixed splits, else 10-fold CV); test accuracy % mean ± std "
        f"over units. `--recipe strong` = the `{named}` cell ({as_flags(RECIPES['strong'])}); best on dev = the "
        "recipe with the best mean dev accuracy on that dataset. Vectors: GloVe 6B 50-d (English). On a fixed "
        "train and dev split (SST-1, SST-2, zh_reviews) an ensemble unit `seed<s>` trains members on seeds s, s+1, "
        "…, so units share members and an ensemble cell's ± understates how much a fresh ensemble varies; wall "
        "times count a shared member in every unit that uses it.  ",
        f"Machine: {describe_machine()} (per-unit machine in each JSON).",
        "",
        "| dataset | Kim's best variant (by dev) | `--recipe strong` (test %) | best on dev: recipe (test %) | "
        "TF-IDF + LR | fastText | strong − best baseline | wall time strong (h) | Kim 2014's best (word2vec 300-d) "
        "| strong − Kim 2014 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    expected: dict[str, int] = {}
    aliases: dict[str, dict[str, list[str]]] = {}  # recipe → the other cell that trains it → on these datasets
    every_cell: dict[str, dict[str, dict[str, Any] | None]] = {}
    ablation = ["", "## Every recipe (test acc %; dev acc % in brackets)", "",
                "| dataset | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for dataset in datasets:
        _, _, units = units_for(dataset, args.seeds)
        expected[dataset] = len(units)
        width = token_width(dataset, args.vectors)
        cell = {r: cell_of(r, table, width) for r in names}
        cells = {r: summary(cell_runs(CELLS / dataset / cell[r]), len(units)) for r in names}
        for r in names:
            if cell[r] != r:
                aliases.setdefault(r, {}).setdefault(cell[r], []).append(dataset)
        every_cell[dataset] = cells
        kim, best, recipe = kim_best(dataset, len(units)), strong(cells), cells[named]
        tfidf, fasttext = baseline(dataset, "tfidf"), baseline(dataset, "fasttext")
        margin = "pending"
        if recipe and tfidf is not None and fasttext is not None:
            # two decimals: the target is ≥ 1.0, and +0.98 must not print as +1.0
            margin = f"{recipe['test'][0] - max(tfidf, fasttext):+.2f}"
        kim_text = "pending" if kim is None else f"{kim[0]}: {acc(kim[1])}"
        best_text = "pending" if best is None else f"{best[0]}: {acc(best[1])}"
        hours = "–" if recipe is None else f"{recipe['hours']:.2f}"
        paper = kim_paper_best(dataset)
        paper_text, to_paper = "–", "–"
        if paper is not None:
            paper_text = f"{paper[0]}: {paper[1]:.1f}"
            to_paper = "pending" if recipe is None else f"{recipe['test'][0] - paper[1]:+.1f}"
        lines.append(f"| {dataset} | {kim_text} | {acc(recipe)} | {best_text} | {_number(tfidf)} | "
                     f"{_number(fasttext)} | {margin} | {hours} | {paper_text} | {to_paper} |")
        ablation.append(f"| {dataset} | " + " | ".join(
            "pending" if cells[r] is None else f"{cells[r]['test'][0]:.1f} ({cells[r]['dev']:.1f})" for r in names)
            + " |")
    shared = ["", "A recipe that trains another cell's model on a dataset takes that cell's units there: " + "; ".join(
        f"`{r}` is " + ", ".join(f"`{cell}` on {', '.join(on)}" for cell, on in by_cell.items())
        for r, by_cell in aliases.items()) + "."] if aliases else []
    return "\n".join(lines + ablation + shared + paired_table(datasets, expected) + candidates_table(every_cell))


def _number(value: float | None) -> str:
    return "pending" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__spec__.name, __doc__)
    parser.add_argument("--datasets", default="all")
    parser.add_argument("--recipes", default=EVERY_RECIPE,
                        help="comma-separated recipe names (`all`: the one with every ingredient; `strong`: the "
                             f"library's --recipe strong), or {EVERY_RECIPE}")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--device", default="auto")
    add_vectors_arg(parser)
    parser.add_argument("--table-only", action="store_true", help="only rebuild the tables from finished units")
    parser.add_argument("--stop-at", type=stop_time, metavar="HH:MM",
                        help="start no unit that would not end by this local time (by the cell's mean unit time)")
    add_worker_args(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    shared = args.workers > 1 or args.worker
    logging.basicConfig(level=logging.INFO, format="%(asctime)s " + "[%(process)d] " * shared + "%(message)s")
    datasets = parse_list(args.datasets, DATASETS)
    names = selected_recipes(args.recipes)
    if not args.table_only:
        if shared:
            torch.set_num_threads(1)
        copies = 0 if args.worker else args.workers - 1
        with copies_of_this_run(__spec__.name, argv, copies):
            for dataset in datasets:
                for recipe in names:
                    run_cell(dataset, recipe, args)
    if args.worker:
        return
    text = tables(list(DATASETS), args)
    (RESULTS / "beyond_kim.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_benchmark(main)
