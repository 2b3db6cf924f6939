import itertools
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import textcnn.jobs.text as text_jobs
import textcnn.training.loop as loop
from textcnn.base.errors import DataError, TrainingInterrupted
from textcnn.data.registry import load_named_dataset
from textcnn.jobs.text import DataSource, evaluate_run, format_evaluation, make_classifier, resume_run, train_run

SHARED = os.environ.get("TEXTCNN_DATA", "")
HAS_SST2 = bool(SHARED) and Path(SHARED, "sst2", "train.tsv").is_file()


def test_learning_on_the_demo_set_is_clearly_above_chance(tmp_path):
    source = DataSource()
    clf = make_classifier(source, variant="non-static", embedding_dim=50, seed=0, device="cpu", deterministic=True)
    summary = train_run(clf, DataSource(), tmp_path / "run")
    assert summary.metrics["test_acc"] >= 0.75  # two balanced classes: chance is 0.5
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test_acc"] == summary.metrics["test_acc"] and len(saved["history"]) == 25


def test_evaluate_reports_accuracy_f1_and_confusion(tmp_path):
    clf = make_classifier(DataSource(), variant="rand", embedding_dim=8, n_filters=4, epochs=2, device="cpu")
    train_run(clf, DataSource(), tmp_path / "run")
    metrics = evaluate_run(tmp_path / "run", DataSource(), "test")
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["macro_f1"] <= 1.0
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["examples"] == 16
    assert "confusion matrix" in format_evaluation(metrics) and "negative" in format_evaluation(metrics)


