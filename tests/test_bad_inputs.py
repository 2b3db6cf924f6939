"""Hostile and malformed input: property-based checks that nothing raises where it must not."""

import json
import pickle
import re
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textcnn.base.errors import CheckpointError
from textcnn.data.tokenizer import Tokenizer
from textcnn.estimators.text import TextCNNClassifier

non_blank = st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != "")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tests.conftest import NEGATIVE, POSITIVE

    clf = TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, filter_sizes=(1, 3, 5), epochs=1,
                            device="cpu", tokenizer="kim")
    clf.fit(POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10)
    path = tmp_path_factory.mktemp("model") / "run"
    clf.save(path)
    return clf, path


@pytest.mark.parametrize("name", ["kim", "kim-sst", "unicode"])
@given(text=st.text(max_size=300))
def test_every_tokenizer_accepts_any_unicode(name, text):
    tokens = Tokenizer(name)(text)
    assert all(isinstance(t, str) and t and not any(c.isspace() for c in t) for t in tokens)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(non_blank, min_size=1, max_size=6))
def test_predict_never_raises_and_keeps_order(tiny_model, texts):
    clf, _ = tiny_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # texts without tokens warn; that is allowed here
        probs = clf.predict_proba(texts)
        single = [clf.predict_proba([t])[0] for t in texts]
    assert probs.shape == (len(texts), 2) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs, np.array(single), rtol=1e-5, atol=1e-6)  # row i belongs to text i


def test_a_pickle_in_place_of_the_weights_is_refused_never_unpickled(tiny_model, tmp_path):
    _, path = tiny_model
    copy = tmp_path / "run"
    shutil.copytree(path, copy)

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    (copy / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="corrupt or not a safetensors file"):
        TextCNNClassifier.load(copy)


def test_a_model_from_the_future_is_refused(tiny_model, tmp_path):
    _, path = tiny_model
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    config = json.loads((copy / "config.json").read_text())
    config["format_version"] = 3
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version 3"):
        TextCNNClassifier.load(copy)


# ---- refused with one clear line, exit 2, nothing written (through the CLI) ----

TINY = ["--variant", "rand", "--embedding-dim", "8", "--n-filters", "4", "--dry-run", "--device", "cpu"]


def refused(args: list[str], pattern: str) -> str:
    from click.testing import CliRunner

    from textcnn.cli import main

    result = CliRunner().invoke(main, ["-q", *args])
    assert result.exit_code == 2, (result.output, result.exception)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and "Traceback" not in result.output
    assert re.search(pattern, line), line
    return line


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("text,label\ngood film,pos,more\nbad film,neg\n", r"line 2 has 3 comma-separated fields but the header has 2"),
        ("text,label\ngood film\nbad film,neg\n", r"line 2 has 1 comma-separated fields but the header has 2"),
        ("text,label\ngood film,pos\nbad film,\n", r"line 3 has no label"),
        ("sentence,label\ngood film,pos\n", r'column "text" not found.*--text-column sentence'),
    ],
    ids=["extra-column", "missing-column", "empty-label", "missing-header-column"],
)
def test_bad_csv_is_refused_and_nothing_is_written(tmp_path, content, pattern):
    (tmp_path / "train.csv").write_text(content)
    refused(["train", *TINY, "--train-file", str(tmp_path / "train.csv"), "--out", str(tmp_path / "run")], pattern)
    assert not (tmp_path / "run").exists()


def test_a_label_never_seen_in_training_is_refused_at_evaluate(tiny_model, tmp_path):
    _, path = tiny_model
    (tmp_path / "eval.csv").write_text("text,label\na great film,pos\na dull film,meh\n")
    refused(["evaluate", "--model", str(path), "--file", str(tmp_path / "eval.csv")], r"\['meh'\].*not among")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"3 2\nfilm 1 2\ngood 1 2\n", r"truncated: the header promises 3 vectors, found 2"),
        (b"film 1 2 3\ngood 1 2\n", r"line 2: 2 values, expected 3"),
        (b"2 5\nfilm 1 2\ngood 1 2\n", r"vectors\.vec line 2: 2 values, expected 5"),  # the header lies
    ],
    ids=["truncated", "inconsistent-dims", "lying-header"],
)
def test_bad_vectors_files_are_refused_and_nothing_is_written(tmp_path, content, pattern):
    (tmp_path / "vectors.vec").write_bytes(content)
    args = ["train", "--variant", "static", "--vectors", str(tmp_path / "vectors.vec"), "--dry-run", "--device",
            "cpu", "--out", str(tmp_path / "run")]
    refused(args, pattern)
    assert not (tmp_path / "run").exists()


def test_a_config_that_does_not_match_the_weights_is_refused(tiny_model, tmp_path):
    _, path = tiny_model
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["n_filters"] += 1
    (copy / "config.json").write_text(json.dumps(config))
    refused(["predict", "--model", str(copy), "a fine film"], r"do not match the model its config describes")


def test_long_texts_are_cut_to_max_tokens_with_a_warning(tiny_model):
    clf, _ = tiny_model
    clf.set_params(max_tokens=50)
    try:
        with pytest.warns(UserWarning, match="more than 50 tokens"):
            long = clf.predict_proba(["awful " * 50 + "wonderful " * 500])
        short = clf.predict_proba(["awful " * 50])  # what the cut keeps
    finally:
        clf.set_params(max_tokens=1000)
    np.testing.assert_allclose(long, short, rtol=1e-6)


def test_max_tokens_below_one_is_a_config_error(tiny_model):
    from textcnn.base.errors import ConfigError

    clf, _ = tiny_model
    clf.set_params(max_tokens=0)
    try:
        with pytest.raises(ConfigError, match="max_tokens"):
            clf.predict(["a film"])
    finally:
        clf.set_params(max_tokens=1000)


def test_a_one_megabyte_line_is_predicted_with_a_warning(tiny_model, tmp_path):
    from click.testing import CliRunner

    from textcnn.cli import main

    _, path = tiny_model
    line = ("a wonderful film " * 60_000)[:1_000_000]
    (tmp_path / "big.txt").write_text(line + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="more than 1000 tokens"):
        result = CliRunner().invoke(main, ["predict", "--model", str(path), "--file", str(tmp_path / "big.txt")])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout.split("\t")[0] in ("pos", "neg")
