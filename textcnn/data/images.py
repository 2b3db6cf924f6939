"""Image datasets → float arrays (N, C, H, W) in [0, 1] + integer labels, and batches for the trainer.

Sources: scikit-learn's 8×8 digits (embedded, offline), IDX files (the MNIST / Fashion-MNIST format),
a folder with one sub-folder of PNGs per class, and the Hugging Face hub for mnist, fashion_mnist and
cifar10 (ids and columns from ../shared/data/HUB.md). Named MNIST-family sets look for local IDX
files first: data/<name>/, $TEXTCNN_DATA/<name>/, then Debian's dataset-fashion-mnist package.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..base.errors import DataError
from .batches import Batch
from .splits import dev_split

log = logging.getLogger(__name__)

DATA_ENV = "TEXTCNN_DATA"
DIGITS_TEST_FRACTION = 0.2  # our own held-out split: sklearn's digits come without one
DIGITS_MAX = 16.0  # sklearn digits pixels are counts 0..16 (UCI optdigits 4×4-block counts)
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist


@dataclass(frozen=True)
class HubImageSpec:
    """Where a named image set lives on the hub (../shared/data/HUB.md)."""

    hub_id: str
    config: str
    image_column: str
    label_column: str = "label"


HUB_IMAGES: dict[str, HubImageSpec] = {
    "mnist": HubImageSpec("ylecun/mnist", "mnist", "image"),
    "fashion_mnist": HubImageSpec("zalando-datasets/fashion_mnist", "fashion_mnist", "image"),
    "cifar10": HubImageSpec("uoft-cs/cifar10", "plain_text", "img"),
}
IMAGE_DATASETS: tuple[str, ...] = ("digits", *HUB_IMAGES)
IDX_FILES = {  # LeCun's file names, shared by Fashion-MNIST
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class ImageDataset:
    """Images (N, C, H, W) float32 in [0, 1], labels (N,) int64 class indices, and the class names."""

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise DataError(f"expected images (N, C, H, W) and N labels; got {self.images.shape} and "
                            f"{len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ImageDataset:
        """The examples at `index`, same class names."""
        return ImageDataset(self.images[index], self.labels[index], self.label_names)


# ---- scikit-learn digits ----
def load_digits_splits(seed: int = 0) -> dict[str, ImageDataset]:
    """sklearn's 1,797 8×8 digits, split 80/20 (stratified, fixed seed) into train and test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / DIGITS_MAX).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    data = ImageDataset(images, digits.target.astype(np.int64), [str(d) for d in digits.target_names])
    train, test = train_test_split(np.arange(len(data)), test_size=DIGITS_TEST_FRACTION, random_state=seed,
                                   stratify=data.labels)
    return {"train": data.subset(train), "test": data.subset(test)}


# ---- IDX files ----
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (LeCun's MNIST format; .gz allowed) as an array of its stored type and shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise DataError(f"cannot read IDX file {path}: {err}") from err
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in types:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}); expected e.g. "
                        "train-images-idx3-ubyte")
    ndim, dtype = raw[3], np.dtype(types[raw[2]])
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise DataError(f"{path} is truncated: header says {shape}, file holds {len(body)} bytes of data")
    return np.frombuffer(body, dtype).reshape(shape)


def load_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike,
             label_names: list[str] | None = None) -> ImageDataset:
    """An IDX image file (N, H, W) of uint8 and its IDX label file (N,)."""
    images, labels = read_idx(images_path), read_idx(labels_path).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise DataError(f"{images_path} holds {images.shape} and {labels_path} {labels.shape}; expected (N, H, W) "
                        "images and N labels")
    names = label_names or [str(i) for i in range(int(labels.max()) + 1)]
    return ImageDataset((images / 255.0).astype(np.float32)[:, None], labels, names)


def _find_idx_folder(name: str) -> Path | None:
    """The first folder holding `name`'s four IDX files (plain or .gz)."""
    candidates = [Path("data") / name]
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]) / name)
    if name == "fashion_mnist":
        candidates.append(DEBIAN_FASHION_MNIST)
    for folder in candidates:
        if all(_idx_path(folder, f) for files in IDX_FILES.values() for f in files):
            return folder
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def load_idx_folder(folder: str | os.PathLike, label_names: list[str] | None = None) -> dict[str, ImageDataset]:
    """train and test splits from LeCun-named IDX files in `folder`."""
    folder = Path(folder)
    splits = {}
    for split, (images, labels) in IDX_FILES.items():
        paths = _idx_path(folder, images), _idx_path(folder, labels)
        if None in paths:
            raise DataError(f"{folder} lacks {images} or {labels} (optionally .gz); expected the four MNIST IDX files")
        splits[split] = load_idx(*paths, label_names=label_names)
    return splits


