"""CNNClassifierBase: scikit-learn's bases the ordinary way (no swap at run time); NotFittedError lives here."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.exceptions

import textcnn
from textcnn.base.errors import TextCNNError
from textcnn.estimators.base import NotFittedError
from textcnn.estimators.image import ImageCNNClassifier
from textcnn.estimators.text import TextCNNClassifier

PACKAGE = Path(textcnn.__file__).resolve().parent

_FRESH_INTERPRETER = """
from textcnn import TextCNNClassifier, ImageCNNClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
print(isinstance(TextCNNClassifier(), BaseEstimator), isinstance(ImageCNNClassifier(), BaseEstimator),
      isinstance(TextCNNClassifier(), ClassifierMixin), isinstance(ImageCNNClassifier(), ClassifierMixin))
"""


def test_a_fresh_interpreter_sees_scikit_learn_estimators_before_any_attribute_access() -> None:
    proc = subprocess.run([sys.executable, "-c", _FRESH_INTERPRETER], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True"] * 4


def test_class_level_sklearn_attributes_exist_from_import() -> None:
    assert callable(TextCNNClassifier.get_params) and callable(ImageCNNClassifier.score)
    assert callable(TextCNNClassifier.set_fit_request)  # made by sklearn's __init_subclass__ at class creation


def test_no_module_assigns_bases() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            offenders += [f"{path}:{node.lineno}" for t in targets
                          if isinstance(t, ast.Attribute) and t.attr == "__bases__"]
    assert offenders == []


UNFITTED = [(TextCNNClassifier(), ["a film"]), (ImageCNNClassifier(), np.zeros((1, 8, 8)))]


@pytest.mark.parametrize("estimator, X", UNFITTED, ids=["text", "image"])
def test_unfitted_predict_raises_a_textcnn_and_a_sklearn_not_fitted_error(estimator, X) -> None:
    with pytest.raises(sklearn.exceptions.NotFittedError, match="is not fitted yet; call fit") as caught:
        estimator.predict(X)
    assert type(caught.value) is NotFittedError and isinstance(caught.value, TextCNNError)


def test_public_not_fitted_error_is_the_estimators_one() -> None:
    assert textcnn.NotFittedError is NotFittedError
