import json
import warnings

import numpy as np
import pytest
import torch
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


def test_an_ensemble_warns_once_of_an_adversarial_step_larger_than_its_inputs(corpus, recwarn):
    params = {**TINY, "variant": "rand", "embedding_dim": 8, "epochs": 1, "adversarial": 50.0, "ensemble": 3}
    TextCNNClassifier(**params).fit(*corpus)
    assert len([w for w in recwarn if str(w.message).startswith("adversarial ε 50 is")]) == 1


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


def test_a_resume_on_other_training_texts_is_refused_naming_the_run(corpus, tmp_path):
    texts, labels = corpus
    run = tmp_path / "run"
    TextCNNClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, checkpoint_dir=run)
    other = [text + " entirely new words" for text in texts]
    with pytest.raises(DataError, match=f"vocabulary of {run} differs from that of the training texts"):
        TextCNNClassifier(**{**TINY, "epochs": 2}).fit(other, labels, checkpoint_dir=run, resume=True)


# ---- Chinese: the tokenizer and its version travel with the model ----

POSITIVE_ZH = ["这部电影非常好看", "剧情很精彩，演员也好", "我很喜欢这本书", "质量很好，非常满意", "强烈推荐给朋友",
               "音乐好听，画面漂亮", "服务热情，非常满意", "故事精彩，值得一看", "我喜欢这个结局", "好看，推荐！"]
NEGATIVE_ZH = ["这部电影非常难看", "剧情很无聊，演员也差", "我很失望这本书", "质量很差，非常糟糕", "真后悔买了它",
               "音乐难听，画面模糊", "服务冷淡，非常失望", "故事无聊，浪费时间", "我讨厌这个结局", "难看，后悔！"]
TEXTS_ZH, LABELS_ZH = POSITIVE_ZH + NEGATIVE_ZH, ["pos"] * 10 + ["neg"] * 10
# new sentences made of the training sentences' words: one whole-clause token each would be unknown
UNSEEN_ZH = ["这本书很好看", "这本书很无聊", "非常喜欢", "非常失望", "质量好，推荐", "质量差，糟糕"]
UNSEEN_LABELS = ["pos", "neg"] * 3


def _fit_zh(**params):
    return TextCNNClassifier(**{**TINY, **params}).fit(TEXTS_ZH, LABELS_ZH, dev=(TEXTS_ZH, LABELS_ZH))


def test_a_chinese_model_of_characters_generalises_where_whole_clauses_cannot():
    chars, clauses = _fit_zh(), _fit_zh(tokenizer_version=1)
    assert chars.score(TEXTS_ZH, LABELS_ZH) == clauses.score(TEXTS_ZH, LABELS_ZH) == 1.0
    assert "好" in chars.vocab_ and "这部电影非常好看" in clauses.vocab_
    assert chars.score(UNSEEN_ZH, UNSEEN_LABELS) >= 5 / 6 > clauses.score(UNSEEN_ZH, UNSEEN_LABELS)


def test_a_model_saved_before_tokenizer_versions_loads_and_tokenises_as_it_was_trained(tmp_path):
    old = _fit_zh(tokenizer_version=1, epochs=3)  # what textcnn trained before CJK support
    path = old.save(tmp_path / "old")
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    del config["data"]["tokenizer_version"]  # as config.json was written then
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    loaded = TextCNNClassifier.load(path)
    assert loaded.get_params()["tokenizer_version"] == 1
    assert loaded.predictor_.tokenize("这部电影非常好看，我爱NLP") == ["这部电影非常好看", "，", "我爱nlp"]
    np.testing.assert_allclose(loaded.predict_proba(UNSEEN_ZH), old.predict_proba(UNSEEN_ZH), rtol=1e-6)
    new = TextCNNClassifier.load(_fit_zh(epochs=1).save(tmp_path / "new"))
    assert new.get_params()["tokenizer_version"] == 2
    assert new.predictor_.tokenize("这部电影非常好看") == list("这部电影非常好看")


def test_a_jieba_model_saved_and_loaded_predicts_the_same(tmp_path):
    pytest.importorskip("jieba")
    clf = _fit_zh(tokenizer="jieba", epochs=5)
    assert "电影" in clf.vocab_ and "满意" in clf.vocab_  # words, not characters
    loaded = TextCNNClassifier.load(clf.save(tmp_path / "run"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))["data"]
    assert (saved["tokenizer"], saved["tokenizer_version"]) == ("jieba", 2)
    assert (loaded.tokenizer_.name, loaded.tokenizer_.version) == ("jieba", 2)
    np.testing.assert_allclose(loaded.predict_proba(UNSEEN_ZH), clf.predict_proba(UNSEEN_ZH), rtol=1e-6)
    assert list(loaded.predict(UNSEEN_ZH)) == list(clf.predict(UNSEEN_ZH))