# ---- PNG folders ----
def read_image(path: str | os.PathLike, mode: str | None = None) -> np.ndarray:
    """One image file as float32 (C, H, W) in [0, 1]; `mode` "L" or "RGB" converts it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if mode is None:
                mode = "L" if img.mode in ("1", "L", "I", "I;16", "LA", "P") and _is_gray(img) else "RGB"
            array = np.asarray(img.convert(mode), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (C, H, W)


def _is_gray(img: Any) -> bool:
    if img.mode != "P":
        return True
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def load_png_folder(root: str | os.PathLike) -> ImageDataset:
    """`root/<class name>/*.png`: one sub-folder per class, all images the same size."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if len(classes) < 2:
        raise DataError(f"{root} must hold one sub-folder of PNGs per class (at least two); found {classes}")
    files = [(path, i) for i, name in enumerate(classes) for path in sorted((root / name).glob("*.png"))]
    if not files:
        raise DataError(f"no .png files under {root}/<class>/")
    first = read_image(files[0][0])
    mode = "L" if first.shape[0] == 1 else "RGB"
    images = [read_image(path, mode) for path, _ in files]
    sizes = sorted({im.shape for im in images})
    if len(sizes) > 1:
        raise DataError(f"images under {root} differ in size ({sizes[:3]}); resize them to one size")
    return ImageDataset(np.stack(images), np.array([i for _, i in files], dtype=np.int64), classes)


# ---- Hugging Face hub ----
def _load_hub(hub_id: str, config: str) -> Any:
    """`datasets.load_dataset` (the one network call; tests replace it)."""
    from datasets import load_dataset

    return load_dataset(hub_id, config)


def _hub_split(split: Any, spec: HubImageSpec) -> ImageDataset:
    images = np.stack([np.asarray(img, dtype=np.uint8) for img in split[spec.image_column]])
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W)
    labels = np.asarray(split[spec.label_column], dtype=np.int64)
    feature = getattr(split, "features", {}).get(spec.label_column)
    names = list(getattr(feature, "names", None) or [str(i) for i in range(int(labels.max()) + 1)])
    return ImageDataset((images / 255.0).astype(np.float32), labels, names)


def load_image_dataset(name: str) -> dict[str, ImageDataset]:
    """A named image set's train and test splits: digits offline; MNIST-family local IDX, else the hub."""
    if name == "digits":
        return load_digits_splits()
    if name not in HUB_IMAGES:
        raise DataError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}, or pass "
                        "--train-dir (PNG folders) or --idx-dir (IDX files)")
    folder = _find_idx_folder(name) if name != "cifar10" else None
    if folder is not None:
        log.info("reading %s from IDX files in %s", name, folder)
        return load_idx_folder(folder)
    spec = HUB_IMAGES[name]
    log.info("downloading %s from the Hugging Face hub (%s)", name, spec.hub_id)
    try:
        hub = _load_hub(spec.hub_id, spec.config)
    except (OSError, ConnectionError, ValueError) as err:
        raise DataError(f"cannot load {name} from the hub ({spec.hub_id}): {err}; put its IDX files in "
                        f"data/{name}/ or ${DATA_ENV}/{name}/ to work offline") from err
    return {split: _hub_split(hub[split], spec) for split in ("train", "test")}


def split_off_dev(data: ImageDataset, fraction: float, seed: int) -> tuple[ImageDataset, ImageDataset]:
    """A stratified `fraction` of `data` held out for early stopping (Kim's 10% protocol)."""
    kept, held = dev_split(data.labels, fraction, seed)
    return data.subset(kept), data.subset(held)


# ---- augmentation (each a named unit with an off switch: ImageCNNClassifier(augment=False)) ----
CROP_PADDING = 4  # pixels of zero padding before a random crop (the usual CIFAR-10 recipe, He et al. 2016 §4.2)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(len(images), generator=generator) < 0.5  # (B,)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)  # (B, C, H, W)


def random_crop(images: Tensor, generator: torch.Generator, padding: int = CROP_PADDING) -> Tensor:
    """Pad with zeros, then cut each image back to its size at a random offset."""
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)  # (B, C, H + 2p, W + 2p)
    dy, dx = (torch.randint(0, 2 * padding + 1, (2, b), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])  # (B, C, H, W)


class ImageBatches:
    """Mini-batches of one split for `fit_model` (the `Batches` protocol), optionally shuffled and augmented."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, batch_size: int, shuffle: bool = False,
                 augment: bool = False) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))  # (N, C, H, W)
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n = len(self.images)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            images = self.images[index]  # (B, C, H, W)
            if self.augment and generator is not None:
                images = random_crop(random_flip(images, generator), generator)
            yield Batch(index, (images,), None if self.labels is None else self.labels[index])
