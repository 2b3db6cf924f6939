"""Multi-label text classification through the estimator, the predictor and a saved run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from textcnn.base.errors import ConfigError
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier

CUES = {"sports": ["goal", "match", "team"], "politics": ["vote", "senate", "law"], "art": ["paint", "museum"]}
FILLER = ["the", "today", "news", "about", "a", "story"]
TINY = dict(variant="rand", embedding_dim=12, n_filters=8, filter_sizes=(1, 2), epochs=8, batch_size=10,
            optimizer="adam", lr=0.02, device="cpu")


def cued_corpus(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """Texts whose labels are exactly the topics whose cue words they contain (zero to three)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        chosen = [name for name in CUES if rng.random() < 0.4]
        words = [str(rng.choice(CUES[name])) for name in chosen] + [str(w) for w in rng.choice(FILLER, 3)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(chosen)
    return texts, labels


@pytest.fixture(scope="module")
def fitted() -> tuple[TextCNNClassifier, list[str], list[list[str]]]:
    texts, labels = cued_corpus(160, 0)
    dev = cued_corpus(40, 1)
    clf = TextCNNClassifier(multi_label=True, threshold="tune", **TINY).fit(texts, labels, dev=dev)
    test_texts, test_labels = cued_corpus(60, 2)
    return clf, test_texts, test_labels


def test_predict_is_an_indicator_matrix_that_scikit_learns_f1_reads(fitted) -> None:
    clf, texts, labels = fitted
    assert clf.classes_.tolist() == ["art", "politics", "sports"]
    truth = MultiLabelBinarizer(classes=clf.classes_.tolist()).fit_transform(labels)
    predicted = clf.predict(texts)
    assert predicted.shape == (60, 3) and set(np.unique(predicted)) <= {0, 1}
    assert f1_score(truth, predicted, average="micro") > 0.9
    assert clf.score(texts, labels) == pytest.approx((predicted == truth).all(axis=1).mean())


def test_probabilities_are_per_label_and_labels_come_most_probable_first(fitted) -> None:
    clf, texts, _ = fitted
    probs = clf.predict_proba(texts)
    assert probs.shape == (60, 3) and not np.allclose(probs.sum(axis=1), 1.0)
    for names, row, p in zip(clf.predict_labels(texts), clf.predict(texts), probs):
        assert sorted(names) == [c for c, on in zip(clf.classes_, row) if on]
        assert [p[clf.classes_.tolist().index(n)] for n in names] == sorted(p[row == 1], reverse=True)


def test_the_kept_epoch_is_the_best_dev_micro_f1_and_thresholds_are_tuned(fitted) -> None:
    clf, _, _ = fitted
    result = clf.fit_result_
    scores = [r.dev_score for r in result.history]
    assert result.best_dev_score == max(scores) and result.best_epoch == scores.index(max(scores)) + 1
    assert clf.thresholds_.shape == (3,) and not np.allclose(clf.thresholds_, 0.5)


def test_thresholds_and_class_weights_survive_save_and_load(tmp_path) -> None:
    texts, labels = cued_corpus(80, 3)
    clf = TextCNNClassifier(multi_label=True, threshold=0.3, class_weight="balanced", **{**TINY, "epochs": 2})
    clf.fit(texts, labels, dev=cued_corpus(20, 4))
    run = clf.save(tmp_path / "run")
    trained = json.loads((run / "config.json").read_text())["trained"]
    assert trained["thresholds"] == [0.3] * 3 and len(trained["class_weights"]) == 3
    counts = MultiLabelBinarizer(classes=clf.classes_.tolist()).fit_transform(labels).sum(axis=0)
    assert clf.class_weights_.tolist() == pytest.approx(((80 - counts) / counts).tolist())
    loaded, predictor = TextCNNClassifier.load(run), TextPredictor.load(run)
    assert loaded.thresholds_.tolist() == [0.3] * 3 and loaded.class_weights_.tolist() == trained["class_weights"]
    assert (loaded.predict(texts) == clf.predict(texts)).all()
    assert (predictor.predict(texts) == clf.predict(texts)).all()
    assert predictor.predict_labels(texts[:5]) == clf.predict_labels(texts[:5])


def test_records_and_explanations_cover_every_predicted_label(fitted, tmp_path) -> None:
    clf, texts, _ = fitted
    predictor = TextPredictor.load(clf.save(tmp_path / "run"))
    [record] = predictor.predict_records(["goal vote today"])
    assert set(record) == {"text", "labels", "probabilities"} and set(record["labels"]) == {"sports", "politics"}
    result = predictor.explain_labels("goal vote today")
    assert [e["label"] for e in result["explanations"]] == result["labels"]
    sports = result["explanations"][result["labels"].index("sports")]
    assert "goal" in sports["ngrams"][0]["ngram"].split()
    assert sports["probability"] == pytest.approx(record["probabilities"].get("sports", sports["probability"]))


def test_a_threshold_without_multi_label_and_multi_label_images_are_refused() -> None:
    with pytest.raises(ConfigError, match="multi-label"):
        TextCNNClassifier(threshold="tune").fit(["a b", "c d"], ["x", "y"])
    with pytest.raises(ConfigError, match="single-label"):
        ImageCNNClassifier(multi_label=True).fit(np.zeros((4, 1, 8, 8)), [[0], [1], [0], [1]])


def test_single_label_class_weights_follow_compute_class_weight(corpus) -> None:
    from sklearn.utils.class_weight import compute_class_weight

    texts, labels = corpus
    texts, labels = texts[:14], labels[:14]  # 10 pos, 4 neg
    clf = TextCNNClassifier(class_weight="balanced", selection="macro-f1", **{**TINY, "epochs": 1})
    clf.fit(texts, labels, dev=(texts, labels))
    expected = compute_class_weight("balanced", classes=np.array(["neg", "pos"]), y=np.array(labels))
    assert clf.class_weights_.tolist() == pytest.approx(expected.tolist())
    assert clf.fit_result_.best_dev_score == pytest.approx(
        f1_score(labels, clf.predict(texts), average="macro"))


def test_predict_is_probability_at_or_above_threshold_and_clone_keeps_multi_label(fitted) -> None:
    from sklearn.base import clone

    clf, texts, _ = fitted
    assert (clf.predict(texts) == (clf.predict_proba(texts) >= clf.thresholds_)).all()
    copy = clone(clf)
    assert copy.get_params()["multi_label"] is True and copy.get_params()["threshold"] == "tune"


def test_class_weights_refuse_a_label_without_positive_training_examples() -> None:
    from textcnn.base.errors import DataError

    texts, labels = cued_corpus(30, 5)
    clf = TextCNNClassifier(multi_label=True, class_weight="balanced", **{**TINY, "epochs": 1})
    with pytest.raises(DataError, match=r"\['chess'\] have none"):
        clf.fit(texts, labels, label_names=["art", "chess", "politics", "sports"])
