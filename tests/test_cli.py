"""The `textcnn` command line through CliRunner: exit codes, messages, no tracebacks.

One tiny model is trained per module (`trained` fixture) and reused; every other run is a dry run or fails early.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import Result

import textcnn.data.registry
from tests.cli_helpers import fails, invoke

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY = ["--variant", "rand", "--embedding-dim", "8", "--n-filters", "4", "--epochs", "2"]
RUN_FILES = ("model.safetensors", "config.json", "vocab.json", "labels.json", "metrics.json", "training_curve.png",
             "job.json", "README.md")
DEMO_LABELS = ["negative", "positive"]

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is absent")




@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """A tiny model trained once on the demo set with the kim tokenizer: (run dir, train result)."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = invoke(["train", *TINY, "--tokenizer", "kim", "--out", str(run_dir)])
    return run_dir, result


@pytest.fixture
def model_dir(trained: tuple[Path, Result]) -> Path:
    return trained[0]


# ---------------------------------------------------------------- train


def test_train_writes_a_run_directory(trained: tuple[Path, Result]) -> None:
    run_dir, result = trained
    assert f"saved {run_dir}" in result.stdout
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["test_acc"] <= 1.0
    assert len(metrics["history"]) == 2
    assert json.loads((run_dir / "labels.json").read_text()) == DEMO_LABELS
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["test_acc"] == metrics["test_acc"]


def test_train_into_existing_dir_needs_force(model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(model_dir, run_dir)
    weights = run_dir / "model.safetensors"
    before = (weights.read_bytes(), weights.stat().st_mtime_ns)

    fails(["train", *TINY, "--out", str(run_dir)], r"--force", r"already exists")
    assert (weights.read_bytes(), weights.stat().st_mtime_ns) == before
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)

    result = invoke(["train", *TINY, "--dry-run", "--force", "--out", str(run_dir)])
    assert f"saved {run_dir}" in result.stdout
    assert weights.stat().st_mtime_ns != before[1]


def test_train_default_run_dir_and_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["train", *TINY, "--dry-run"])
    runs = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1
    assert re.fullmatch(r"demo-rand-\d{8}-\d{6}", runs[0].name)
    assert f"saved {Path('runs') / runs[0].name}" in result.stdout
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == runs[0].resolve()

    result = invoke(["predict", "a wonderful film"])  # --model defaults to runs/latest
    assert result.stdout.split("\t")[0] in DEMO_LABELS


def test_train_dry_run_is_one_epoch(tmp_path: Path) -> None:
    run_dir = tmp_path / "dry"
    invoke(["train", *TINY, "--dry-run", "--out", str(run_dir)])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]) == 1


# ---------------------------------------------------------------- predict


def test_predict_human_output(model_dir: Path) -> None:
    result = invoke(["predict", "--model", str(model_dir), "a wonderful film", "a dull mess"])
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["a wonderful film", "a dull mess"]):
        label, prob, echoed, _ = line.split("\t")
        assert label in DEMO_LABELS
        assert 0.5 <= float(prob) <= 1.0
        assert echoed == text


def test_predict_json(model_dir: Path) -> None:
    result = invoke(["predict", "--model", str(model_dir), "--json", "a wonderful film", "a dull mess"])
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["a wonderful film", "a dull mess"]
    for record in records:
        assert record["label"] in DEMO_LABELS
        assert set(record["probabilities"]) == set(DEMO_LABELS)
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert record["probability"] == max(record["probabilities"].values())


def test_predict_top_k(model_dir: Path) -> None:
    result = invoke(["predict", "--model", str(model_dir), "--json", "--top-k", "1", "a wonderful film"])
    record = json.loads(result.stdout)
    assert list(record["probabilities"]) == [record["label"]]


def test_predict_reads_stdin_skipping_blank_lines(model_dir: Path) -> None:
    result = invoke(["predict", "--model", str(model_dir), "--json", "-"],
                    input="a wonderful film\n\n   \na dull mess\n")
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["a wonderful film", "a dull mess"]


