"""A member store: finished ensemble members kept by seed and taken by later ensembles on the same data and settings."""

import numpy as np
import pytest
import torch

from tests.conftest import NEGATIVE, POSITIVE
from textcnn.base.errors import CheckpointError, ConfigError
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.text import TextCNNClassifier
from textcnn.training import distributed, members
from textcnn.training.members import IDENTITY, data_fingerprint, kept_member
from textcnn.training.resume import RESUME_DIR, reused_seconds, trained_seconds

TEXTS, LABELS = POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10
DEV = (TEXTS[::2], LABELS[::2])
TINY = dict(variant="rand", embedding_dim=8, n_filters=4, filter_sizes=(1, 2), epochs=3, batch_size=10,
            optimizer="adam", lr=0.01, device="cpu", adversarial=0.5)


def _fit(tmp_path, name, store=None, data=(TEXTS, LABELS), **params):
    return TextCNNClassifier(**{**TINY, **params}).fit(*data, dev=DEV, checkpoint_dir=tmp_path / name,
                                                       member_store=store)


def test_an_overlapping_ensemble_takes_the_kept_members_and_equals_one_trained_whole(tmp_path):
    store = tmp_path / "members"
    _fit(tmp_path, "seed0", store, ensemble=3, seed=0)
    assert sorted(p.name for p in store.iterdir()) == ["seed0", "seed1", "seed2"]
    grown = _fit(tmp_path, "seed1", store, ensemble=3, seed=1)
    alone = _fit(tmp_path, "alone", ensemble=3, seed=1)
    assert [m.reused for m in grown.fit_result_.members] == [True, True, False]
    assert not any(m.reused for m in alone.fit_result_.members)
    np.testing.assert_allclose(grown.predict_proba(TEXTS), alone.predict_proba(TEXTS), atol=1e-6)
    for mine, theirs in zip(grown.fit_result_.members, alone.fit_result_.members):
        assert (mine.best_epoch, mine.best_dev_acc) == (theirs.best_epoch, theirs.best_dev_acc)
    assert kept_member(store, 3).is_dir()  # the member it trained is kept for the next one


def test_taken_members_count_as_reused_seconds_not_as_this_run_s(tmp_path):
    store = tmp_path / "members"
    first = _fit(tmp_path, "seed0", store, ensemble=2, seed=0)
    _fit(tmp_path, "seed1", store, ensemble=2, seed=1)
    member1_seconds = sum(r.seconds for r in first.fit_result_.members[1].history)
    resume_dir = tmp_path / "seed1" / RESUME_DIR
    assert reused_seconds(resume_dir) == pytest.approx(member1_seconds)
    total = reused_seconds(resume_dir) + trained_seconds(resume_dir)
    assert trained_seconds(resume_dir) > 0 and total > trained_seconds(resume_dir)


def test_a_fresh_fit_in_the_same_folder_trains_its_own_model_again(tmp_path):
    store = tmp_path / "members"
    _fit(tmp_path, "seed0", store, ensemble=2, seed=0)
    _fit(tmp_path, "seed1", store, ensemble=2, seed=1)
    again = _fit(tmp_path, "seed1", ensemble=2, seed=1)  # no store: nothing is taken, the old mark goes
    assert not any(m.reused for m in again.fit_result_.members)
    assert reused_seconds(tmp_path / "seed1" / RESUME_DIR) == 0


def test_a_kept_member_of_other_data_or_settings_is_an_error_not_a_silent_retrain(tmp_path):
    store = tmp_path / "members"
    _fit(tmp_path, "seed0", store, ensemble=2, seed=0)
    other_data = (TEXTS[1:], LABELS[1:])
    with pytest.raises(CheckpointError, match="data="):
        _fit(tmp_path, "other-data", store, data=other_data, ensemble=2, seed=1)
    with pytest.raises(CheckpointError, match=r"settings\.train\.adversarial=0\.5, not 1\.0"):
        _fit(tmp_path, "other-settings", store, ensemble=2, seed=1, adversarial=1.0)


def test_a_dev_split_held_out_with_the_ensemble_s_seed_makes_its_data_its_own(tmp_path):
    store = tmp_path / "members"
    TextCNNClassifier(**TINY, ensemble=2, seed=0).fit(TEXTS, LABELS, checkpoint_dir=tmp_path / "a", member_store=store)
    with pytest.raises(CheckpointError, match="data="):  # seed 1's member of ensemble 0 saw ensemble 0's split
        TextCNNClassifier(**TINY, ensemble=2, seed=1).fit(TEXTS, LABELS, checkpoint_dir=tmp_path / "b",
                                                          member_store=store)


def test_the_ensemble_size_and_a_single_model_share_the_store(tmp_path):
    store = tmp_path / "members"
    single = _fit(tmp_path, "single", store, seed=4)
    ensemble = _fit(tmp_path, "ensemble", store, ensemble=2, seed=4)
    assert [m.reused for m in ensemble.fit_result_.members] == [True, False]
    for a, b in zip(single.module_.state_dict().values(), ensemble.module_.members[0].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_image_ensembles_share_members_too(tmp_path):
    images = np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32)
    labels, dev = [str(i % 2) for i in range(40)], (images[::4], [str(i % 2) for i in range(0, 40, 4)])
    store, params = tmp_path / "members", dict(epochs=2, ensemble=2, device="cpu", batch_size=10)

    def fit(name, seed, member_store=None):
        return ImageCNNClassifier(**params, seed=seed).fit(images, labels, dev=dev, checkpoint_dir=tmp_path / name,
                                                           member_store=member_store)
    fit("seed0", 0, store)
    grown, alone = fit("seed1", 1, store), fit("alone", 1)
    assert [m.reused for m in grown.fit_result_.members] == [True, False]
    np.testing.assert_allclose(grown.predict_proba(images), alone.predict_proba(images), atol=1e-6)


def test_a_member_kept_by_another_process_meanwhile_stays_and_no_partial_copy_is_left(tmp_path, monkeypatch):
    store = tmp_path / "members"
    _fit(tmp_path, "first", store, seed=3)
    kept = (kept_member(store, 3) / IDENTITY).read_text()
    looks = iter([False])  # the first look finds nothing kept; by the rename another process has kept it
    real = members.has_train_state
    monkeypatch.setattr(members, "has_train_state", lambda folder: next(looks, True) and real(folder))
    members.keep_member(tmp_path / "first" / RESUME_DIR, store, 3, {"other": "identity"})
    assert (kept_member(store, 3) / IDENTITY).read_text() == kept
    assert [p.name for p in store.iterdir()] == ["seed3"]


def test_a_member_store_needs_a_checkpoint_dir(tmp_path):
    with pytest.raises(ConfigError, match="needs checkpoint_dir"):
        TextCNNClassifier(**TINY, ensemble=2).fit(TEXTS, LABELS, dev=DEV, member_store=tmp_path / "members")


def test_a_member_store_is_refused_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "launched_world_size", lambda: 2)
    with pytest.raises(ConfigError, match="one process"):
        _fit(tmp_path, "run", tmp_path / "members", ensemble=2)


def test_the_fingerprint_follows_content_and_order():
    texts = ["a b", "c d"]
    assert data_fingerprint([texts, [0, 1]]) == data_fingerprint([list(texts), [0, 1]])
    assert data_fingerprint([texts, [0, 1]]) != data_fingerprint([texts[::-1], [0, 1]])
    assert data_fingerprint([texts, [0, 1]]) != data_fingerprint([texts, [1, 0]])
    assert data_fingerprint([np.zeros((2, 2))]) != data_fingerprint([np.zeros((4,))])
