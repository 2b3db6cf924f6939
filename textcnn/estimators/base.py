"""What the text and image estimators share: classes, label encoding, predict, prediction records."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base.errors import DataError


class _SklearnBases:
    """Stands in for scikit-learn's (ClassifierMixin, BaseEstimator) until something needs them.

    Lazy scikit-learn bases (start-up, issue #6): importing scikit-learn takes ~1.2 s, as long as torch itself,
    and `textcnn predict` never needs it. So `CNNClassifierBase` starts on this stand-in, and `use_sklearn_bases()`
    puts the real bases in its place the first time anything of theirs is asked for: an attribute the estimator
    lacks (`get_params`, `score`, `__sklearn_tags__`, ...), `repr`, `dir` or pickling; and at import when sklearn
    is loaded already. From then on the classes are exactly what `CNNClassifierBase(ClassifierMixin,
    BaseEstimator)` gives. Until then `isinstance(clf, BaseEstimator)` and class-level sklearn attributes
    (`TextCNNClassifier.get_params`) are missing. Off switch: TEXTCNN_LAZY_SKLEARN=0.
    """

    def __getattr__(self, name: str) -> Any:  # only called for names not found
        if name.endswith("_") and not name.startswith("__"):  # a fitted attribute (`module_`) not set yet
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self)
        use_sklearn_bases()
        return getattr(self, name)

    def __repr__(self) -> str:
        use_sklearn_bases()
        return repr(self)

    def __dir__(self) -> Any:
        use_sklearn_bases()
        return dir(self)

    def __getstate__(self) -> Any:
        use_sklearn_bases()
        return self.__getstate__()


class CNNClassifierBase(_SklearnBases):
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

    def _records(self, key: str, inputs: Sequence[Any], probs: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
        """One dict per input: `key`, label, probability, and the `top_k` classes with probabilities."""
        k = len(self.classes_) if top_k is None else max(1, min(top_k, len(self.classes_)))
        records = []
        for item, row in zip(inputs, probs):
            order = np.argsort(-row)[:k]
            records.append({
                key: item, "label": str(self.classes_[order[0]]), "probability": float(row[order[0]]),
                "probabilities": {str(self.classes_[i]): float(row[i]) for i in order},
            })
        return records

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            from ..base.errors import NotFittedError  # built on first use: it imports scikit-learn (see errors.py)

            name = type(self).__name__
            raise NotFittedError(f"this {name} is not fitted yet; call fit(...) or {name}.load(dir)")


def use_sklearn_bases() -> None:
    """Make `CNNClassifierBase` derive from scikit-learn's (ClassifierMixin, BaseEstimator); see `_SklearnBases`."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    if CNNClassifierBase.__bases__ == (ClassifierMixin, BaseEstimator):
        return
    CNNClassifierBase.__bases__ = (ClassifierMixin, BaseEstimator)
    classes = [CNNClassifierBase]
    for cls in classes:  # parents before children, as when the classes were created
        super(cls, cls).__init_subclass__()  # sklearn adds the `set_fit_request`-style methods here
        classes.extend(cls.__subclasses__())


if "sklearn.base" in sys.modules or os.environ.get("TEXTCNN_LAZY_SKLEARN", "1") == "0":
    use_sklearn_bases()
