"""Every `train` / `train-image` option is a config field of the same name (old spellings are listed aliases)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.cli_helpers import invoke
from textcnn.base.config import RECIPES
from textcnn.cli import IMAGE_JOB_OPTIONS, JOB_OPTIONS, main
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.image import ImageJobConfig
from textcnn.jobs.text import JobConfig

# hidden old spellings: option name -> (the field it sets, the value)
ALIASES = {"no_bucketing": ("bucket_by_length", False), "dense_embeddings": ("sparse_embeddings", False)}
# options that name a set of other options' values rather than a field
BUNDLES = {"recipe"}
# options whose CLI default means "decided later" rather than the field's default
CLI_DEFAULTS = {"tokenizer": None}  # None: the dataset's own tokenizer (kim for Kim's data), else unicode
COMMANDS = [("train", TextCNNClassifier, JobConfig, JOB_OPTIONS),
            ("train-image", ImageCNNClassifier, ImageJobConfig, IMAGE_JOB_OPTIONS)]


@pytest.mark.parametrize(("command", "estimator", "job", "job_options"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_option_is_a_field_of_the_same_name_with_the_same_default(command, estimator, job, job_options):
    cmd = main.commands[command]
    params = estimator().get_params()
    job_defaults = {f.name: f.default for f in dataclasses.fields(job)}
    assert set(job_options) == set(job_defaults)  # the CLI's list of job options is JobConfig's fields
    parsed = cmd.make_context(command, [], resilient_parsing=False).params
    options = {p.name for p in cmd.params if p.name != "help"}
    unknown = sorted(options - set(params) - set(job_defaults) - set(ALIASES) - BUNDLES)
    assert unknown == []
    for name, value in parsed.items():
        if name in BUNDLES:
            continue
        expected = CLI_DEFAULTS.get(name, params[name] if name in params else job_defaults[name])
        assert (tuple(value) if isinstance(value, list) else value) == expected, name


@pytest.mark.parametrize(("old", "new"), [(["--no-bucketing"], ["--no-bucket-by-length"]),
                                          (["--dense-embeddings"], ["--no-sparse-embeddings"]),
                                          (["--max-norm", "0"], ["--max-norm", "off"])])
def test_old_spellings_train_as_the_matching_flag(tmp_path, old, new):
    tiny = ["-q", "train", "--variant", "rand", "--embedding-dim", "6", "--n-filters", "3", "--epochs", "1",
            "--device", "cpu"]
    runs = []
    for flags, out in ((old, "old"), (new, "new")):
        invoke([*tiny, *flags, "--out", str(tmp_path / out)])
        runs.append((tmp_path / out / "config.json").read_text())
    assert runs[0] == runs[1]


def test_the_old_spellings_are_hidden_from_help():
    out = invoke(["train", "--help"]).stdout
    assert "--no-bucket-by-length" in out and "--no-sparse-embeddings" in out
    assert "--no-bucketing" not in out and "--dense-embeddings" not in out


def test_every_serve_option_is_a_serve_config_field_with_its_default():
    from textcnn.serve.config import ServeConfig

    cmd = main.commands["serve"]
    parsed = cmd.make_context("serve", [], resilient_parsing=False).params
    assert parsed == {f.name: f.default for f in dataclasses.fields(ServeConfig)}


TINY_RAND = ["-q", "train", "--variant", "rand", "--embedding-dim", "6", "--n-filters", "3", "--device", "cpu"]


def _train_config(tmp_path, name, flags):
    invoke([*TINY_RAND, *flags, "--out", str(tmp_path / name)])
    return json.loads((tmp_path / name / "config.json").read_text())


def test_every_recipe_value_is_a_train_option():
    options = {p.name for p in main.commands["train"].params}
    assert all(set(params) <= options for params in RECIPES.values())


def test_recipe_strong_sets_its_values_and_an_explicit_option_wins(tmp_path):
    config = _train_config(tmp_path, "strong", ["--recipe", "strong", "--epochs", "1", "--ensemble", "2",
                                                "--extra-vectors", "word2vec:8"])
    settings = {**config["model"], **config["data"], **config["train"]}
    strong = RECIPES["strong"]
    assert settings["epochs"] == 1 and settings["ensemble"] == 2 and settings["extra_vectors"] == ["word2vec:8"]
    kept = {k: v for k, v in strong.items() if k not in ("epochs", "ensemble", "extra_vectors")}
    assert kept and all(settings[k] == (list(v) if isinstance(v, tuple) else v) for k, v in kept.items())


def test_recipe_kim_is_the_defaults(tmp_path):
    flags = ["--epochs", "1"]
    kim = _train_config(tmp_path, "kim", ["--recipe", "kim", *flags])
    assert kim == _train_config(tmp_path, "plain", flags)