def test_kims_tokenizer_on_chinese_training_texts_warns_and_names_the_alternatives():
    kim = TextCNNClassifier(**{**TINY, "epochs": 1, "tokenizer": "kim"})
    with pytest.warns(UserWarning, match=r"'kim' tokenizer deletes.*'unicode'.*'jieba'") as caught:
        kim.fit([*TEXTS_ZH, "a fine film"], [*LABELS_ZH, "pos"])
    assert any(w.filename == __file__ for w in caught if "'kim' tokenizer" in str(w.message))  # the caller's line
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*tokenizer deletes")  # English with kim, Chinese with unicode
        TextCNNClassifier(**{**TINY, "epochs": 1, "tokenizer": "kim"}).fit(*_english())
        _fit_zh(epochs=1)


def test_kims_tokenizer_on_a_chinese_file_on_disk_warns_too(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("".join(f"{y}\t{t}\n" for t, y in zip(TEXTS_ZH, LABELS_ZH)), encoding="utf-8")  # label<TAB>text
    clf = TextCNNClassifier(**{**TINY, "epochs": 1, "tokenizer": "kim", "dev_fraction": 0.2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit_corpus(path, cache_dir=tmp_path / "cache")
    assert [w.filename for w in caught if "'kim' tokenizer deletes" in str(w.message)] == [__file__]


def _english():
    from tests.conftest import NEGATIVE, POSITIVE

    return POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10


def test_a_rand_extra_channel_is_drawn_like_kims_rand_per_seed_and_fine_tuned(recwarn):
    texts, labels = _english()
    params = {**TINY, "epochs": 1, "embedding_dim": 4, "extra_vectors": ["rand:6"]}
    first, again, other = (TextCNNClassifier(**{**params, "seed": seed}).fit(texts, labels) for seed in (0, 0, 1))
    rows = first.module_.extra[0].weight.detach()  # (V, 6), after one epoch of fine-tuning
    assert rows.shape == (len(first.vocab_), 6) and not rows[0].any()  # <pad> stays zero
    assert rows[1:].abs().max() < 0.3 and rows[1:].std() > 0.1  # drawn from U[-0.25, 0.25], Kim's rand
    torch.testing.assert_close(again.module_.extra[0].weight, first.module_.extra[0].weight)
    assert not torch.equal(other.module_.extra[0].weight, first.module_.extra[0].weight)
    assert first.module_.extra[0].weight.requires_grad
    assert not [w for w in recwarn if "coverage" in str(w.message)]


def test_the_fill_channel_brings_the_vectors_up_to_the_embedding_dim_and_is_that_rand_channel(tmp_path, glove_path):
    texts, labels = _english()
    params = {**TINY, "epochs": 1, "variant": "non-static", "vectors": glove_path, "embedding_dim": 64}
    filled = TextCNNClassifier(**params, extra_vectors=["rand:fill"]).fit(texts, labels)
    assert [tuple(e.weight.shape)[1] for e in filled.module_.extra] == [64 - 50]  # GloVe's 50 + 14 = 64
    explicit = TextCNNClassifier(**params, extra_vectors=["rand:14"]).fit(texts, labels)
    np.testing.assert_array_equal(filled.predict_proba(texts), explicit.predict_proba(texts))  # the same model
    filled.save(tmp_path / "run")
    loaded = TextCNNClassifier.load(tmp_path / "run")
    assert loaded.get_params()["extra_vectors"] == ("rand:fill",) and loaded.module_.config.extra_dims == (14,)
    np.testing.assert_allclose(loaded.predict_proba(texts), filled.predict_proba(texts), atol=1e-6)


def test_the_fill_channel_adds_nothing_where_the_embedding_is_wide_enough():
    texts, labels = _english()
    params = {**TINY, "epochs": 1, "variant": "rand", "embedding_dim": 8}
    filled = TextCNNClassifier(**params, extra_vectors=["rand:fill"]).fit(texts, labels)
    plain = TextCNNClassifier(**params).fit(texts, labels)
    assert len(filled.module_.extra) == 0 and filled.module_.config.extra_dims == ()
    np.testing.assert_array_equal(filled.predict_proba(texts), plain.predict_proba(texts))  # Kim's rand, unchanged


def test_extra_vector_channels_are_saved_and_loaded_with_their_sizes(tmp_path, glove_path):
    from tests.conftest import NEGATIVE, POSITIVE

    texts, labels = POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10
    clf = TextCNNClassifier(**{**TINY, "epochs": 3}, extra_vectors=["fasttext:5", glove_path], deterministic=True)
    clf.fit(texts, labels)
    assert [tuple(e.weight.shape)[1] for e in clf.module_.extra] == [5, 50]
    clf.save(tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["fitted"]["extra_dims"] == [5, 50] and config["data"]["extra_vectors"][0] == "fasttext:5"
    loaded = TextCNNClassifier.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
