"""from_pretrained of a local folder and of a (fake, offline) Hub cache; push_to_hub mocked at huggingface_hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest

from textcnn.base.errors import CheckpointError
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RUN_FILES = {"config.json", "labels.json", "vocab.json", "model.safetensors", "README.md"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from tests.conftest import NEGATIVE, POSITIVE

    clf = TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, epochs=2, device="cpu")
    clf.fit(POSITIVE + NEGATIVE, ["pos"] * 10 + ["neg"] * 10)
    return clf, clf.save(tmp_path_factory.mktemp("hub") / "run")


def fake_hub_cache(cache: Path, repo_id: str, run_dir: Path) -> None:
    """The layout huggingface_hub keeps: models--owner--name/refs/main and snapshots/<commit>/<files>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(run_dir, repo / "snapshots" / COMMIT)


def test_from_pretrained_of_a_local_folder_is_load(saved) -> None:
    clf, run = saved
    texts = ["a wonderful film", "dull"]
    assert (TextCNNClassifier.from_pretrained(run).predict_proba(texts) == clf.predict_proba(texts)).all()


def test_from_pretrained_of_a_repo_id_reads_the_hub_cache_offline(saved, tmp_path, monkeypatch) -> None:
    clf, run = saved
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub_cache(tmp_path, "someone/sst2-rand", run)
    loaded = TextCNNClassifier.from_pretrained("someone/sst2-rand", cache_dir=tmp_path)
    predictor = TextPredictor.from_pretrained("someone/sst2-rand", device="cpu", cache_dir=tmp_path)
    texts = ["a wonderful film", "i hated every minute"]
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    assert list(predictor.predict(texts)) == list(clf.predict(texts))


def test_a_repo_that_cannot_be_fetched_is_one_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="could not get someone/missing from the Hugging Face Hub"):
        TextCNNClassifier.from_pretrained("someone/missing", cache_dir=tmp_path)
    with pytest.raises(CheckpointError, match="neither a run directory nor"):
        TextCNNClassifier.from_pretrained(str(tmp_path / "no" / "such" / "dir"))


def test_push_to_hub_uploads_the_run_directory_and_its_card(saved, monkeypatch) -> None:
    clf, _ = saved
    calls = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create"] = (repo_id, kwargs)

    def upload_folder(self, repo_id, folder_path, **kwargs):
        calls["files"] = {p.name for p in Path(folder_path).iterdir()}
        calls["card"] = (Path(folder_path) / "README.md").read_text()
        calls["upload"] = (repo_id, kwargs)
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/{COMMIT}"})()

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    url = clf.push_to_hub("someone/demo-rand", private=True)
    assert url.endswith(COMMIT) and calls["create"] == ("someone/demo-rand", {"private": True, "exist_ok": True,
                                                                              "repo_type": "model"})
    assert calls["files"] == RUN_FILES
    assert "resume/*" in calls["upload"][1]["ignore_patterns"]
    assert "library_name: textcnn" in calls["card"] and "`neg`, `pos`" in calls["card"]


def test_the_image_estimator_loads_from_a_hub_cache_too(tmp_path, monkeypatch) -> None:
    from textcnn.data.images import load_digits_splits

    train = load_digits_splits()["train"]
    clf = ImageCNNClassifier(epochs=1, device="cpu").fit(train.images[:100], train.labels[:100])
    fake_hub_cache(tmp_path / "cache", "someone/digits", clf.save(tmp_path / "run"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = ImageCNNClassifier.from_pretrained("someone/digits", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(loaded.predict(train.images[:20]), clf.predict(train.images[:20]))
