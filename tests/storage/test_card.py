"""The model card every run directory carries."""

from __future__ import annotations

import json
import shlex
import sys

from tests.cli_helpers import invoke


def test_a_trained_job_run_has_a_card_with_labels_data_metrics_command_config_and_usage(tmp_path) -> None:
    invoke(["-q", "train", "--variant", "rand", "--embedding-dim", "8", "--n-filters", "4", "--epochs", "2",
            "--device", "cpu", "--out", str(tmp_path / "run")])
    card = (tmp_path / "run" / "README.md").read_text()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert card.startswith("---\nlibrary_name: textcnn\npipeline_tag: text-classification\n")
    assert "`negative`, `positive`" in card and "Source: the demo set" in card
    assert f"| test_acc | {metrics['test_acc']:.4f} |" in card
    assert shlex.join(sys.argv[1:]) in card  # the command line of the process that trained it
    assert '"variant": "rand"' in card and "from_pretrained" in card and "textcnn serve" not in card
    assert "python cli.py serve --model DIR" in card


def test_a_library_saved_multi_label_model_names_its_thresholds(tmp_path) -> None:
    from tests.estimators.test_multilabel import TINY, cued_corpus
    from textcnn.estimators.text import TextCNNClassifier

    texts, labels = cued_corpus(40, 0)
    clf = TextCNNClassifier(multi_label=True, threshold=0.4, **{**TINY, "epochs": 1})
    card = (clf.fit(texts, labels, dev=cued_corpus(10, 1)).save(tmp_path / "run") / "README.md").read_text()
    assert "- multi-label" in card and "Decision thresholds: art 0.400, politics 0.400, sports 0.400." in card
    assert "Saved by the library (no job.json)" in card and "## Metrics" not in card
