"""benchmarks/digits.py: both protocols train and score as documented, units resume, the table judges the targets."""

import json

import numpy as np
import pytest

from benchmarks import digits
from benchmarks.common.image_rows import KERAS_DEFAULTS, keras_protocol


@pytest.fixture(autouse=True)
def cells_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(digits, "CELLS", tmp_path / "digits")
    monkeypatch.setattr(digits, "STATE", tmp_path / "state")


def test_one_epoch_of_each_protocol_trains_scores_and_writes_its_units(tmp_path):
    for protocol in ("keras", "ours"):
        digits.main(["--protocol", protocol, "--seeds", "1", "--epochs", "1"])
    units = {p: {e: json.loads((tmp_path / "digits" / "epochs1" / p / e / "seed0.json").read_text())
                 for e in digits.EVALUATIONS} for p in ("keras", "ours")}
    keras = units["keras"]["train-all"]
    assert (keras["train_images"], keras["test_acc"], keras["scaling"]) == (1797, None, "minmax")
    params = keras["params"]
    assert {k: params[k] for k in KERAS_DEFAULTS} == KERAS_DEFAULTS
    assert (params["batch_size"], params["lr"], params["dev_fraction"], params["selection"]) == (8, 1e-3, 0.0, "last")
    assert keras["kept_epoch"] == 1 and keras["best_dev_acc"] is None and 0.1 < keras["train_acc"] <= 1
    held = units["keras"]["held-out"]
    assert (held["train_images"], held["test_images"]) == (1437, 360) and 0 <= held["test_acc"] <= 1
    ours = units["ours"]["held-out"]["params"]
    assert (ours["init"], ours["batch_size"], ours["dev_fraction"], ours["selection"]) == ("torch", 16, 0.1, "auto")
    assert units["ours"]["held-out"]["best_dev_acc"] is not None
    table = (tmp_path / "digits_epochs1.md").read_text()  # a quick check never overwrites digits.md
    assert "pending" not in table and not (tmp_path / "digits.md").exists()
    assert not list((tmp_path / "state").rglob("resume"))  # finished units leave no state behind


def test_a_finished_unit_is_not_trained_again(tmp_path, monkeypatch):
    digits.main(["--protocol", "keras", "--evaluations", "held-out", "--seeds", "1", "--epochs", "1"])
    path = tmp_path / "digits" / "epochs1" / "keras" / "held-out" / "seed0.json"
    before = path.read_text()
    monkeypatch.setattr(digits, "train_unit", lambda *a: pytest.fail("a finished unit was trained again"))
    digits.main(["--protocol", "keras", "--evaluations", "held-out", "--seeds", "1", "--epochs", "1"])
    assert path.read_text() == before


def test_minmax_scaling_is_fitted_on_the_training_images_only():
    train, test = digits.load_evaluation("held-out", "keras")
    flat = train.images.reshape(len(train), -1)
    assert flat.min() == 0 and flat.max() == 1
    varying = flat.max(axis=0) > flat.min(axis=0)
    np.testing.assert_allclose(flat.max(axis=0)[varying], 1.0)  # each pixel scaled by its own range
    ours, _ = digits.load_evaluation("held-out", "ours")
    assert not np.array_equal(ours.images, train.images)  # ours: counts / 16, not per-pixel ranges
    assert test is not None and len(test) == 360
    all_images, none = digits.load_evaluation("train-all", "keras")
    assert len(all_images) == 1797 and none is None


def _finish(tmp_path, protocol, evaluation, accs):
    folder = tmp_path / "digits" / protocol / evaluation
    folder.mkdir(parents=True)
    for seed, acc in enumerate(accs):
        key = "train_acc" if evaluation == "train-all" else "test_acc"
        (folder / f"seed{seed}.json").write_text(json.dumps(
            {key: acc, "train_acc": acc if key == "train_acc" else 1.0, "kept_epoch": 1000, "epochs_run": 1000,
             "wall_seconds": 120.0, "machine": "m"}))


def test_rows_are_pending_until_every_seed_is_done_and_judge_the_targets(tmp_path):
    _finish(tmp_path, "keras", "train-all", [0.995, 0.997])
    assert "pending (2/3)" in digits.row("keras", "train-all", 3, None)
    row = digits.row("keras", "train-all", 2, None)
    assert "99.60 ± 0.14 (n=2)" in row and "| met |" in row  # within 0.5 of 99.89
    _finish(tmp_path, "ours", "train-all", [0.99, 0.992])
    assert "| not met |" in digits.row("ours", "train-all", 2, None)  # 99.1 is 0.79 below
    _finish(tmp_path, "keras", "held-out", [0.97, 0.98])
    assert "97.50 ± 0.71 (n=2) | ≥ 97 | met |" in digits.row("keras", "held-out", 2, None)
    _finish(tmp_path, "ours", "held-out", [0.95, 0.96])
    assert "| ≥ 97 | not met |" in digits.row("ours", "held-out", 2, None)


def test_the_keras_protocol_is_keras_defaults_on_every_image_and_the_last_epoch():
    assert keras_protocol() == {"batch_size": 32, "dev_fraction": 0.0, "selection": "last", "init": "keras",
                                "bn_momentum": 0.01, "bn_eps": 1e-3, "adam_eps": 1e-7}
    from textcnn.estimators.image import ImageCNNClassifier

    for params in digits.PARAMS.values():
        clf = ImageCNNClassifier(**params)
        clf._check_selection(clf.config("data"), clf.config("train"))  # a valid combination, e.g. no dev + last
        clf.config("model", in_channels=1, image_size=8)
