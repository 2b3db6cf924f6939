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


# ---- every parameter declared once: the signature is the configs' fields, save/load keeps every one ----

ESTIMATORS = [TextCNNClassifier, ImageCNNClassifier]
# the only defaults an estimator gives differently from its config field (the image material's Keras recipe)
DEFAULT_OVERRIDES = {ImageCNNClassifier: {"optimizer": "adam", "epochs": 60}}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_the_signature_lists_exactly_the_config_fields_with_their_defaults(cls) -> None:
    import dataclasses
    import inspect

    signature = inspect.signature(cls.__init__).parameters
    fields = {f.name: f.default for f in cls.config_fields()}
    assert list(signature)[1:] == list(fields)  # same names, same order (model, data, train)
    overrides = DEFAULT_OVERRIDES.get(cls, {})
    for name, default in fields.items():
        expected = overrides.get(name, default)
        given = signature[name].default
        assert (tuple(given) if isinstance(given, list | tuple) else given) == expected, name
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(signature.values())[1:])
    assert not any(dataclasses.is_dataclass(v) for v in fields.values())


TEXT_CHANGED = dict(
    variant="rand", filter_sizes=(1, 2), n_filters=3, dropout=0.25, max_norm=None, embedding_dim=6, fused_conv=True,
    sparse_embeddings=False, batch_size=7, dev_fraction=0.2, tokenizer="kim", tokenizer_version=1, lowercase=False,
    min_freq=1, max_tokens=50, bucket_by_length=False, vectors="some/vectors.txt", oov_init="match",
    extra_vectors=("word2vec:4",), optimizer="adam",
    lr=0.01, rho=0.9, eps=1e-7, adam_eps=1e-7, momentum=0.5, epochs=2, patience=3, lr_schedule="cosine",
    lr_factor=0.25, lr_patience=2, selection="macro-f1", multi_label=False, class_weight="balanced", threshold=0.5,
    mixup=0.3, adversarial=0.5, ensemble=2, seed=3, device="cpu", deterministic=True, bf16=True, compile=False,
    progress=False, dry_run=False, dry_run_batches=4,
)
IMAGE_CHANGED = dict(
    model="digits-cnn", init="keras", bn_momentum=0.01, bn_eps=1e-3, batch_size=20, dev_fraction=0.2, augment=True,
    optimizer="sgd", lr=0.02, rho=0.9, eps=1e-7, adam_eps=1e-7, momentum=0.8, epochs=1, patience=None,
    lr_schedule="none", lr_factor=0.3, lr_patience=3, selection="last", multi_label=False, class_weight="balanced",
    threshold=0.5, mixup=0.2, adversarial=0.1, ensemble=2, seed=5, device="cpu", deterministic=True, bf16=False,
    compile=False, progress=False, dry_run=False, dry_run_batches=2,
)


def test_a_saved_text_model_loads_with_every_parameter_it_had(tmp_path) -> None:
    from tests.conftest import NEGATIVE, POSITIVE

    clf = TextCNNClassifier(**TEXT_CHANGED)
    assert set(TEXT_CHANGED) == set(clf.get_params())  # the test sets every parameter
    clf.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE))
    loaded = TextCNNClassifier.load(clf.save(tmp_path / "run"))
    assert loaded.get_params() == clf.get_params()


def test_a_saved_image_model_loads_with_every_parameter_it_had(tmp_path) -> None:
    from textcnn.data.images import load_digits_splits

    clf = ImageCNNClassifier(**IMAGE_CHANGED)
    assert set(IMAGE_CHANGED) == set(clf.get_params())
    train = load_digits_splits()["train"]
    clf.fit(train.images[:100], train.labels[:100])
    loaded = ImageCNNClassifier.load(clf.save(tmp_path / "run"))
    assert loaded.get_params() == clf.get_params()
    assert loaded.config_ == clf.config_


@pytest.mark.parametrize(("cls", "change"), [(TextCNNClassifier, {"n_filters": 5}), (TextCNNClassifier, {"lr": 0.5}),
                                             (ImageCNNClassifier, {"augment": True})],
                         ids=["text-model", "text-train", "image-data"])
def test_a_resume_with_any_changed_setting_is_refused_naming_it(tmp_path, cls, change) -> None:
    from tests.conftest import NEGATIVE, POSITIVE
    from textcnn.base.errors import ConfigError
    from textcnn.data.images import load_digits_splits

    if cls is TextCNNClassifier:
        X, y = POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)
        params = dict(variant="rand", embedding_dim=6, n_filters=3, epochs=1, device="cpu")
    else:
        train = load_digits_splits()["train"]
        X, y, params = train.images[:80], train.labels[:80], dict(epochs=1, device="cpu")
    cls(**params).fit(X, y, checkpoint_dir=tmp_path / "run")
    from textcnn.training.resume import has_train_state

    assert has_train_state(tmp_path / "run" / "resume")  # fit keeps its last state, so the run can go on
    name, value = next(iter(change.items()))
    with pytest.raises(ConfigError, match=rf"other settings: {name}=.*, not {value!r}"):
        cls(**{**params, **change, "epochs": 2}).fit(X, y, checkpoint_dir=tmp_path / "run", resume=True)