def test_predict_reads_a_file(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("a wonderful film\n\na dull mess\nloved it\n", encoding="utf-8")
    result = invoke(["predict", "--model", str(model_dir), "--json", "--file", str(path)])
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["a wonderful film", "a dull mess", "loved it"]


def test_predict_non_utf8_file(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("un film génial\n".encode("latin-1"))
    fails(["predict", "--model", str(model_dir), "--file", str(path)], r"UTF-8")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_predict_empty_text(model_dir: Path, text: str) -> None:
    fails(["predict", "--model", str(model_dir), "a fine film", text], r"empty")


def test_predict_no_texts(model_dir: Path) -> None:
    fails(["predict", "--model", str(model_dir)], r"no text")


def test_predict_blank_stdin(model_dir: Path) -> None:
    fails(["predict", "--model", str(model_dir), "-"], r"no non-blank lines", input="\n  \n")


def test_predict_file_and_texts_together(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("a wonderful film\n", encoding="utf-8")
    fails(["predict", "--model", str(model_dir), "--file", str(path), "a dull mess"], r"not both")


def test_predict_stdin_dash_and_texts_together(model_dir: Path) -> None:
    fails(["predict", "--model", str(model_dir), "-", "a dull mess"], r"not both", input="a wonderful film\n")


def test_predict_text_without_tokens_warns(model_dir: Path) -> None:
    with pytest.warns(UserWarning, match="no tokens under the 'kim' tokenizer"):
        result = invoke(["predict", "--model", str(model_dir), "--json", "😀🎉", "a wonderful film"])
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert records[0]["text"] == "😀🎉"
    assert records[0]["label"] in DEMO_LABELS
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- evaluate


@pytest.fixture
def labelled_tsv(tmp_path: Path) -> tuple[Path, int]:
    rows = ["1\ta wonderful , moving film", "0\ta boring , awful film", "1\ti loved it",
            "0\ti hated the dull plot", "1\tbrilliant and funny"]
    path = tmp_path / "test.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path, len(rows)


def test_evaluate_human_output(model_dir: Path, labelled_tsv: tuple[Path, int]) -> None:
    path, n = labelled_tsv
    out = invoke(["evaluate", "--model", str(model_dir), "--file", str(path)]).stdout
    assert f"{n} examples" in out
    assert re.search(r"^accuracy\s+[01]\.\d{4}$", out, re.M)
    assert re.search(r"^macro-F1\s+[01]\.\d{4}$", out, re.M)
    assert "confusion matrix" in out
    assert re.search(r"^negative\s+\d+\s+\d+$", out, re.M)
    assert re.search(r"^positive\s+\d+\s+\d+$", out, re.M)


def test_evaluate_json(model_dir: Path, labelled_tsv: tuple[Path, int]) -> None:
    path, n = labelled_tsv
    metrics = json.loads(invoke(["evaluate", "--model", str(model_dir), "--file", str(path), "--json"]).stdout)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert metrics["labels"] == DEMO_LABELS
    matrix = metrics["confusion_matrix"]
    assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
    assert sum(map(sum, matrix)) == n == metrics["examples"]
    assert sum(matrix[0]) == 2 and sum(matrix[1]) == 3  # rows are the true labels 0 (negative), 1 (positive)


def test_evaluate_labels_not_in_model(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "other.tsv"
    path.write_text("spam\tbuy now\nham\thello there\n", encoding="utf-8")
    fails(["evaluate", "--model", str(model_dir), "--file", str(path)], r"not among the model's classes")


# ---------------------------------------------------------------- bad inputs


def test_unknown_dataset() -> None:
    fails(["train", *TINY, "--dataset", "nope"], r'unknown dataset "nope"', r"sst2")


def test_named_dataset_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("TEXTCNN_DATA", str(tmp_path / "data"))

    def offline(spec):
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(textcnn.data.registry, "_load_hub", offline)
    fails(["train", *TINY, "--dataset", "sst2"], r'dataset "sst2" not found', r"TEXTCNN_DATA", r"ConnectionError")
    assert not (tmp_path / "cwd" / "runs").exists()


def test_missing_train_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tsv"
    fails(["train", *TINY, "--train-file", str(missing), "--out", str(tmp_path / "run")],
          r"file not found", re.escape(str(missing)))
    assert not (tmp_path / "run").exists()


def test_missing_vectors_file(tmp_path: Path) -> None:
    missing = tmp_path / "vectors.txt"
    fails(["train", "--variant", "static", "--vectors", str(missing), "--epochs", "1", "--n-filters", "4",
           "--out", str(tmp_path / "run")], r"word-vectors file not found", re.escape(str(missing)))
    assert not (tmp_path / "run").exists()


def test_garbage_vectors_file(tmp_path: Path) -> None:
    garbage = tmp_path / "vectors.txt"
    garbage.write_text("lorem ipsum dolor sit amet\nconsectetur adipiscing elit sed do\n", encoding="utf-8")
    fails(["train", "--variant", "static", "--vectors", str(garbage), "--epochs", "1", "--n-filters", "4",
           "--out", str(tmp_path / "run")], re.escape(str(garbage)), r"not a vectors file")
    assert not (tmp_path / "run").exists()


def test_predict_missing_model_dir(tmp_path: Path) -> None:
    fails(["predict", "--model", str(tmp_path / "nope"), "a film"], r"not found", r"textcnn train")


def test_corrupt_weights(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"this is not a safetensors file at all" * 4)
    fails(["predict", "--model", str(broken), "a film"], r"corrupt", r"model\.safetensors")


def test_filter_size_out_of_range(tmp_path: Path) -> None:
    fails(["train", *TINY, "--filter-sizes", "3,9", "--out", str(tmp_path / "run")], r"1 to 5", r"\(3, 9\)")
    assert not (tmp_path / "run").exists()


def test_filter_sizes_not_integers() -> None:
    result = invoke(["train", *TINY, "--filter-sizes", "a,b"], code=2)
    assert "--filter-sizes" in result.stderr
    assert "comma-separated integers" in result.stderr


@no_cuda
@pytest.mark.parametrize("command", ["train", "predict"])
def test_cuda_without_gpu(model_dir: Path, tmp_path: Path, command: str) -> None:
    if command == "train":
        args = ["train", *TINY, "--device", "cuda", "--out", str(tmp_path / "run")]
    else:
        args = ["predict", "--model", str(model_dir), "--device", "cuda", "a film"]
    fails(args, r"no CUDA")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("command", [[], ["train"], ["predict"], ["evaluate"]])
def test_help_has_examples(command: list[str]) -> None:
    result = invoke([*command, "--help"])
    assert "Example" in result.stdout


# ---------------------------------------------------------------- a real process


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TEXTCNN_VECTORS"}
    return subprocess.run([sys.executable, "cli.py", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=env, timeout=120)


def test_subprocess_predict(model_dir: Path) -> None:
    proc = _run_cli("predict", "--model", str(model_dir), "a wonderful film")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\t")[0] in DEMO_LABELS
    assert "Traceback" not in proc.stderr


def test_subprocess_bad_input() -> None:
    proc = _run_cli("predict", "--model", "/nonexistent", "x")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
