"""The beyond-Kim benchmark: its recipes, and that the strong recipe and Kim's best variant are chosen on dev."""

import argparse
import json

import pytest

import benchmarks.beyond_kim as beyond_kim
from benchmarks.beyond_kim import (
    ADVERSARIAL_SCAN,
    EVERY_RECIPE,
    FIRST_STRONG,
    PAIRS,
    SEARCHED,
    STRONG_CANDIDATES,
    STRONG_VARIATIONS,
    candidates_table,
    cell_of,
    cell_shares_members,
    kim_best,
    kim_paper_best,
    on_dataset,
    paired,
    paired_table,
    recipes,
    run_cell,
    selected_recipes,
    strong,
    strong_cell,
    summary,
    train_unit,
)
from textcnn.base.config import FILL_CHANNEL, INGREDIENTS, RECIPES
from textcnn.data.splits import Unit
from textcnn.jobs.search import FILTER_SIZES, SearchConfig
from textcnn.jobs.text import DataSource
from textcnn.jobs.units import UnitState


def test_recipes_are_the_base_each_ingredient_alone_all_and_all_but_one():
    table = recipes()
    assert table["base"] == {}
    assert all(table[f"base+{name}"] == params for name, params in INGREDIENTS.items())
    assert set(table["all"]) == {key for params in INGREDIENTS.values() for key in params}
    for name, params in INGREDIENTS.items():
        assert not set(params) & set(table[f"all-{name}"]) and set(table[f"all-{name}"]) < set(table["all"])
    assert table["base+ensemble3+adam"] == {**INGREDIENTS["ensemble3"], **INGREDIENTS["adam"]}


def test_each_variation_of_the_strong_recipe_changes_only_its_own_settings():
    table = recipes()
    for name, params in STRONG_VARIATIONS.items():
        variation = table[f"strong+{name}"]
        assert {key: variation[key] for key in params} == params
        assert {key: value for key, value in variation.items() if key not in params} == {
            key: value for key, value in FIRST_STRONG.items() if key not in params}
    assert table["base+ensemble3+adversarial0.5"] == {**INGREDIENTS["ensemble3"], "adversarial": 0.5}


def test_the_adversarial_scan_changes_only_the_step_size_of_kims_recipe():
    table = recipes()
    assert [table[f"base+adversarial{epsilon:g}"] for epsilon in (0.5, *ADVERSARIAL_SCAN)] == [
        {"adversarial": epsilon} for epsilon in (0.5, *ADVERSARIAL_SCAN)]


def test_every_named_recipe_is_a_measured_cell():
    table = recipes()
    assert table["base"] == RECIPES["kim"] and table["base+adam"] == RECIPES["adam"]
    assert table["strong+adversarial0.5"] == RECIPES["strong-adam"]


def test_a_cell_counts_only_when_complete_and_strong_is_chosen_by_dev_not_test():
    runs = [{"best_dev_acc": 0.80, "test_acc": 0.70, "wall_seconds": 360}, {"best_dev_acc": 0.82, "test_acc": 0.72,
                                                                           "wall_seconds": 360}]
    assert summary(runs[:1], expected=2) is None
    cell = summary(runs, expected=2)
    assert round(cell["dev"], 6) == 81.0 and round(cell["test"][0], 6) == 71.0 and cell["hours"] == 0.2
    better_test = {"dev": 80.0, "test": (90.0, 0.0), "hours": 1.0}
    better_dev = {"dev": 85.0, "test": (70.0, 0.0), "hours": 1.0}
    assert strong({"a": better_test, "b": better_dev, "c": None})[0] == "b"
    assert strong({"a": None}) is None


def test_a_cell_s_wall_time_counts_members_taken_from_the_store_at_their_first_training_time():
    runs = [{"best_dev_acc": 0.8, "test_acc": 0.7, "wall_seconds": 360},
            {"best_dev_acc": 0.8, "test_acc": 0.7, "wall_seconds": 120, "reused_seconds": 240}]
    assert summary(runs, expected=2)["hours"] == 0.2


def test_the_librarys_strong_recipe_is_one_of_the_measured_cells():
    table = recipes()
    assert table[strong_cell(table)] == RECIPES["strong"]
    assert strong_cell(table) in STRONG_CANDIDATES  # chosen among the candidates the results file compares
    assert strong_cell({"base": {}}) is None


@pytest.mark.parametrize("candidate", STRONG_CANDIDATES)
def test_promoting_a_candidate_names_its_measured_cell_and_adds_no_twin(monkeypatch, candidate):
    monkeypatch.setitem(RECIPES, "strong", dict(recipes()[candidate]))
    table = recipes()
    assert strong_cell(table) == candidate and "strong" not in table
    assert selected_recipes("strong") == [candidate]


def test_a_strong_recipe_never_measured_gets_its_own_cell(monkeypatch):
    monkeypatch.setitem(RECIPES, "strong", {"ensemble": 7})
    assert selected_recipes("strong") == ["strong"] and recipes()["strong"] == {"ensemble": 7}


