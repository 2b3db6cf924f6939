"""TextPredictor: the estimator's numbers, records, explanations and warnings, without scikit-learn or gensim."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import NEGATIVE, POSITIVE
from textcnn.base.errors import ConfigError, DataError
from textcnn.estimators.base import NotFittedError
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier

TINY = dict(variant="rand", embedding_dim=16, n_filters=8, filter_sizes=(1, 2), epochs=10, batch_size=10,
            optimizer="adam", lr=0.01, dropout=0.0, device="cpu", seed=0)
TEXTS = POSITIVE + NEGATIVE + ["an unseen zzz word", "good"]
HEAVY = {"sklearn", "gensim", "scipy", "matplotlib", "pandas", "datasets"}  # ~1 s or more each to import


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextCNNClassifier, Path]:
    """A tiny rand model fitted on the 20 sentences, and the run directory it was saved to."""
    texts, labels = POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)
    clf = TextCNNClassifier(**TINY).fit(texts, labels, dev=(texts, labels))
    return clf, clf.save(tmp_path_factory.mktemp("predictor") / "run")


@pytest.fixture(scope="module")
def predictor(fitted: tuple[TextCNNClassifier, Path]) -> TextPredictor:
    return TextPredictor.load(fitted[1], device="cpu")


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal structure and values; floats to 1e-6."""
    if isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6), (path, a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def test_loaded_predictor_gives_the_estimators_probabilities_and_labels(fitted, predictor) -> None:
    clf, _ = fitted
    probs = predictor.predict_proba(TEXTS)
    np.testing.assert_allclose(probs, clf.predict_proba(TEXTS), rtol=0, atol=1e-6)
    assert predictor.predict(TEXTS).tolist() == clf.predict(TEXTS).tolist()
    assert set(predictor.predict(TEXTS)) == {"neg", "pos"}  # the check above compares two real answers


def test_predictor_rows_sum_to_one_and_predict_is_their_argmax(predictor) -> None:
    probs = predictor.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert predictor.predict(TEXTS).tolist() == predictor.classes[probs.argmax(axis=1)].tolist()


@pytest.mark.parametrize("top_k", [None, 1, 5])
def test_predictor_records_are_the_estimators(fitted, predictor, top_k) -> None:
    clf, run_dir = fitted
    records = predictor.predict_records(TEXTS, top_k=top_k)
    _assert_same(records, clf.predict_records(TEXTS, top_k=top_k))
    _assert_same(records, TextCNNClassifier.load(run_dir, device="cpu").predict_records(TEXTS, top_k=top_k))
    assert [len(r["probabilities"]) for r in records] == [2 if top_k in (None, 5) else 1] * len(TEXTS)


@pytest.mark.parametrize("label", [None, "neg", "pos"])
def test_predictor_explanations_are_the_estimators(fitted, predictor, label) -> None:
    clf, _ = fitted
    for text in ("a wonderful , moving film", "dull from start to end", "an unseen zzz word"):
        explanation = predictor.explain(text, label)
        _assert_same(explanation, clf.explain(text, label))
        assert explanation["label"] == (label or clf.predict([text])[0]) and explanation["ngrams"]


def test_estimator_predictions_go_through_its_predictor(fitted) -> None:
    clf, _ = fitted
    assert isinstance(clf.predictor_, TextPredictor)
    assert clf.predictor_.module is clf.module_ and clf.predictor_.vocab is clf.vocab_
    capped = copy.deepcopy(clf).set_params(max_tokens=2)  # the predictor follows the estimator's parameters
    with pytest.warns(UserWarning, match="more than 2 tokens"):
        capped.predict(["a wonderful , moving film"])


def test_an_unfitted_estimator_has_no_predictor() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        TextCNNClassifier().predictor_  # noqa: B018
    assert not hasattr(TextCNNClassifier(), "predictor_")  # sklearn's NotFittedError is an AttributeError


def test_warnings_point_at_the_callers_line_whichever_object_is_called(fitted, predictor) -> None:
    capped_clf = copy.deepcopy(fitted[0]).set_params(max_tokens=2)
    capped = copy.copy(predictor)
    capped.max_tokens = 2
    text = "a wonderful , moving film"
    calls = {
        "predictor.predict_proba": lambda: capped.predict_proba([text]),
        "predictor.explain": lambda: capped.explain(text),
        "estimator.predict": lambda: capped_clf.predict([text]),
        "estimator.explain": lambda: capped_clf.explain(text),
    }
    for name, call in calls.items():
        with pytest.warns(UserWarning, match="more than 2 tokens") as caught:
            call()
        assert {Path(w.filename).resolve() for w in caught} == {Path(__file__).resolve()}, name


def test_predictor_warns_for_texts_without_tokens_and_checks_its_input(fitted) -> None:
    _, run_dir = fitted
    kim = TextPredictor.load(run_dir, device="cpu")
    kim.tokenizer = type(kim.tokenizer)("kim")  # drops everything outside ASCII
    with pytest.warns(UserWarning, match="no tokens under the 'kim' tokenizer"):
        probs = kim.predict_proba(["😀😀"])
    np.testing.assert_allclose(probs[0], kim.module.head.linear.bias.detach().softmax(0).numpy(), rtol=1e-5)
    with pytest.raises(DataError, match="single string"):
        kim.predict("a film")
    with pytest.raises(DataError, match="empty or whitespace"):
        kim.explain("  ")
    with pytest.raises(DataError, match="not among the classes"):
        kim.explain("a film", label="maybe")
    kim.max_tokens = 0
    with pytest.raises(ConfigError, match="max_tokens must be at least 1"):
        kim.predict(["a film"])


_PREDICT_WITHOUT_HEAVY = """
import json, sys
from textcnn.estimators.predictor import TextPredictor
predictor = TextPredictor.load(sys.argv[1], device="cpu")
predictor.predict(["a wonderful film"]), predictor.predict_records(["a dull mess"], top_k=1)
predictor.explain("a wonderful film")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in set(sys.argv[2].split(",")))
print(json.dumps({"heavy": heavy, "torch": "torch" in sys.modules,
                  "estimators": sorted(m for m in sys.modules if m.startswith("textcnn.estimators."))}))
"""


def test_predicting_and_explaining_with_the_predictor_imports_nothing_heavy(fitted) -> None:
    _, run_dir = fitted
    proc = subprocess.run([sys.executable, "-c", _PREDICT_WITHOUT_HEAVY, str(run_dir), ",".join(sorted(HEAVY))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["torch"]  # the check sees the imports at all
    assert result["heavy"] == []
    # neither base (NotFittedError) nor text; labels is NumPy only
    assert result["estimators"] == ["textcnn.estimators.labels", "textcnn.estimators.predictor"]


def test_the_predictor_tokenises_with_the_saved_tokenizer_version(fitted, tmp_path) -> None:
    import shutil

    _, run_dir = fitted
    assert TextPredictor.load(run_dir, device="cpu").tokenizer("这部电影非常好看") == list("这部电影非常好看")
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    config = json.loads((old / "config.json").read_text(encoding="utf-8"))
    del config["data"]["tokenizer_version"]  # a run saved before the field existed
    (old / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tokenizer = TextPredictor.load(old, device="cpu").tokenizer
    assert (tokenizer.name, tokenizer.version) == ("unicode", 1)
    assert tokenizer("这部电影非常好看，很棒") == ["这部电影非常好看", "，", "很棒"]


def test_token_counts_are_taken_before_the_cut_from_the_same_tokenisation(predictor: TextPredictor) -> None:
    texts = ["great " * 1500, "a fine film", "!!!"]
    with pytest.warns(UserWarning, match="more than 1000 tokens"):
        probs, counts = predictor.predict_proba_and_token_counts(texts)
        np.testing.assert_array_equal(probs, predictor.predict_proba(texts))
    np.testing.assert_array_equal(counts, predictor.token_counts(texts))
    assert counts[0] == 1500 and counts[1] == 3
