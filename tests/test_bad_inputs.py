"""Hostile and malformed input: property-based checks that nothing raises where it must not."""

import json
import pickle
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textcnn.classifier import TextCNNClassifier
from textcnn.errors import CheckpointError
from textcnn.tokenizer import Tokenizer

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
    config["format_version"] = 2
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version 2"):
        TextCNNClassifier.load(copy)
