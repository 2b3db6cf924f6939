"""ImageCNNClassifier: learns digits, scikit-learn contract, batch-norm at predict time, run directories, CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from textcnn.base.errors import CheckpointError, DataError
from textcnn.cli import main
from textcnn.data.images import load_digits_splits
from textcnn.estimators.base import NotFittedError
from textcnn.estimators.image import ImageCNNClassifier


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits()


@pytest.fixture(scope="module")
def fitted(digits):
    train = digits["train"]
    return ImageCNNClassifier(epochs=8, lr=3e-3, batch_size=32, device="cpu").fit(train.images, train.labels)


def test_digits_model_learns_well_above_chance(fitted, digits):
    test = digits["test"]
    assert fitted.score(test.images[:200], test.labels[:200]) > 0.75  # chance is 0.10


def test_probabilities_sum_to_one_and_predict_is_argmax(fitted, digits):
    images = digits["test"].images[:20]
    probs = fitted.predict_proba(images)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(fitted.predict(images), fitted.classes_[probs.argmax(axis=1)])


def test_one_image_alone_gets_the_same_prediction_as_in_a_batch(fitted, digits):
    # the material warns batch-norm in training mode cannot predict a single sample: we predict in eval mode
    images = digits["test"].images[:64]
    batch = fitted.predict_proba(images)
    for i in (0, 17, 63):
        alone = fitted.predict_proba(images[i:i + 1])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-5)
        assert alone.argmax() == batch[i].argmax()


def test_save_load_gives_identical_predictions(fitted, digits, tmp_path):
    run = fitted.save(tmp_path / "run")
    assert sorted(p.name for p in run.iterdir()) == ["README.md", "config.json", "labels.json", "model.safetensors"]
    assert json.loads((run / "config.json").read_text())["task"] == "image"
    loaded = ImageCNNClassifier.load(run, device="cpu")
    images = digits["test"].images[:50]
    np.testing.assert_array_equal(loaded.predict_proba(images), fitted.predict_proba(images))


def test_wrong_image_shape_is_refused(fitted):
    with pytest.raises(DataError, match=r"this model takes \(1, 8, 8\)"):
        fitted.predict_proba(np.zeros((2, 1, 28, 28)))


def test_unfitted_predict_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        ImageCNNClassifier().predict(np.zeros((1, 8, 8)))


def test_text_run_is_not_loaded_as_image(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 1, "model": {}}))
    with pytest.raises(CheckpointError, match="holds a text model"):
        ImageCNNClassifier.load(tmp_path)


def test_sgd_with_momentum_trains(digits):
    train = digits["train"]
    clf = ImageCNNClassifier(optimizer="sgd", lr=0.05, epochs=2, batch_size=64, device="cpu")
    clf.fit(train.images[:400], train.labels[:400])
    assert clf.fit_result_.history[-1].loss < clf.fit_result_.history[0].loss


def test_cli_train_image_then_predict_image(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["train-image", "--dataset", "digits", "--epochs", "2", "--batch-size", "64",
                                  "--device", "cpu", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "saved" in result.output and "test_acc" in result.output
    assert {"job.json", "training_curve.png", "metrics.json"} <= {p.name for p in (tmp_path / "run").iterdir()}
    assert not (tmp_path / "run" / "resume").exists()  # a finished run keeps only its best-dev model
    digit = load_digits_splits()["test"]
    path = tmp_path / "digit.png"
    Image.fromarray((digit.images[0, 0] * 255).round().astype(np.uint8)).save(path)
    result = runner.invoke(main, ["predict-image", str(path), "--model", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["file"] == str(path) and record["label"] in [str(d) for d in range(10)]
    assert abs(sum(record["probabilities"].values()) - 1.0) < 1e-5


def test_cli_refuses_28x28_model_on_digits_without_traceback(tmp_path):
    result = CliRunner().invoke(main, ["train-image", "--model", "mnist-cnn", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "use --model digits-cnn" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()  # nothing trained: nothing left behind


def sigterm_at_step(monkeypatch, step: int) -> None:
    """Send this process SIGTERM during training step `step` (counted over the whole run)."""
    import os
    import signal

    import textcnn.training.loop as train_module

    constrain, calls = train_module._apply_constraints, [0]

    def signalling_constraints(module):
        calls[0] += 1
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGTERM)
        constrain(module)

    monkeypatch.setattr(train_module, "_apply_constraints", signalling_constraints)


def _resumable(**kw):
    return ImageCNNClassifier(epochs=3, lr=3e-3, batch_size=32, lr_schedule="plateau", lr_patience=1,
                              deterministic=True, device="cpu", **kw)


def test_stopped_image_run_resumes_to_the_uninterrupted_result(digits, tmp_path, monkeypatch):

    from textcnn.base.errors import TrainingInterrupted

    images, labels = digits["train"].images[:320], digits["train"].labels[:320]
    straight = _resumable().fit(images, labels)

    sigterm_at_step(monkeypatch, 12)  # step 3 of epoch 2 (9 steps per epoch)
    with pytest.raises(TrainingInterrupted):
        _resumable().fit(images, labels, checkpoint_dir=tmp_path / "run")
    monkeypatch.undo()
    assert json.loads((tmp_path / "run" / "resume" / "state.json").read_text())["epoch"] == 1

    resumed = _resumable().fit(images, labels, checkpoint_dir=tmp_path / "run", resume=True)
    def curve(clf):
        return [(h.loss, h.train_acc, h.dev_acc, h.lr) for h in clf.fit_result_.history]

    assert curve(resumed) == curve(straight) and len(curve(resumed)) == 3
    a, b = straight.module_.state_dict(), resumed.module_.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_resume_with_other_settings_labels_or_without_state_is_refused(digits, tmp_path):
    from textcnn.base.errors import ConfigError

    images, labels = digits["train"].images[:64], digits["train"].labels[:64]
    with pytest.raises(CheckpointError, match="nothing to resume"):
        _resumable().fit(images, labels, checkpoint_dir=tmp_path / "empty", resume=True)
    _resumable().fit(images, labels, checkpoint_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="other settings"):
        ImageCNNClassifier(epochs=3, lr=1e-2, device="cpu").fit(images, labels, checkpoint_dir=tmp_path / "run",
                                                                   resume=True)
    with pytest.raises(DataError, match="labels"):
        _resumable().fit(images, (labels + 1) % 10 * 10, checkpoint_dir=tmp_path / "run", resume=True)


def test_cli_train_image_stopped_by_sigterm_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):


    args = ["train-image", "--epochs", "3", "--batch-size", "64", "--deterministic", "--device", "cpu"]
    runner = CliRunner()
    assert runner.invoke(main, [*args, "--out", str(tmp_path / "straight")]).exit_code == 0

    sigterm_at_step(monkeypatch, 25)  # step 4 of epoch 2 (21 steps per epoch)
    stopped = runner.invoke(main, [*args, "--out", str(tmp_path / "run")])
    monkeypatch.undo()
    assert stopped.exit_code == 2 and "Traceback" not in stopped.output
    assert f"continue with: textcnn train-image --resume {tmp_path / 'run'}" in stopped.output

    resumed = runner.invoke(main, ["train-image", "--resume", str(tmp_path / "run")])
    assert resumed.exit_code == 0, resumed.output
    straight, again = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("straight", "run"))
    assert again["test_acc"] == straight["test_acc"]
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in straight["history"]]
    finished = runner.invoke(main, ["train-image", "--resume", str(tmp_path / "run")])
    assert finished.exit_code == 2 and "nothing to resume" in finished.output


# ---- init and defaults options (issue 21): saved in config.json, reloaded, old runs load as before ----
KERAS = dict(init="keras", bn_momentum=0.01, bn_eps=1e-3, adam_eps=1e-7)  # Keras's defaults


def _batch_norms(clf):
    import torch

    return [m for m in clf.module_.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_keras_defaults_are_saved_and_reloaded(digits, tmp_path):
    train = digits["train"]
    clf = ImageCNNClassifier(epochs=1, device="cpu", **KERAS).fit(train.images[:64], train.labels[:64])
    assert clf.train_config().adam_eps == 1e-7
    config = json.loads((clf.save(tmp_path / "run") / "config.json").read_text())
    assert {k: config["model"][k] for k in ("init", "bn_momentum", "bn_eps")} == {
        "init": "keras", "bn_momentum": 0.01, "bn_eps": 1e-3}
    assert config["train"]["adam_eps"] == 1e-7
    loaded = ImageCNNClassifier.load(tmp_path / "run", device="cpu")
    assert {k: loaded.get_params()[k] for k in KERAS} == KERAS
    assert [(m.momentum, m.eps) for m in _batch_norms(loaded)] == [(0.01, 1e-3)]
    images = digits["test"].images[:20]
    np.testing.assert_array_equal(loaded.predict_proba(images), clf.predict_proba(images))


def test_a_run_saved_before_the_options_loads_with_todays_behaviour(digits, tmp_path):
    train = digits["train"]
    clf = ImageCNNClassifier(epochs=1, device="cpu").fit(train.images[:64], train.labels[:64])
    path = clf.save(tmp_path / "run") / "config.json"
    config = json.loads(path.read_text())
    for key in ("init", "bn_momentum", "bn_eps"):
        del config["model"][key]
    del config["train"]["adam_eps"]
    path.write_text(json.dumps(config))
    loaded = ImageCNNClassifier.load(tmp_path / "run", device="cpu")
    assert {k: loaded.get_params()[k] for k in KERAS} == {"init": "torch", "bn_momentum": 0.1, "bn_eps": 1e-5,
                                                            "adam_eps": 1e-8}
    assert [(m.momentum, m.eps) for m in _batch_norms(loaded)] == [(0.1, 1e-5)]
    images = digits["test"].images[:20]
    np.testing.assert_array_equal(loaded.predict_proba(images), clf.predict_proba(images))


def test_keras_init_changes_the_initial_weights_for_the_same_seed(digits):
    train = digits["train"]
    a, b = (ImageCNNClassifier(epochs=1, device="cpu", dry_run=True, dry_run_batches=1, init=init)
            .fit(train.images[:32], train.labels[:32]) for init in ("torch", "keras"))
    head_a, head_b = a.module_.head.linear.bias, b.module_.head.linear.bias
    assert not np.allclose(head_a.detach().numpy(), head_b.detach().numpy())


def test_cli_train_image_takes_the_init_and_defaults_options(tmp_path):
    result = CliRunner().invoke(main, ["train-image", "--epochs", "1", "--batch-size", "64", "--device", "cpu",
                                       "--init", "keras", "--bn-momentum", "0.01", "--bn-eps", "1e-3",
                                       "--adam-eps", "1e-7", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["model"]["init"], config["model"]["bn_momentum"], config["model"]["bn_eps"],
            config["train"]["adam_eps"]) == ("keras", 0.01, 1e-3, 1e-7)


def test_cli_train_image_refuses_an_unknown_init_without_traceback(tmp_path):
    result = CliRunner().invoke(main, ["train-image", "--init", "glorot", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "init must be one of torch, keras" in result.output and "Traceback" not in result.output
