import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from textcnn.base.errors import DataError, VectorsError
from textcnn.estimators.base import NotFittedError
from textcnn.estimators.text import TextCNNClassifier

TINY = dict(variant="rand", embedding_dim=16, n_filters=8, filter_sizes=(1, 2), epochs=30, batch_size=10,
            optimizer="adam", lr=0.01, dropout=0.0, device="cpu", seed=0)


@pytest.fixture(scope="module")
def fitted():
    from tests.conftest import NEGATIVE, POSITIVE

    texts, labels = POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10
    return TextCNNClassifier(**TINY).fit(texts, labels, dev=(texts, labels)), texts, labels


def test_a_tiny_model_overfits_twenty_sentences(fitted):
    clf, texts, labels = fitted
    assert clf.score(texts, labels) == 1.0


def test_predict_is_argmax_of_probabilities_that_sum_to_one(fitted):
    clf, texts, _ = fitted
    probs = clf.predict_proba(texts)
    assert probs.shape == (20, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert list(clf.predict(texts)) == list(clf.classes_[probs.argmax(axis=1)])
    assert list(clf.classes_) == ["neg", "pos"]


def test_predict_is_independent_of_batch_composition(fitted):
    clf, texts, _ = fitted
    np.testing.assert_allclose(clf.predict_proba(texts[:1]), clf.predict_proba(texts)[:1], rtol=1e-5, atol=1e-6)


def test_save_load_gives_identical_predictions(fitted, tmp_path):
    clf, texts, _ = fitted
    clf.save(tmp_path / "run")
    loaded = TextCNNClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    assert loaded.get_params()["variant"] == "rand"


def test_save_never_overwrites_without_force(fitted, tmp_path):
    clf, _, _ = fitted
    clf.save(tmp_path / "run")
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    with pytest.raises(Exception, match="--force"):
        clf.save(tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    clf.save(tmp_path / "run", force=True)


def test_label_names_fix_the_class_order(corpus):
    texts, labels = corpus
    clf = TextCNNClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, label_names=["pos", "neg"])
    assert list(clf.classes_) == ["pos", "neg"]


def test_unfitted_predict_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        TextCNNClassifier().predict(["hello"])


@pytest.mark.parametrize("bad", ["", "   \n\t"])
def test_empty_or_whitespace_text_is_an_error(fitted, bad):
    with pytest.raises(DataError, match="empty or whitespace"):
        fitted[0].predict([bad])


def test_a_single_string_instead_of_a_list_is_an_error(fitted):
    with pytest.raises(DataError, match="single string"):
        fitted[0].predict("a film")


def test_text_without_tokens_warns_and_uses_zero_features(corpus):
    texts, labels = corpus
    clf = TextCNNClassifier(**{**TINY, "epochs": 1, "tokenizer": "kim"}).fit(texts, labels)
    with pytest.warns(UserWarning, match="no tokens"):
        probs = clf.predict_proba(["😀😀"])
    logits = clf.module_.head.linear.bias.detach()  # zero features → bias only
    np.testing.assert_allclose(probs[0], logits.softmax(0).numpy(), rtol=1e-5)


def test_unknown_label_in_dev_is_an_error(corpus):
    texts, labels = corpus
    with pytest.raises(DataError, match="not among the classes"):
        TextCNNClassifier(**TINY).fit(texts, labels, dev=(["x"], ["maybe"]))


def test_one_class_is_an_error():
    with pytest.raises(DataError, match="two classes"):
        TextCNNClassifier(**TINY).fit(["a", "b"], ["x", "x"])


def test_clone_and_cross_val_score_work(corpus):
    texts, labels = corpus
    clf = TextCNNClassifier(**{**TINY, "epochs": 2})
    assert clone(clf).get_params() == clf.get_params()
    scores = cross_val_score(clf, np.array(texts, dtype=object), np.array(labels), cv=2)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)


def test_pretrained_vectors_set_the_embedding_size(corpus, glove_path):
    texts, labels = corpus
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny GloVe file covers few of these words
        clf = TextCNNClassifier(**{**TINY, "variant": "multichannel", "epochs": 1, "vectors": glove_path})
        clf.fit(texts, labels)
    assert clf.module_.config.embedding_dim == 50
    assert clf.coverage_.types_found > 0
    word = clf.vocab_.stoi["the"]
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(glove_path, no_header=True)
    np.testing.assert_allclose(clf.module_.static.weight[word].numpy(), kv["the"], rtol=1e-6)


def test_missing_vectors_file_is_a_vectors_error(corpus):
    texts, labels = corpus
    with pytest.raises(VectorsError, match="nope.bin"):
        TextCNNClassifier(**{**TINY, "variant": "static", "vectors": "nope.bin"}).fit(texts, labels)


def test_without_vectors_word2vec_is_trained_and_saved(corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTCNN_VECTORS", raising=False)
    texts, labels = corpus
    params = {**TINY, "variant": "non-static", "embedding_dim": 12, "epochs": 1, "deterministic": True}
    clf = TextCNNClassifier(**params)
    clf.fit(texts, labels)
    assert clf.word2vec_ is not None and clf.word2vec_.vector_size == 12
    clf.save(tmp_path / "run")
    assert (tmp_path / "run" / "word2vec.txt").stat().st_size > 0


def test_textcnn_vectors_env_is_used(corpus, glove_path, monkeypatch):
    monkeypatch.setenv("TEXTCNN_VECTORS", glove_path)
    texts, labels = corpus
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = TextCNNClassifier(**{**TINY, "variant": "static", "epochs": 1}).fit(texts, labels)
    assert clf.module_.config.embedding_dim == 50 and clf.word2vec_ is None


def test_training_keeps_classifier_rows_within_max_norm(corpus):
    texts, labels = corpus
    clf = TextCNNClassifier(**{**TINY, "max_norm": 0.05, "epochs": 5}).fit(texts, labels)
    assert (clf.module_.head.linear.weight.norm(dim=1) <= 0.05 + 1e-6).all()
    free = TextCNNClassifier(**{**TINY, "max_norm": None, "epochs": 5}).fit(texts, labels)
    assert (free.module_.head.linear.weight.norm(dim=1) > 0.05).any()  # the limit above was binding


def test_integer_labels_stay_integers_after_save_and_load(corpus, tmp_path):
    texts, labels = corpus
    y = np.array([1 if label == "pos" else 0 for label in labels])
    clf = TextCNNClassifier(**{**TINY, "epochs": 3}).fit(texts, y)
    clf.save(tmp_path / "run")
    loaded = TextCNNClassifier.load(tmp_path / "run")
    assert loaded.predict(texts).tolist() == clf.predict(texts).tolist()
    assert all(type(p) is int for p in loaded.predict(texts).tolist())


def test_fit_makes_a_missing_checkpoint_dir_and_resumes_from_it(corpus, tmp_path):
    texts, labels = corpus
    run = tmp_path / "new" / "run"
    first = TextCNNClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, checkpoint_dir=run)
    assert (run / "config.json").is_file() and (run / "resume" / "state.json").is_file()
    resumed = TextCNNClassifier(**{**TINY, "epochs": 2}).fit(texts, labels, checkpoint_dir=run, resume=True)
    assert [r.epoch for r in resumed.fit_result_.history] == [1, 2]
    assert resumed.fit_result_.history[0].loss == first.fit_result_.history[0].loss
