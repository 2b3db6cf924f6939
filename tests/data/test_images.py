"""Image loaders: IDX, PNG folders, the hub path (offline, the call replaced), digits, batches."""

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from textcnn.base.errors import DataError
from textcnn.data import images as image_data
from textcnn.data.images import (
    ImageBatches,
    ImageDataset,
    load_digits_splits,
    load_idx_folder,
    load_image_dataset,
    load_png_folder,
    random_crop,
    random_flip,
    read_idx,
    split_off_dev,
)


def _write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_read_idx_round_trips_plain_and_gzip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a", array)
    _write_idx(tmp_path / "b.gz", array, compress=True)
    assert np.array_equal(read_idx(tmp_path / "a"), array)
    assert np.array_equal(read_idx(tmp_path / "b.gz"), array)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((2, 2, 2)))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short")


def _idx_folder(folder, n=6):
    rng = np.random.default_rng(0)
    for images, labels in image_data.IDX_FILES.values():
        _write_idx(folder / f"{images}.gz", rng.integers(0, 256, (n, 28, 28)), compress=True)
        _write_idx(folder / labels, np.arange(n) % 3)


def test_idx_folder_gives_scaled_train_and_test(tmp_path):
    _idx_folder(tmp_path)
    splits = load_idx_folder(tmp_path)
    assert set(splits) == {"train", "test"}
    train = splits["train"]
    assert train.images.shape == (6, 1, 28, 28) and train.images.dtype == np.float32
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    assert list(train.labels) == [0, 1, 2, 0, 1, 2] and train.label_names == ["0", "1", "2"]


def test_named_fashion_mnist_prefers_local_idx(tmp_path, monkeypatch):
    (tmp_path / "fashion_mnist").mkdir()
    _idx_folder(tmp_path / "fashion_mnist")
    monkeypatch.setenv("TEXTCNN_DATA", str(tmp_path))
    monkeypatch.setattr(image_data, "_load_hub", lambda *a: pytest.fail("must not touch the hub"))
    assert len(load_image_dataset("fashion_mnist")["test"]) == 6


def test_png_folder_reads_classes_in_sorted_order(tmp_path):
    for name, value in (("cat", 0), ("dog", 255)):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((5, 5), value, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    data = load_png_folder(tmp_path)
    assert data.label_names == ["cat", "dog"] and list(data.labels) == [0, 0, 1, 1]
    assert data.images.shape == (4, 1, 5, 5) and data.images[-1].min() == 1.0


def test_png_folder_needs_class_folders_and_one_size(tmp_path):
    with pytest.raises(DataError, match="one sub-folder of PNGs per class"):
        load_png_folder(tmp_path)
    for name, size in (("a", 4), ("b", 6)):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((size, size), dtype=np.uint8)).save(tmp_path / name / "x.png")
    with pytest.raises(DataError, match="differ in size"):
        load_png_folder(tmp_path)


class _FakeSplit(dict):
    """What `datasets` returns per split, as far as the loader uses it: columns and features."""

    def __init__(self, columns, names):
        super().__init__(columns)
        self.features = {"label": type("ClassLabel", (), {"names": names})()}


def test_cifar10_from_the_hub_uses_img_column(monkeypatch):
    rgb = [Image.fromarray(np.full((32, 32, 3), v, dtype=np.uint8)) for v in (0, 255)]
    names = ["airplane", "automobile"]
    calls = []

    def fake_hub(hub_id, config):
        calls.append((hub_id, config))
        return {s: _FakeSplit({"img": rgb, "label": [0, 1]}, names) for s in ("train", "test")}

    monkeypatch.setattr(image_data, "_load_hub", fake_hub)
    splits = load_image_dataset("cifar10")
    assert calls == [("uoft-cs/cifar10", "plain_text")]
    assert splits["train"].images.shape == (2, 3, 32, 32) and splits["train"].label_names == names
    assert splits["test"].images[1].min() == 1.0


def test_mnist_hub_failure_says_how_to_work_offline(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEXTCNN_DATA", raising=False)

    def offline(*args):
        raise ConnectionError("no network")

    monkeypatch.setattr(image_data, "_load_hub", offline)
    with pytest.raises(DataError, match="ylecun/mnist.*IDX files in data/mnist/"):
        load_image_dataset("mnist")


def test_unknown_dataset_lists_choices():
    with pytest.raises(DataError, match="digits, mnist, fashion_mnist, cifar10"):
        load_image_dataset("imagenet")


def test_digits_split_is_stratified_held_out_and_scaled():
    splits = load_digits_splits()
    train, test = splits["train"], splits["test"]
    assert len(train) + len(test) == 1797 and len(test) == 360
    assert train.images.shape[1:] == (1, 8, 8) and train.images.max() == 1.0
    assert set(np.unique(test.labels)) == set(range(10))


def test_dev_split_is_stratified_and_small_sets_get_a_clear_error():
    data = ImageDataset(np.zeros((100, 1, 4, 4), np.float32), np.repeat(np.arange(4), 25), list("abcd"))
    train, dev = split_off_dev(data, 0.2, seed=0)
    assert len(dev) == 20 and np.bincount(dev.labels).tolist() == [5, 5, 5, 5]
    assert len(train) == 80
    tiny = ImageDataset(np.zeros((5, 1, 4, 4), np.float32), np.arange(5), list("abcde"))
    train, dev = split_off_dev(tiny, 0.2, seed=0)  # too few to stratify: a plain split
    assert len(dev) == 1 and len(train) == 4
    with pytest.raises(DataError, match="cannot split 1 examples"):
        split_off_dev(tiny.subset(np.arange(1)), 0.2, seed=0)


def test_batches_cover_every_example_once():
    batches = ImageBatches(np.zeros((10, 1, 4, 4)), np.arange(10), batch_size=4, shuffle=True)
    index = torch.cat([b.index for b in batches.epoch(torch.Generator().manual_seed(0))])
    assert len(batches) == 3 and sorted(index.tolist()) == list(range(10))


def test_flip_mirrors_and_crop_keeps_size_and_content():
    g = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    flipped = random_flip(images.repeat(8, 1, 1, 1), g)
    assert all(torch.equal(f, i) or torch.equal(f, i.flip(-1)) for f, i in zip(flipped, images.repeat(8, 1, 1, 1)))
    cropped = random_crop(images, g, padding=1)
    assert cropped.shape == images.shape
    assert torch.equal(random_crop(images, g, padding=0), images)
