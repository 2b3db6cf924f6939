"""Start-up (issue #6): `cli.py predict` as a real process imports only what it needs and exits as before.

`predict` (with or without --explain) runs on the plain `TextPredictor`, which imports neither scikit-learn nor gensim.

Each check runs `python -X importtime cli.py ...` and reads the imported modules from stderr, so it holds whether
or not the process skips interpreter teardown (fast exit). No timings are asserted; benchmarks/startup.py has them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import invoke
from tests.conftest import NEGATIVE, POSITIVE
from textcnn import TextCNNClassifier

REPO_ROOT = Path(__file__).resolve().parent.parent
# ~1 s or more each to import; and jieba, which only a model with the jieba tokenizer needs
HEAVY = {"gensim", "sklearn", "scipy", "pandas", "matplotlib", "datasets", "jieba"}
TEXTS = ["a wonderful film", "a dull mess"]
FAST_EXIT_ON_AND_OFF = pytest.mark.parametrize("env", [{}, {"TEXTCNN_FAST_EXIT": "0"}], ids=["fast-exit", "off"])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny rand model trained on the 20-sentence corpus and saved."""
    clf = TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, epochs=2, seed=0)
    clf.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE))
    return clf.save(tmp_path_factory.mktemp("startup") / "run")


def _python(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, set[str], str]:
    """Run `python -X importtime ARGS` in the repo: (process, top-level packages imported, stderr without them)."""
    base = {k: v for k, v in os.environ.items() if k not in ("TEXTCNN_VECTORS", "TEXTCNN_FAST_EXIT")}
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=120)
    lines = proc.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines if line.startswith("import time:")}
    rest = "\n".join(line for line in lines if not line.startswith("import time:"))
    return proc, imported, rest


@FAST_EXIT_ON_AND_OFF
@pytest.mark.parametrize("options", [[], ["--json", "--top-k", "1"]], ids=["table", "json"])
def test_predict_process_prints_what_cli_runner_prints_without_heavy_imports(
    model_dir: Path, options: list[str], env: dict[str, str]
) -> None:
    stdout = _predict_process_matching_cli_runner(model_dir, options, env)
    assert len(stdout.splitlines()) == len(TEXTS)


@FAST_EXIT_ON_AND_OFF
@pytest.mark.parametrize("options", [["--explain"], ["--explain", "--json"]], ids=["table", "json"])
def test_predict_explain_process_prints_what_cli_runner_prints_without_heavy_imports(
    model_dir: Path, options: list[str], env: dict[str, str]
) -> None:
    stdout = _predict_process_matching_cli_runner(model_dir, options, env)
    if "--json" in options:
        assert [json.loads(line)["text"] for line in stdout.splitlines()] == TEXTS
    else:
        assert stdout.count("logit of ") == len(TEXTS)


def _predict_process_matching_cli_runner(model_dir: Path, options: list[str], env: dict[str, str]) -> str:
    """`cli.py predict` as a process: exit 0, nothing on stderr, CliRunner's stdout, torch but nothing heavy."""
    args = ["-q", "predict", "--model", str(model_dir), *options, *TEXTS]
    proc, imported, stderr = _python("cli.py", *args, env=env)
    assert proc.returncode == 0, stderr
    assert stderr == ""
    assert proc.stdout == invoke(args).stdout
    assert "torch" in imported  # the check sees the imports at all
    assert not imported & HEAVY, sorted(imported & HEAVY)
    return proc.stdout


@FAST_EXIT_ON_AND_OFF
def test_failing_predict_process_exits_2_with_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    proc, imported, stderr = _python("cli.py", "predict", "--model", str(tmp_path / "nope"), "a film", env=env)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert stderr.startswith("error: model directory") and "not found" in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert not imported & HEAVY, sorted(imported & HEAVY)


def test_predict_usage_error_keeps_clicks_exit_code() -> None:
    proc, _, stderr = _python("cli.py", "predict", "--top-k", "two", "a film")
    assert proc.returncode == 2
    assert "Invalid value for '--top-k'" in stderr


def test_help_imports_neither_torch_nor_heavy_packages() -> None:
    proc, imported, _ = _python("cli.py", "--help")
    assert proc.returncode == 0
    assert "predict" in proc.stdout
    assert not imported & (HEAVY | {"torch"}), sorted(imported & (HEAVY | {"torch"}))


def test_cli_runner_predict_never_skips_teardown(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_exit(code: int) -> None:
        raise AssertionError(f"os._exit({code}) inside CliRunner")

    monkeypatch.setattr(os, "_exit", no_exit)
    assert len(invoke(["predict", "--model", str(model_dir), *TEXTS]).stdout.splitlines()) == len(TEXTS)


# ---------------------------------------------------------------- scikit-learn in the library: the estimator only

_LIBRARY_CHECK = """
import pickle, sys
from textcnn.estimators.predictor import TextPredictor
predictor = TextPredictor.load(sys.argv[1])
predictor.predict(["a wonderful film"])
print("sklearn after predictor load and predict:", "sklearn" in sys.modules)
from textcnn.estimators.text import TextCNNClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
import sklearn.exceptions
from textcnn import NotFittedError, TextCNNError
clf = TextCNNClassifier.load(sys.argv[1])  # a real scikit-learn estimator from the start: nothing asked for first
print("estimator:", isinstance(clf, BaseEstimator), isinstance(clf, ClassifierMixin), is_classifier(clf))
print("requests:", callable(TextCNNClassifier.set_fit_request), callable(TextCNNClassifier.set_score_request))
params = clf.get_params()
print("clone:", clone(clf).get_params() == params, pickle.loads(pickle.dumps(clf)).get_params() == params)
print("same:", (clf.predict_proba(["a wonderful film"]) == predictor.predict_proba(["a wonderful film"])).all())
try:
    TextCNNClassifier().predict(["x"])
except sklearn.exceptions.NotFittedError as err:
    print("not fitted:", type(err) is NotFittedError, isinstance(err, TextCNNError))
"""


def test_library_predictor_needs_no_sklearn_and_the_estimator_is_a_sklearn_one_from_import(model_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _LIBRARY_CHECK, str(model_dir)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "sklearn after predictor load and predict: False",
        "estimator: True True True",
        "requests: True True",
        "clone: True True",
        "same: True",
        "not fitted: True True",
    ]