def test_a_failed_run_leaves_no_directory(tmp_path):
    clf = make_classifier(DataSource(), variant="static", vectors=str(tmp_path / "missing.txt"), device="cpu")
    with pytest.raises(Exception, match="missing.txt"):
        train_run(clf, DataSource(), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_registry_datasets_default_to_kims_tokenizer():
    assert make_classifier(DataSource("sst2")).tokenizer == "kim-sst"
    assert make_classifier(DataSource()).tokenizer == "unicode"
    assert make_classifier(DataSource("sst2"), tokenizer="unicode").tokenizer == "unicode"


def test_dataset_and_train_file_together_are_an_error():
    with pytest.raises(DataError, match="not both"):
        DataSource("sst2", "train.tsv").load()


def test_dev_file_without_train_file_is_an_error():
    with pytest.raises(DataError, match="need --train-file"):
        DataSource(dev_file="dev.tsv").load()


@pytest.mark.skipif(not HAS_SST2, reason="set TEXTCNN_DATA to a folder with sst2/ (e.g. ../shared/data)")
def test_learning_on_a_real_sst2_slice(tmp_path):
    glove = Path(SHARED, "glove", "glove.6B.50d.kim7.txt")
    splits = load_named_dataset("sst2")
    train, dev = splits["train"].subset(range(2000)), splits["dev"]
    clf = make_classifier(DataSource("sst2"), vectors=str(glove), epochs=4, device="cpu", seed=0)
    clf.fit(train.texts, [train.label_names[i] for i in train.labels],
            dev=(dev.texts, [dev.label_names[i] for i in dev.labels]), label_names=train.label_names)
    assert clf.fit_result_.best_dev_acc > 0.68  # 2,000 sentences, 4 epochs; majority class is 0.51


TINY = dict(variant="rand", embedding_dim=8, n_filters=4, epochs=2, device="cpu")
# what a finished unit directory holds: the best-dev model, its metrics and curve; no resume state, no claim
UNIT_FILES = ["README.md", "config.json", "labels.json", "metrics.json", "model.safetensors", "training_curve.png",
              "vocab.json"]


def test_n_seeds_trains_one_unit_per_seed_and_summarises(tmp_path):
    clf = make_classifier(DataSource(), seed=5, **TINY)
    summary = train_run(clf, DataSource(), tmp_path / "run", n_seeds=2)
    assert sorted(summary.metrics["units"]) == ["seed5", "seed6"]
    accs = [json.loads((tmp_path / "run" / u / "metrics.json").read_text())["test_acc"] for u in ("seed5", "seed6")]
    assert summary.metrics["test_acc_mean"] == pytest.approx(sum(accs) / 2)
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["test_acc_std"] == pytest.approx(summary.metrics["test_acc_std"])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["job.json", "seed5", "seed6", "summary.json"]
    assert all(sorted(p.name for p in (tmp_path / "run" / u).iterdir()) == UNIT_FILES for u in ("seed5", "seed6"))


def test_seed_units_of_an_ensemble_train_each_shared_member_once(tmp_path):
    clf = make_classifier(DataSource(), seed=5, ensemble=2, **TINY)
    summary = train_run(clf, DataSource(), tmp_path / "run", n_seeds=2)
    first, second = (json.loads((tmp_path / "run" / u / "metrics.json").read_text()) for u in ("seed5", "seed6"))
    assert [m["reused"] for m in first["ensemble"]] == [False, False]
    assert [m["reused"] for m in second["ensemble"]] == [True, False]  # seed 6: trained by unit seed5
    assert second["ensemble"][0] == {**first["ensemble"][1], "reused": True}
    assert second["reused_seconds"] > 0 and summary.metrics["units"]["seed6"]["reused_seconds"] > 0
    assert not (tmp_path / "run" / "members").exists()  # the store goes once every unit has finished


def test_cross_validation_trains_one_unit_per_fold(tmp_path):
    rows = [f"{i % 2}\t{'good great fine' if i % 2 else 'bad awful poor'} film {i}" for i in range(30)]
    (tmp_path / "all.tsv").write_text("\n".join(rows) + "\n")
    source = DataSource(train_file=str(tmp_path / "all.tsv"))
    summary = train_run(make_classifier(source, **TINY), source, tmp_path / "run", cv=3)
    assert sorted(summary.metrics["units"]) == ["fold00-seed0", "fold01-seed0", "fold02-seed0"]
    assert summary.metrics["protocol"] == "3-fold CV"
    units = [json.loads((tmp_path / "run" / u / "metrics.json").read_text()) for u in summary.metrics["units"]]
    assert [u["train_examples"] for u in units] == [18, 18, 18]  # each fold trains on 2/3 of 30 minus its 10% dev split


def test_every_run_writes_a_training_curve_and_evaluate_can_plot(tmp_path):
    train_run(make_classifier(DataSource(), **TINY), DataSource(), tmp_path / "run")
    assert (tmp_path / "run" / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    metrics = evaluate_run(tmp_path / "run", DataSource(), "test", plot=True)
    assert Path(metrics["plot"]).read_bytes()[:4] == b"\x89PNG"


def test_default_run_dir_and_latest_link(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = train_run(make_classifier(DataSource(), **TINY), DataSource(), n_seeds=2)
    assert summary.run_dir.parent == Path("runs") and summary.run_dir.name.startswith("demo-rand-")
    latest = Path("runs/latest").resolve()
    assert latest.parent == summary.run_dir.resolve() and (latest / "model.safetensors").is_file()


def stop_after_epoch(monkeypatch: pytest.MonkeyPatch, unit_dir: Path, epoch: int) -> None:
    """Stop training (as SIGTERM would) once the state of `unit_dir` after `epoch` epochs is committed."""
    save = loop.save_train_state

    def saving_then_stopping(folder, module, optimizer, generator, state, *args):
        save(folder, module, optimizer, generator, state, *args)
        if Path(folder).parent == unit_dir and state.epoch == epoch:
            raise TrainingInterrupted(f"stopped after epoch {epoch}")

    monkeypatch.setattr(loop, "save_train_state", saving_then_stopping)


@pytest.mark.parametrize(("n_seeds", "unit", "extra_files"), [(1, ".", ["job.json"]), (2, "seed6", [])])
def test_a_resumed_unit_counts_the_earlier_process_epochs_and_ends_with_the_same_files(
    n_seeds, unit, extra_files, tmp_path, monkeypatch
):
    run, unit_dir = tmp_path / "run", tmp_path / "run" / unit
    clf = make_classifier(DataSource(), seed=5, **dict(TINY, epochs=4))
    with monkeypatch.context() as patch:
        stop_after_epoch(patch, unit_dir, 2)
        with pytest.raises(TrainingInterrupted, match="--resume"):
            train_run(clf, DataSource(), run, n_seeds=n_seeds)
    state_file = unit_dir / "resume" / "state.json"
    state = json.loads(state_file.read_text())
    for record, seconds in zip(state["history"], (100.0, 200.0), strict=True):
        record["seconds"] = seconds  # the earlier process spent 300 s on its two epochs
    state_file.write_text(json.dumps(state))
    monkeypatch.setattr(text_jobs, "time", SimpleNamespace(perf_counter=itertools.count(0, 10).__next__))  # 10 s a fit

    summary = resume_run(run)
    metrics = json.loads((unit_dir / "metrics.json").read_text())
    assert [r["seconds"] for r in metrics["history"][:2]] == [100.0, 200.0] and len(metrics["history"]) == 4
    assert metrics["train_seconds"] == 310.0  # this process's 10 s and the earlier process's 300 s
    if n_seeds > 1:
        assert summary.metrics["units"]["seed6"]["train_seconds"] == 310.0
    assert sorted(p.name for p in unit_dir.iterdir()) == sorted(UNIT_FILES + extra_files)
