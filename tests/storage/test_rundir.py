import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from textcnn.base.atomic import atomic_write, write_json
from textcnn.base.config import DataConfig, TextCNNConfig, TrainConfig
from textcnn.base.errors import CheckpointError
from textcnn.data.tokenizer import Vocabulary
from textcnn.models.text import TextCNN
from textcnn.models.weights import load_weights_into
from textcnn.storage.rundir import load_run, point_latest, prepare_run_dir, save_run


@pytest.fixture
def run_dir(tmp_path):
    cfg = TextCNNConfig(variant="multichannel", embedding_dim=4, n_filters=3)
    vocab = Vocabulary.build([["a", "b", "c"]])
    model = TextCNN(cfg, len(vocab), 2)
    path = prepare_run_dir(tmp_path / "run")
    save_run(path, model, cfg, DataConfig(tokenizer="kim"), TrainConfig(epochs=3), vocab, ["neg", "pos"])
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
    assert config["format_version"] == 1 and "textcnn_version" in config
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