def test_the_recipe_named_all_can_be_run_alone_and_every_runs_them_all():
    assert selected_recipes("all") == ["all"]
    assert selected_recipes("base,all-mixup") == ["base", "all-mixup"]
    assert selected_recipes(EVERY_RECIPE) == list(recipes())
    assert selected_recipes("base,strong") == ["base", strong_cell(recipes())]
    with pytest.raises(SystemExit, match="choose from"):
        selected_recipes("bass")


def test_the_distance_to_kim_is_to_his_best_variant_and_absent_where_he_did_not_run():
    assert kim_paper_best("trec") == ("non-static", 93.6)
    assert kim_paper_best("sst2") == ("multichannel", 88.1)
    assert kim_paper_best("zh_reviews") is None


def test_kims_recipe_on_zh_reviews_is_the_zh_benchmarks_config_best_on_dev(tmp_path, monkeypatch):
    monkeypatch.setattr(beyond_kim, "RESULTS", tmp_path)
    for config, dev, test in (("rand-char", 0.85, 0.83), ("rand-jieba", 0.84, 0.86)):
        (tmp_path / "zh_reviews" / config).mkdir(parents=True)
        for seed in range(2):
            unit = {"best_dev_acc": dev, "test_acc": test, "wall_seconds": 60}
            (tmp_path / "zh_reviews" / config / f"seed{seed}.json").write_text(json.dumps(unit))
    name, cell = kim_best("zh_reviews", expected=2)
    assert name == "rand-char" and round(cell["test"][0], 6) == 83.0
    assert kim_best("zh_reviews", expected=3) is None  # a config counts only when all its units are done
    assert kim_best("trec", expected=3) is None


