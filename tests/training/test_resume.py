"""Kill-and-resume: a run killed (SIGKILL) or stopped (SIGTERM) mid-training and resumed ends bit-identical
to an uninterrupted run in deterministic CPU mode. Each run is a real `textcnn train` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from textcnn.cli import main

# demo set, rand variant, tiny dims; batch 10 → 6 steps per epoch
ARGS = ["--variant", "rand", "--embedding-dim", "8", "--n-filters", "4", "--epochs", "4", "--batch-size", "10",
        "--optimizer", "adam", "--lr", "0.01", "--deterministic", "--device", "cpu"]

# Harnesses that inject the fault at a precise point (no test hook lives in the library).
KILL_WHILE_COMMITTING_EPOCH_3 = """
import os, signal, textcnn.training.resume as r
write_json = r.write_json
def dying_write_json(path, obj):
    if path.name == "state.json" and obj.get("epoch") == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # every tensor of epoch 3 is on disk, its commit is not
    write_json(path, obj)
r.write_json = dying_write_json
"""
SIGTERM_IN_EPOCH_2 = """
import os, signal, textcnn.training.loop as t
constrain, calls = t._apply_constraints, [0]
def signalling_constraints(module):
    calls[0] += 1
    if calls[0] == 9:  # step 3 of epoch 2
        os.kill(os.getpid(), signal.SIGTERM)
    constrain(module)
t._apply_constraints = signalling_constraints
"""


def textcnn(args: list[str], cwd: Path, harness: str = "") -> subprocess.CompletedProcess:
    code = f"{harness}\nfrom textcnn.cli import main\nmain({args!r}, prog_name='textcnn')"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("resume")
    result = textcnn(["-q", "train", *ARGS, "--out", "run"], cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "run"


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ha, hb = (json.loads((d / "metrics.json").read_text())["history"] for d in (a, b))
    assert [(h["loss"], h["train_acc"], h["dev_acc"]) for h in ha] == [(h["loss"], h["train_acc"], h["dev_acc"])
                                                                       for h in hb]
    assert len(ha) == 4
    assert not (b / "resume").exists()  # a finished run keeps only its best-dev model


def test_sigkill_while_saving_then_resume_equals_an_uninterrupted_run(uninterrupted: Path, tmp_path: Path) -> None:
    killed = textcnn(["-q", "train", *ARGS, "--out", "run"], tmp_path, KILL_WHILE_COMMITTING_EPOCH_3)
    assert killed.returncode == -9
    state = json.loads((tmp_path / "run" / "resume" / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2  # the half-saved epoch 3 is not in force

    resumed = textcnn(["-q", "train", "--resume", "run"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(uninterrupted, tmp_path / "run")


def test_sigterm_finishes_the_step_exits_cleanly_and_resumes(uninterrupted: Path, tmp_path: Path) -> None:
    stopped = textcnn(["-q", "train", *ARGS, "--out", "run"], tmp_path, SIGTERM_IN_EPOCH_2)
    assert stopped.returncode == 2
    assert "Traceback" not in stopped.stderr
    [line] = stopped.stderr.strip().splitlines()
    assert line.startswith("error: training stopped by SIGTERM after step 3 of epoch 2")
    assert line.endswith("continue with: textcnn train --resume run")
    assert json.loads((tmp_path / "run" / "resume" / "state.json").read_text())["epoch"] == 1

    resumed = textcnn(["-q", "train", "--resume", "run"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(uninterrupted, tmp_path / "run")


def test_resuming_a_finished_or_foreign_directory_is_refused(uninterrupted: Path, tmp_path: Path) -> None:
    for target, message in ((uninterrupted, "nothing to resume"), (tmp_path / "nowhere", "job.json is missing")):
        result = CliRunner().invoke(main, ["-q", "train", "--resume", str(target)])
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output



def _lrs(run: Path) -> list[float]:
    return [h["lr"] for h in json.loads((run / "metrics.json").read_text())["history"]]


# plateau at lr 0.003: dev stays level, so the cut after epoch 3 needs the bad-epoch count saved after epoch 2
@pytest.mark.parametrize("schedule", [["--lr-schedule", "cosine"],
                                      ["--lr", "0.003", "--lr-schedule", "plateau", "--lr-patience", "2"]])
def test_a_learning_rate_schedule_resumes_bit_identical(schedule: list[str], tmp_path: Path) -> None:
    straight = textcnn(["-q", "train", *ARGS, *schedule, "--out", "straight"], tmp_path)
    assert straight.returncode == 0, straight.stderr
    assert _lrs(tmp_path / "straight")[3] < _lrs(tmp_path / "straight")[2]  # the schedule acts after the kill point

    killed = textcnn(["-q", "train", *ARGS, *schedule, "--out", "run"], tmp_path, KILL_WHILE_COMMITTING_EPOCH_3)
    assert killed.returncode == -9
    resumed = textcnn(["-q", "train", "--resume", "run"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(tmp_path / "straight", tmp_path / "run")
    assert _lrs(tmp_path / "run") == _lrs(tmp_path / "straight")
