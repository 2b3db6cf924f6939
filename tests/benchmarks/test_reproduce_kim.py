"""The reproduction table: a cell shows a number only when all its units are done."""

import json
from pathlib import Path

import pytest

from benchmarks import reproduce_kim
from benchmarks.common import kim
from benchmarks.common.kim import baseline_text
from benchmarks.reproduce_kim import cell_text
from textcnn.analysis.metrics import mean_std


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(kim, "RESULTS", tmp_path)
    monkeypatch.setattr(reproduce_kim, "CELLS", tmp_path / "kim_table2")


def finish_unit(tmp_path: Path, unit: str, test_acc: float, wall_seconds: float = 1800.0) -> None:
    folder = tmp_path / "kim_table2" / "trec" / "rand"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{unit}.json").write_text(json.dumps({"test_acc": test_acc, "wall_seconds": wall_seconds}))


def test_a_cell_without_units_is_pending():
    assert cell_text("trec", "rand", 3) == ("pending", "0/3", "–")


def test_a_partly_run_cell_shows_progress_but_no_accuracy(tmp_path):
    finish_unit(tmp_path, "seed0", 0.9)
    finish_unit(tmp_path, "seed1", 0.92)
    assert cell_text("trec", "rand", 3) == ("pending", "2/3", "1.00 h")


def test_a_finished_cell_shows_mean_and_sample_std(tmp_path):
    for seed, acc in enumerate((0.90, 0.92, 0.94)):
        finish_unit(tmp_path, f"seed{seed}", acc)
    assert cell_text("trec", "rand", 3) == ("92.0 ± 2.0", "3/3", "1.50 h")


def write_baseline(tmp_path: Path, accs: list[float]) -> None:
    folder = tmp_path / "baselines"
    folder.mkdir()
    mean, std = mean_std(accs)
    payload = {"test_acc_mean": mean, "test_acc_std": std, "units": len(accs), "test_accs": accs}
    (folder / "trec.json").write_text(json.dumps(payload))


def test_baseline_shows_a_spread_only_over_several_units(tmp_path):
    assert baseline_text("trec") == "pending"
    write_baseline(tmp_path, [0.894])
    assert baseline_text("trec") == "89.4"


def test_baseline_over_folds_shows_mean_and_std(tmp_path):
    write_baseline(tmp_path, [0.76, 0.78, 0.80])
    assert baseline_text("trec") == "78.0 ± 2.0"


def test_the_fasttext_column_is_pending_until_its_own_result_is_written(tmp_path):
    write_baseline(tmp_path, [0.894])
    assert baseline_text("trec", "fasttext") == "pending"  # the TF-IDF result alone does not fill it
    path = tmp_path / "baselines" / "trec.json"
    result = json.loads(path.read_text())
    result["fasttext"] = {"test_acc_mean": 0.78, "test_acc_std": 0.02, "units": 3, "test_accs": [0.76, 0.78, 0.80]}
    path.write_text(json.dumps(result))
    assert (baseline_text("trec", "tfidf"), baseline_text("trec", "fasttext")) == ("89.4", "78.0 ± 2.0")
