"""Evaluation protocols of Kim (2014): a fixed test split over several seeds, or k-fold cross-validation.

A protocol is a list of `Unit`s, one training run each. Every unit gets its own train/dev/test
splits from `unit_splits`: a fixed-split dataset passes through (dev = 10% of train when there is
none); a cross-validation fold trains on k-1 folds, holds out 10% of them as its own dev set for
early stopping, and tests on the remaining fold.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..base.errors import DataError
from .files import TextDataset

log = logging.getLogger(__name__)

KIM_CV_FOLDS = 10  # Kim 2014 §3: "CV: average over 10-fold cross-validation" for MR, Subj, CR, MPQA
FOLD_SEED = 0  # the same folds for every variant and seed, so cells are compared on equal data


def split_off_dev(train: TextDataset, fraction: float, seed: int) -> tuple[TextDataset, TextDataset]:
    """Hold out `fraction` of train as a dev set, stratified by label (not for multi-label); returns (train, dev).

    Kim 2014 §3.2 uses a random 10% of train as dev when a dataset has none.
    """
    # Multi-label: no stratification. A label set is not a class (many sets occur once, so stratifying by set
    # fails), and keeping each label's share (iterative stratification, Sechidis et al. 2011) is another algorithm.
    kept, held = dev_split(train.labels, fraction, seed, stratify=not train.multi_label)
    return train.subset(kept), train.subset(held)


def dev_split(
    labels: Sequence[Any], fraction: float, seed: int, *, stratify: bool = True
) -> tuple[list[int], list[int]]:
    """Sorted (train, dev) indices with `fraction` of the examples in dev, stratified by label.

    Falls back to an unstratified split when some class is too small to appear on both sides;
    `stratify=False` always splits without (multi-label sets).
    """
    if not 0 < fraction < 1:
        raise DataError(f"dev fraction must be between 0 and 1, got {fraction}; e.g. 0.1 (Kim 2014 §3.2)")
    n_dev = math.ceil(fraction * len(labels))  # how sklearn rounds a float test_size
    if not 1 <= n_dev < len(labels):
        raise DataError(
            f"cannot split {len(labels)} examples into train and dev with fraction {fraction}; "
            "use more data or another fraction"
        )
    if stratify:
        counts = torch.bincount(torch.as_tensor(labels, dtype=torch.long))
        classes = int((counts > 0).sum())
        stratify = bool(counts[counts > 0].min() >= 2) and classes <= min(n_dev, len(labels) - n_dev)
        if not stratify:
            log.info("split_off_dev: a class is too small to stratify; splitting without stratification")
    from sklearn.model_selection import train_test_split  # here: scikit-learn takes ~1.2 s to import

    kept, held = train_test_split(list(range(len(labels))), test_size=n_dev, random_state=seed,
                                  stratify=labels if stratify else None)
    return sorted(kept), sorted(held)


@dataclass(frozen=True)
class Unit:
    """One training run of a protocol: a seed, and a fold index under cross-validation."""

    seed: int
    fold: int | None = None

    @property
    def name(self) -> str:
        return f"seed{self.seed}" if self.fold is None else f"fold{self.fold:02d}-seed{self.seed}"


def plan_units(seeds: Sequence[int], cv: int | None = None) -> list[Unit]:
    """Every (seed, fold) of a protocol: one unit per seed, or per seed and fold under `cv` folds."""
    if cv is None:
        return [Unit(seed) for seed in seeds]
    return [Unit(seed, fold) for seed in seeds for fold in range(cv)]


def cv_folds(
    labels: Sequence[Any], n_folds: int, seed: int = FOLD_SEED, *, stratify: bool = True
) -> list[tuple[list[int], list[int]]]:
    """Seeded k-fold (train indices, test indices) pairs that cover every example once, stratified by label.

    `stratify=False` gives plain shuffled k-fold (multi-label sets: see split_off_dev).
    """
    if not stratify:
        if not 2 <= n_folds <= len(labels):
            raise DataError(f"cannot make {n_folds} folds of {len(labels)} examples; use --cv between 2 and "
                            f"{len(labels)}")
        from sklearn.model_selection import KFold  # here: scikit-learn takes ~1.2 s to import

        folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(range(len(labels)))
        return [(train.tolist(), test.tolist()) for train, test in folds]
    smallest = min((labels.count(c) for c in set(labels)), default=0)
    if not 2 <= n_folds <= smallest:
        raise DataError(
            f"cannot make {n_folds} stratified folds: the smallest class has {smallest} examples; "
            f"use --cv between 2 and {smallest}"
        )
    from sklearn.model_selection import StratifiedKFold  # here: scikit-learn takes ~1.2 s to import

    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(train.tolist(), test.tolist()) for train, test in folds.split(list(labels), list(labels))]


def resolve_cv(splits: dict[str, TextDataset], cv: int | None) -> int | None:
    """The number of folds to use: as asked, or Kim's 10 for a dataset that has no test split."""
    if cv is None and "train" not in splits and "all" in splits:
        return KIM_CV_FOLDS
    if cv is not None and "all" not in splits and "train" not in splits:
        raise DataError("cross-validation needs a training split")
    return cv


def unit_splits(
    splits: dict[str, TextDataset], unit: Unit, cv: int | None, dev_fraction: float = 0.1
) -> dict[str, TextDataset]:
    """The train/dev/test data of one unit."""
    if cv is None:
        return splits
    pool = splits["all"] if "all" in splits else splits["train"]
    train_idx, test_idx = cv_folds(pool.labels, cv, stratify=not pool.multi_label)[unit.fold]
    train, dev = split_off_dev(pool.subset(train_idx), dev_fraction, unit.seed)
    return {"train": train, "dev": dev, "test": pool.subset(test_idx)}
