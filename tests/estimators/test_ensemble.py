"""--ensemble N: N seeds trained apart and saved as one model that averages their probabilities (issue 23)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import NEGATIVE, POSITIVE
from textcnn.base.errors import ConfigError, TrainingInterrupted
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier
from textcnn.models.ensemble import ProbabilityAverage
from textcnn.training import loop

TEXTS, LABELS = POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10
TINY = dict(variant="rand", embedding_dim=8, n_filters=4, filter_sizes=(1, 2), epochs=4, batch_size=10,
            optimizer="adam", lr=0.01, device="cpu", seed=2)


@pytest.fixture(scope="module")
def ensemble() -> TextCNNClassifier:
    return TextCNNClassifier(**TINY, ensemble=3).fit(TEXTS, LABELS, dev=(TEXTS[::2], LABELS[::2]))


def _member_probs(clf: TextCNNClassifier) -> np.ndarray:
    """(N members, texts, K): each member's own probabilities."""
    return np.stack([TextPredictor(m, clf.tokenizer_, clf.vocab_, clf.classes_, clf.max_tokens, clf.device_)
                     .predict_proba(TEXTS) for m in clf.module_.members])


def test_the_ensemble_averages_the_probabilities_of_members_trained_on_their_own_seeds(ensemble):
    members = ensemble.module_.members
    assert isinstance(ensemble.module_, ProbabilityAverage) and len(members) == 3
    weights = [m.head.linear.weight for m in members]
    assert not torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
    np.testing.assert_allclose(ensemble.predict_proba(TEXTS), _member_probs(ensemble).mean(axis=0), atol=1e-6)
    assert len(ensemble.fit_result_.members) == 3  # each member's own history and best epoch
    assert ensemble.fit_result_.best_dev_acc == ensemble.score(TEXTS[::2], LABELS[::2])  # the averaged model's


def test_member_zero_is_the_single_model_of_the_same_seed(ensemble):
    single = TextCNNClassifier(**TINY).fit(TEXTS, LABELS, dev=(TEXTS[::2], LABELS[::2]))
    for a, b in zip(single.module_.state_dict().values(), ensemble.module_.members[0].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_saved_ensemble_loads_and_predicts_the_same(ensemble, tmp_path):
    ensemble.save(tmp_path / "run")
    loaded = TextCNNClassifier.load(tmp_path / "run")
    assert loaded.ensemble == 3 and isinstance(loaded.module_, ProbabilityAverage)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), ensemble.predict_proba(TEXTS), atol=1e-6)
    fast = TextPredictor.load(tmp_path / "run", device="cpu")
    np.testing.assert_allclose(fast.predict_proba(TEXTS), ensemble.predict_proba(TEXTS), atol=1e-6)


def test_an_ensemble_explains_the_members_mean_logit_of_its_own_label(ensemble):
    text = TEXTS[0]
    explained = ensemble.explain(text)
    probs = ensemble.predict_proba([text])[0]
    assert explained["label"] == ensemble.classes_[probs.argmax()] and explained["members"] == 3
    assert explained["probability"] == pytest.approx(probs.max(), abs=1e-6)
    k = list(ensemble.classes_).index(explained["label"])
    member_logits = [TextPredictor(m, ensemble.tokenizer_, ensemble.vocab_, ensemble.classes_, ensemble.max_tokens,
                                   ensemble.device_).explain(text, explained["label"])["logit"]
                     for m in ensemble.module_.members]
    assert explained["logit"] == pytest.approx(np.mean(member_logits), abs=1e-5)
    total = explained["bias"] + sum(s["contribution"] for s in explained["ngrams"])
    assert total == pytest.approx(explained["logit"], abs=1e-5)  # still an exact decomposition
    other = ensemble.explain(text, label=ensemble.classes_[1 - k])
    assert other["label"] == ensemble.classes_[1 - k]


def test_filter_and_neighbour_reports_say_they_need_one_network(ensemble):
    with pytest.raises(ConfigError, match="this model averages 3"):
        ensemble.explain_filters(TEXTS)
    with pytest.raises(ConfigError, match="trained with --ensemble"):
        ensemble.neighbours("good")


def test_an_interrupted_ensemble_resumes_at_the_member_it_had_reached(tmp_path, monkeypatch):
    save = loop.save_train_state

    def stop_in_member_1(folder, module, optimizer, generator, state, *args):
        save(folder, module, optimizer, generator, state, *args)
        if Path(folder).name == "member1" and state.epoch == 2:
            raise TrainingInterrupted("stopped in member 1 after epoch 2")

    dev = (TEXTS[::2], LABELS[::2])
    with monkeypatch.context() as patch:
        patch.setattr(loop, "save_train_state", stop_in_member_1)
        with pytest.raises(TrainingInterrupted):
            TextCNNClassifier(**TINY, ensemble=3).fit(TEXTS, LABELS, dev=dev, checkpoint_dir=tmp_path / "run")
    assert (tmp_path / "run" / "resume" / "member1" / "state.json").is_file()
    resumed = TextCNNClassifier(**TINY, ensemble=3).fit(TEXTS, LABELS, dev=dev, checkpoint_dir=tmp_path / "run",
                                                        resume=True)
    straight = TextCNNClassifier(**TINY, ensemble=3).fit(TEXTS, LABELS, dev=dev)
    np.testing.assert_allclose(resumed.predict_proba(TEXTS), straight.predict_proba(TEXTS), atol=1e-6)
    assert resumed.coverage_ == straight.coverage_ and straight.coverage_.tokens_total > 0  # weighted by counts


def test_an_image_ensemble_saves_loads_and_averages(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 8, 8), dtype=np.float32)
    labels = [str(i % 2) for i in range(40)]
    clf = ImageCNNClassifier(epochs=2, ensemble=2, device="cpu", batch_size=10).fit(images, labels)
    assert isinstance(clf.module_, ProbabilityAverage)
    clf.save(tmp_path / "run")
    loaded = ImageCNNClassifier.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict_proba(images), clf.predict_proba(images), atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_ensemble_must_be_a_whole_number_of_models(bad):
    with pytest.raises(ConfigError, match="ensemble must be a whole number of models"):
        TextCNNClassifier(**{**TINY, "ensemble": bad}).fit(TEXTS, LABELS)


def test_a_multi_label_ensemble_averages_each_labels_sigmoid():
    label_sets = [["pos", "film"]] * 10 + [["neg"]] * 10
    clf = TextCNNClassifier(**TINY, ensemble=2, multi_label=True).fit(TEXTS, label_sets, dev=(TEXTS, label_sets))
    members = np.stack([TextPredictor(m, clf.tokenizer_, clf.vocab_, clf.classes_, clf.max_tokens, clf.device_,
                                      multi_label=True).predict_proba(TEXTS) for m in clf.module_.members])
    np.testing.assert_allclose(clf.predict_proba(TEXTS), members.mean(axis=0), atol=1e-5)
