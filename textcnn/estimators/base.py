"""What the text and image estimators share: scikit-learn's bases, NotFittedError, classes, label encoding, predict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn.exceptions
from sklearn.base import BaseEstimator, ClassifierMixin

from ..base.errors import DataError, TextCNNError


class NotFittedError(TextCNNError, sklearn.exceptions.NotFittedError):
    """The estimator was used before `fit` or `load` (scikit-learn's checks and `except` clauses catch it too)."""


class CNNClassifierBase(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier plumbing; subclasses define `fit` and `predict_proba`."""

    def _set_classes(self, y: Sequence[Any], label_names: Sequence[Any] | None) -> None:
        """`classes_` in the given order, else the sorted distinct labels; at least two are needed."""
        self.classes_ = np.asarray(label_names if label_names is not None else np.unique(np.asarray(y)))
        if len(self.classes_) < 2:
            raise DataError(f"training needs at least two classes; got {list(self.classes_)}")

    def _encode_labels(self, y: Sequence[Any], n: int) -> list[int]:
        """Class indices of `y`, checked against `classes_` and against the `n` inputs they label."""
        y = list(y)
        if len(y) != n:
            raise DataError(f"got {n} inputs but {len(y)} labels")
        index = {str(c): i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(v) for v in y} - set(index))
        if unknown:
            raise DataError(f"labels {unknown[:5]} are not among the classes {list(index)}")
        return [index[str(v)] for v in y]

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each input."""
        probs = self.predict_proba(X)
        return self.classes_[probs.argmax(axis=1)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            name = type(self).__name__
            raise NotFittedError(f"this {name} is not fitted yet; call fit(...) or {name}.load(dir)")

