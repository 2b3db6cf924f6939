"""`textcnn train --multi-label`, predict and evaluate on multi-label files, and the per-class report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import classification_report, hamming_loss

from tests.cli_helpers import fails, invoke
from tests.estimators.test_multilabel import cued_corpus
from textcnn.analysis.metrics import classification_metrics

TINY = ["--variant", "rand", "--embedding-dim", "12", "--n-filters", "8", "--filter-sizes", "1,2", "--epochs", "8",
        "--batch-size", "10", "--optimizer", "adam", "--lr", "0.02", "--device", "cpu"]


def write_jsonl(path, n: int, seed: int) -> str:
    texts, labels = cued_corpus(n, seed)
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    return str(path)


def write_tsv(path, n: int, seed: int) -> str:
    texts, labels = cued_corpus(n, seed)
    path.write_text("label\ttext\n" + "".join(f"{'|'.join(y)}\t{t}\n" for t, y in zip(texts, labels)))
    return str(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multilabel")
    files = [write_jsonl(folder / f"{name}.jsonl", n, seed) for name, n, seed in
             (("train", 160, 0), ("dev", 40, 1), ("test", 60, 2))]
    invoke(["-q", "train", "--multi-label", "--threshold", "tune", "--train-file", files[0], "--dev-file", files[1],
            "--test-file", files[2], *TINY, "--out", str(folder / "run")])
    return folder


def test_training_writes_multi_label_metrics_and_tuned_thresholds(run) -> None:
    metrics = json.loads((run / "run" / "metrics.json").read_text())
    assert metrics["dev_metric"] == "micro-f1" and metrics["test_micro_f1"] > 0.9
    config = json.loads((run / "run" / "config.json").read_text())
    assert config["train"]["multi_label"] is True and config["train"]["threshold"] == "tune"
    assert config["trained"]["thresholds"] == metrics["thresholds"] and len(metrics["thresholds"]) == 3


def test_predict_prints_every_label_above_its_threshold(run) -> None:
    model = ["--model", str(run / "run")]
    line = invoke(["predict", *model, "goal vote today"]).stdout.strip()
    chosen = line.split("\t")[0]
    assert "sports" in chosen and "politics" in chosen and "art" not in chosen
    record = json.loads(invoke(["predict", *model, "--json", "goal vote today"]).stdout)
    assert sorted(record["labels"]) == ["politics", "sports"]
    explained = json.loads(invoke(["predict", *model, "--json", "--explain", "goal vote today"]).stdout)
    assert [e["label"] for e in explained["explanations"]] == explained["labels"]
    assert "(no label" in invoke(["predict", *model, "the news today"]).stdout


def test_evaluate_gives_the_per_class_report_of_scikit_learn(run) -> None:
    out = invoke(["evaluate", "--model", str(run / "run"), "--file", str(run / "test.jsonl"), "--json"]).stdout
    metrics = json.loads(out)
    assert metrics["multi_label"] and set(metrics["per_class"]) == {"art", "politics", "sports"}
    assert {"precision", "recall", "f1", "support", "roc_auc"} == set(metrics["per_class"]["art"])
    assert 0.0 <= metrics["hamming_loss"] <= 1.0 and "confusion_matrix" not in metrics
    saved = json.loads((run / "run" / "evaluation_test_train.json").read_text())  # source "test" (the file), split
    assert saved["per_class"] == metrics["per_class"] and metrics["report"].endswith("evaluation_test_train.json")
    text = invoke(["evaluate", "--model", str(run / "run"), "--file", str(run / "test.jsonl")]).stdout
    assert "subset accuracy" in text and "Hamming loss" in text and "roc-auc" in text


def test_a_tsv_with_a_label_separator_trains(tmp_path) -> None:
    train = write_tsv(tmp_path / "train.tsv", 60, 0)
    invoke(["-q", "train", "--multi-label", "--label-sep", "|", "--train-file", train, *TINY, "--epochs", "1",
            "--out", str(tmp_path / "run")])
    assert json.loads((tmp_path / "run" / "labels.json").read_text()) == ["art", "politics", "sports"]


def test_bad_multi_label_requests_are_one_line_errors(run, tmp_path) -> None:
    train = str(run / "train.jsonl")
    fails(["train", "--train-file", train, *TINY], "--multi-label")
    fails(["train", "--multi-label", "--train-file", write_tsv(tmp_path / "t.tsv", 20, 0), *TINY], "--label-sep")
    fails(["train", "--threshold", "0.3", "--train-file", str(run / "train.jsonl"), *TINY], "multi-label")
    assert "give a probability in (0, 1)" in invoke(["train", "--multi-label", "--threshold", "1.5"], code=2).stderr
    fails(["train", "--multi-label", *TINY], "single-label", "drop --multi-label")  # the demo set
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"text": "chess today", "label": ["chess"]}) + "\n")
    fails(["evaluate", "--model", str(run / "run"), "--file", str(other)], "chess")


def test_the_report_matches_scikit_learns_for_single_label_data() -> None:
    rng = np.random.default_rng(0)
    y_true, probs = rng.integers(0, 3, 50), rng.dirichlet(np.ones(3), 50)
    y_pred = probs.argmax(axis=1)
    metrics = classification_metrics(y_true, y_pred, probs, ["a", "b", "c"])
    expected = classification_report(y_true, y_pred, target_names=["a", "b", "c"], output_dict=True)
    for name in "abc":
        assert metrics["per_class"][name]["f1"] == pytest.approx(expected[name]["f1-score"])
        assert metrics["per_class"][name]["support"] == expected[name]["support"]
    assert metrics["macro_f1"] == pytest.approx(expected["macro avg"]["f1-score"])
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"]) and len(metrics["confusion_matrix"]) == 3


def test_roc_auc_is_none_where_a_class_never_or_always_occurs() -> None:
    y_true = np.array([[1, 0], [1, 1], [1, 0]])
    probs = np.array([[0.9, 0.2], [0.8, 0.7], [0.6, 0.1]])
    metrics = classification_metrics(y_true, (probs >= 0.5).astype(int), probs, ["always", "sometimes"])
    assert metrics["per_class"]["always"]["roc_auc"] is None
    assert metrics["per_class"]["sometimes"]["roc_auc"] == 1.0 == metrics["macro_roc_auc"]
    assert metrics["hamming_loss"] == pytest.approx(hamming_loss(y_true, (probs >= 0.5).astype(int)))
