"""The Fashion ladder's one-change study: its options and its table."""

import json
from types import SimpleNamespace

import pytest

from benchmarks import fashion_ladder
from benchmarks.fashion_ladder import CHANGES, RUNGS, classifier, study_table


def _cell(folder, name, seed, acc):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-seed{seed}.json").write_text(json.dumps({"seed": seed, "test_acc": acc}))


def test_the_study_table_sets_each_change_beside_the_unchanged_row_on_the_same_seeds(tmp_path):
    rung4 = RUNGS[3].name
    for seed, acc in ((0, 0.89), (1, 0.90), (2, 0.91)):
        _cell(tmp_path, rung4, seed, acc)
    _cell(tmp_path / "study", f"{rung4}-head-dropout", 0, 0.92)
    lines = study_table(tmp_path)
    assert lines[-1] == f"| 4 | {CHANGES['head-dropout'][0]} | 0 | 92.00 (n=1) | 89.00 (n=1) | 92.56 |"
    assert study_table(tmp_path / "empty") == []


def test_a_change_overrides_only_its_own_parameters():
    args = SimpleNamespace(epochs=5, long_epochs=30, patience=5, lr_factor=0.5, lr_patience=2, seed=0, device="cpu",
                           protocol="keras", change=None)
    plain = classifier(RUNGS[3], args).get_params()
    for change, (_, overrides) in CHANGES.items():
        changed = classifier(RUNGS[3], SimpleNamespace(**{**vars(args), "change": change})).get_params()
        assert {k for k in plain if plain[k] != changed[k]} == set(overrides)
        assert all(changed[k] == v for k, v in overrides.items())
    assert (plain["init"], plain["bn_momentum"], plain["model"]) == ("keras", 0.01, "wide-cnn-bn")


def test_a_change_outside_the_keras_protocol_of_rungs_4_5_is_refused(monkeypatch):
    monkeypatch.setattr("sys.argv", ["fashion_ladder", "--rungs", "3", "--protocol", "keras", "--change", "torch-bn"])
    with pytest.raises(SystemExit, match="--change studies the keras protocol of rungs"):
        fashion_ladder.main()
