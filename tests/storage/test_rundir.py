import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from textcnn.base.atomic import atomic_write, write_json
from textcnn.base.config import DataConfig, TextCNNConfig, TrainConfig
from textcnn.base.errors import CheckpointError, ConfigError
from textcnn.data.tokenizer import Vocabulary
from textcnn.models.text import TextCNN
from textcnn.models.weights import load_weights_into
from textcnn.storage.rundir import (
    check_resumable,
    describe_run,
    load_run,
    point_latest,
    prepare_run_dir,
    read_description,
    save_run,
)


@pytest.fixture
def run_dir(tmp_path):
    cfg = TextCNNConfig(variant="multichannel", embedding_dim=4, n_filters=3)
    vocab = Vocabulary.build([["a", "b", "c"]])
    model = TextCNN(cfg, len(vocab), 2)
    path = prepare_run_dir(tmp_path / "run")
    configs = {"model": cfg, "data": DataConfig(tokenizer="kim"), "train": TrainConfig(epochs=3)}
    save_run(path, model, describe_run("text", configs), ["neg", "pos"], vocab)
    return path, model


def test_round_trip_restores_configs_vocab_labels_and_weights(run_dir):
    path, model = run_dir
    saved = load_run(path)
    assert saved.model_config == model.config
    assert saved.data_config.tokenizer == "kim" and saved.train_config.epochs == 3
    assert saved.vocab.itos[2:] == ["a", "b", "c"] and saved.label_names == ["neg", "pos"]
    rebuilt = TextCNN(saved.model_config, len(saved.vocab), 2)
    load_weights_into(rebuilt, saved.state_dict, str(path))
    for name, tensor in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], tensor)


def test_each_embedding_matrix_is_stored_once(run_dir):
    path, _ = run_dir
    names = list(load_file(str(path / "model.safetensors")))
    assert sorted(n for n in names if "static" in n or "tuned" in n) == ["static.weight", "tuned.weight"]


def test_config_records_format_and_package_version(run_dir):
    config = json.loads((run_dir[0] / "config.json").read_text())
    assert config["format_version"] == 2 and "textcnn_version" in config and config["task"] == "text"
    assert config["model"]["filter_sizes"] == [3, 4, 5]


def test_wrong_format_version_is_rejected(run_dir):
    path, _ = run_dir
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_run(path)


def test_unknown_config_key_is_rejected(run_dir):
    path, _ = run_dir
    config = json.loads((path / "config.json").read_text())
    config["model"]["width"] = 7
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="width"):
        load_run(path)


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "labels.json", "model.safetensors"])
def test_missing_file_is_a_clear_error(run_dir, name):
    path, _ = run_dir
    (path / name).unlink()
    with pytest.raises(CheckpointError, match=name.replace(".", "\\.")):
        load_run(path)


def test_corrupt_weights_are_a_clear_error(run_dir):
    path, _ = run_dir
    (path / "model.safetensors").write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(path)


def test_corrupt_json_is_a_clear_error(run_dir):
    path, _ = run_dir
    (path / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_run(path)


def test_mismatched_weights_are_rejected_before_copying(run_dir):
    path, model = run_dir
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["head.linear.weight"] = torch.zeros(5, 9)
    save_file(state, str(path / "model.safetensors"))
    saved = load_run(path)
    fresh = TextCNN(saved.model_config, len(saved.vocab), 2)
    before = fresh.head.linear.weight.clone()
    with pytest.raises(CheckpointError, match="do not match"):
        load_weights_into(fresh, saved.state_dict, str(path))
    assert torch.equal(fresh.head.linear.weight, before)


def test_missing_dir_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_run(tmp_path / "nothing")


def test_prepare_run_dir_refuses_a_non_empty_dir_without_force(run_dir):
    path, _ = run_dir
    with pytest.raises(CheckpointError, match="--force"):
        prepare_run_dir(path)
    assert prepare_run_dir(path, force=True) == path


def test_writes_leave_no_temporary_files(run_dir):
    path, _ = run_dir
    write_json(path / "metrics.json", {"a": 1})
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "labels.json", "metrics.json", "model.safetensors", "vocab.json",
    ]


def test_a_write_interrupted_midway_keeps_the_previous_file(run_dir):
    path, _ = run_dir
    before = (path / "labels.json").read_text()

    def write_half_then_fail(tmp):
        tmp.write_text('["half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path / "labels.json", write_half_then_fail)
    assert (path / "labels.json").read_text() == before
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]


def test_point_latest_follows_the_newest_run(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), (second / "unit").mkdir(parents=True)
    point_latest(first, tmp_path)
    point_latest(second / "unit", tmp_path)
    assert (tmp_path / "latest").resolve() == (second / "unit").resolve()
    assert not (tmp_path / "latest").readlink().is_absolute()  # the runs folder can be moved
    shutil.rmtree(second)