def test_a_searched_recipe_trains_the_best_settings_found_on_dev_and_records_them(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setitem(SEARCHED, "base+search", SearchConfig(trials=3, folds=1))
    monkeypatch.setattr(beyond_kim, "base_params", lambda dataset, vectors, epochs: {
        "variant": "rand", "embedding_dim": 8, "epochs": epochs})
    args = argparse.Namespace(vectors=None, epochs=2, device="cpu")
    metrics = train_unit("trec", "base+search", DataSource().load(), None, args, Unit(seed=1),
                         UnitState.read(tmp_path / "unit"))
    found = metrics["search"]
    assert found["trials"] == len(found["trial_records"]) == 3
    best = found["best_params"]
    assert ",".join(map(str, best["filter_sizes"])) in FILTER_SIZES
    assert {key: metrics["params"][key] for key in best} == best  # the final model trained the searched settings
    assert found["best_dev_score"] == max(r["value"] for r in found["trial_records"] if r["state"] == "complete")
    assert 0.0 <= metrics["test_acc"] <= 1.0


def test_best_on_dev_never_picks_a_searched_recipe_whose_dev_score_the_search_maximised():
    searched = {"dev": 99.0, "test": (50.0, 0.0), "hours": 1.0}
    plain = {"dev": 80.0, "test": (70.0, 0.0), "hours": 1.0}
    assert strong({"base+search": searched, "base": plain})[0] == "base"
    assert "base+search" in recipes()


def write_units(folder, scores: dict[str, tuple[float, float]]) -> None:
    folder.mkdir(parents=True)
    for unit, (test, dev) in scores.items():
        (folder / f"{unit}.json").write_text(json.dumps({"unit": unit, "test_acc": test, "best_dev_acc": dev}))


def test_paired_differences_use_only_the_units_both_recipes_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(beyond_kim, "CELLS", tmp_path)
    write_units(tmp_path / "cr" / "a", {"fold00": (0.80, 0.90), "fold01": (0.70, 0.80), "fold02": (0.99, 0.99)})
    write_units(tmp_path / "cr" / "b", {"fold00": (0.78, 0.91), "fold01": (0.71, 0.78)})
    diff = paired("cr", "a", "b")
    assert diff["units"] == 2 and diff["better"] == 1
    assert round(diff["test"], 6) == 0.5 and round(diff["dev"], 6) == 0.5  # (+2 − 1) / 2 and (−1 + 2) / 2
    assert paired("cr", "a", "missing") is None


def test_the_paired_table_covers_the_pairs_both_recipes_ran_and_says_how_many_units(tmp_path, monkeypatch):
    monkeypatch.setattr(beyond_kim, "CELLS", tmp_path)
    recipe, against = PAIRS[0]
    write_units(tmp_path / "trec" / recipe, {"seed0": (0.9, 0.8)})
    write_units(tmp_path / "trec" / against, {"seed0": (0.8, 0.8)})
    rows = [line for line in paired_table(["trec", "cr"], {"trec": 3, "cr": 10}) if line.startswith("| ")]
    assert rows[1:] == [f"| trec | {recipe} | {against} | +10.0 / +0.0 | 1 of 1 | 1 of 3 |"]  # after the header
    assert all(name in recipes() for pair in PAIRS for name in pair)


def test_strong_candidates_are_compared_only_on_the_datasets_all_of_them_finished():
    names = list(STRONG_CANDIDATES)
    assert set(names) <= set(recipes())

    def cell(dev: float) -> dict:
        return {"dev": dev, "test": (dev - 1, 0.0), "hours": 0.5}

    cells = {"trec": {name: cell(80.0 + i) for i, name in enumerate(names)},
             "cr": {name: cell(70.0 + i) for i, name in enumerate(names)},
             "mr": {names[0]: cell(99.0), **{name: None for name in names[1:]}}}
    lines = candidates_table(cells)
    assert "trec, cr)" in lines[1]
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| ") and "---" not in line}
    assert rows[names[0]] == f"| {names[0]} | 3 of 3 | 75.00 | 74.00 | 1.0 |"  # mr's 99 is not in the mean
    assert rows[names[1]] == f"| {names[1]} | 2 of 3 | 76.00 | 75.00 | 1.0 |"


def test_units_on_a_fixed_split_take_the_members_an_earlier_unit_trained(tmp_path, monkeypatch):
    monkeypatch.setattr(beyond_kim, "STATES", tmp_path)
    monkeypatch.setattr(beyond_kim, "base_params", lambda dataset, vectors, epochs: {
        "variant": "rand", "embedding_dim": 8, "n_filters": 4, "epochs": epochs})
    args = argparse.Namespace(vectors=None, epochs=2, device="cpu")
    splits, recipe = DataSource().load(), "base+ensemble3+adversarial0.5"
    assert cell_shares_members(recipe, splits, None)
    first = train_unit("demo", recipe, splits, None, args, Unit(seed=0), UnitState.read(tmp_path / "seed0"))
    second = train_unit("demo", recipe, splits, None, args, Unit(seed=1), UnitState.read(tmp_path / "seed1"))
    assert [m["reused"] for m in first["ensemble"]] == [False] * 3 and first["reused_seconds"] == 0
    assert [m["reused"] for m in second["ensemble"]] == [True, True, False] and second["reused_seconds"] > 0
    assert second["ensemble"][:2] == [{**m, "reused": True} for m in first["ensemble"][1:]]


def test_units_that_train_on_their_own_data_or_one_model_share_no_members(monkeypatch):
    splits = DataSource().load()
    assert not cell_shares_members("base", splits, None)  # one model per unit: seeds never overlap
    assert not cell_shares_members("base+ensemble3", splits, 10)  # CV folds: each unit its own training data
    no_dev = {"train": splits["train"], "test": splits["test"]}  # a dev split held out with the unit's seed
    assert not cell_shares_members("base+ensemble3", no_dev, None)
    monkeypatch.setitem(SEARCHED, "base+ensemble3", SearchConfig())  # each unit trains the settings it found
    assert not cell_shares_members("base+ensemble3", splits, None)


def test_a_fill_channel_is_sized_for_the_dataset_s_vectors_or_left_out():
    fill = {"ensemble": 3, "extra_vectors": (FILL_CHANNEL,)}
    assert on_dataset(fill, 50) == {"ensemble": 3, "extra_vectors": ("rand:250",)}  # GloVe 50-d up to k = 300
    assert on_dataset(fill, 300) == {"ensemble": 3}  # zh_reviews' rand channel is 300-d already
    mixed = {"extra_vectors": ("fasttext:100", FILL_CHANNEL), "embedding_dim": 200}
    assert on_dataset(mixed, 50) == {"extra_vectors": ("fasttext:100", "rand:50"), "embedding_dim": 200}
    assert on_dataset({"extra_vectors": ("rand:250",)}, 300) == {"extra_vectors": ("rand:250",)}  # sized: as given
    with pytest.raises(ValueError, match="known only once they are read"):
        on_dataset({"extra_vectors": ("glove.txt", FILL_CHANNEL)}, 50)


def test_a_recipe_runs_in_the_cell_that_trains_the_same_model_on_each_dataset():
    table, fill = recipes(), "base+ensemble3+adversarial0.5+fill"
    assert cell_of(fill, table, 50) == "base+ensemble3+adversarial0.5+rand250"  # English, GloVe 50-d
    assert cell_of(fill, table, 300) == "base+ensemble3+adversarial0.5"  # zh_reviews: nothing to fill
    assert cell_of("base+ensemble3+adversarial0.5+rand250", table, 300) == "base+ensemble3+adversarial0.5+rand250"
    assert all(cell_of(name, table, 50) == name for name in table if name != fill)  # no other twins
    assert cell_of("base+search", table, 50) == "base+search"


def test_running_such_a_recipe_trains_the_units_of_that_cell(tmp_path, monkeypatch):
    folders = []
    monkeypatch.setattr(beyond_kim, "STATES", tmp_path)
    monkeypatch.setattr(beyond_kim, "units_for", lambda dataset, seeds: ({}, None, [Unit(seed=0)]))
    monkeypatch.setattr(beyond_kim, "run_units", lambda units, train, result, folder, **_: folders.extend(
        path for unit in units for path in (result(unit), folder(unit))))
    args = argparse.Namespace(seeds=1, stop_at=None, vectors=None)
    run_cell("zh_reviews", "base+ensemble3+adversarial0.5+fill", args)  # zh_reviews: rand, 300-d
    assert [p.parent.name for p in folders] == ["base+ensemble3+adversarial0.5"] * 2  # its result and its state