# ---- format 1 (before every parameter had its section) still loads ----

V1_TRAIN = {"optimizer": "adadelta", "lr": None, "rho": 0.95, "eps": 1e-6, "momentum": 0.9, "batch_size": 50,
            "epochs": 3, "patience": None, "lr_schedule": "none", "lr_factor": 0.5, "lr_patience": 5,
            "dev_fraction": 0.1, "seed": 0, "device": "auto", "deterministic": False, "bucket_by_length": False,
            "fused_conv": False, "bf16": False, "compile": False, "sparse_embeddings": True, "dry_run": False,
            "dry_run_batches": 3}  # TrainConfig's fields as format 1 wrote them


def _as_format_1(path, model: dict, data: dict | None, task: str | None = None) -> None:
    config = {"format_version": 1, "textcnn_version": "0.1.0", "model": model, "train": V1_TRAIN}
    if data is not None:
        config["data"] = data
    if task is not None:
        config["task"] = task
    (path / "config.json").write_text(json.dumps(config))


def test_a_format_1_text_run_loads_with_its_settings_where_they_now_live(run_dir):
    from textcnn.estimators.text import TextCNNClassifier

    path, model = run_dir
    _as_format_1(path, {"variant": "multichannel", "filter_sizes": [3, 4, 5], "n_filters": 3, "dropout": 0.5,
                        "max_norm": 3.0, "embedding_dim": 4}, {"tokenizer": "kim", "lowercase": True, "min_freq": 1})
    saved = load_run(path)
    assert saved.task == "text" and saved.data_config.bucket_by_length is False and saved.train_config.epochs == 3
    assert saved.module_config == model.config
    clf = TextCNNClassifier.load(path)
    assert clf.get_params()["bucket_by_length"] is False and clf.get_params()["tokenizer"] == "kim"
    assert saved.data_config.tokenizer_version == 1 and clf.tokenizer_.version == 1  # format 1 predates versions
    assert clf.predict_proba(["a b", "c"]).shape == (2, 2)


def test_a_format_1_image_run_loads(tmp_path):
    from textcnn.data.images import load_digits_splits
    from textcnn.estimators.image import ImageCNNClassifier

    train = load_digits_splits()["train"]
    clf = ImageCNNClassifier(epochs=1, device="cpu").fit(train.images[:60], train.labels[:60])
    path = clf.save(tmp_path / "run")
    _as_format_1(path, {"model": "digits-cnn", "in_channels": 1, "image_size": 8}, None, task="image")
    loaded = ImageCNNClassifier.load(path)
    assert loaded.get_params()["batch_size"] == 50 and loaded.get_params()["epochs"] == 3  # from format 1's "train"
    np.testing.assert_allclose(loaded.predict_proba(train.images[:5]), clf.predict_proba(train.images[:5]), atol=1e-6)


def test_a_run_of_the_other_task_is_refused_with_the_command_to_use(run_dir):
    from textcnn.estimators.image import ImageCNNClassifier

    with pytest.raises(CheckpointError, match=r"holds a text model \(image expected\); use `textcnn predict`"):
        ImageCNNClassifier.load(run_dir[0])


# ---- the tokenizer version: a text run saved without it tokenises as version 1 (before CJK support) ----

def _without_tokenizer_version(path) -> None:
    config = json.loads((path / "config.json").read_text())
    del config["data"]["tokenizer_version"]
    (path / "config.json").write_text(json.dumps(config))


def test_a_run_saved_with_the_tokenizer_version_keeps_it(run_dir):
    path, _ = run_dir
    assert json.loads((path / "config.json").read_text())["data"]["tokenizer_version"] == 2
    assert load_run(path).data_config.tokenizer_version == 2


def test_a_format_2_run_without_a_tokenizer_version_loads_as_version_1(run_dir):
    path, _ = run_dir
    _without_tokenizer_version(path)
    assert read_description(path)["data"]["tokenizer_version"] == 1
    assert load_run(path).data_config == DataConfig(tokenizer="kim", tokenizer_version=1)


def test_resuming_a_run_without_a_tokenizer_version_compares_it_as_version_1(run_dir):
    path, model = run_dir
    _without_tokenizer_version(path)
    configs = {"model": model.config, "data": DataConfig(tokenizer="kim"), "train": TrainConfig(epochs=3)}
    with pytest.raises(ConfigError, match="tokenizer_version=1, not 2"):
        check_resumable(path, describe_run("text", configs), ["neg", "pos"])
    old = {**configs, "data": DataConfig(tokenizer="kim", tokenizer_version=1)}
    check_resumable(path, describe_run("text", old), ["neg", "pos"])  # the settings it was started with
