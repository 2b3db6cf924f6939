"""The resumable unit runner: one live process per unit, dead claims taken over, results skipped, honest seconds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEGATIVE, POSITIVE
from textcnn.base.errors import CheckpointError, TrainingInterrupted
from textcnn.estimators.text import TextCNNClassifier
from textcnn.jobs.units import CLAIM, JOURNAL, UnitState, claim_unit, release_unit, run_unit, run_units


def hold_claim(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLAIM).write_text(json.dumps({"pid": pid}))


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def write_resume_state(folder: Path, seconds: list[float]) -> None:
    (folder / "resume").mkdir(parents=True)
    (folder / "resume" / "state.json").write_text(json.dumps({"history": [{"seconds": s} for s in seconds]}))


class Trainer:
    """A unit's train function that records the states it was called with and what the claim file said."""

    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds, self.states, self.claims = seconds, [], []

    def __call__(self, state: UnitState) -> dict:
        self.states.append(state)
        self.claims.append(json.loads((state.folder / CLAIM).read_text())["pid"])
        (state.folder / "config.json").write_text("{}")  # as the estimators write before training
        return {"test_acc": 0.5, "train_seconds": self.seconds}


def test_a_fresh_unit_is_claimed_trained_and_its_scratch_folder_dropped(tmp_path):
    train, result, folder = Trainer(), tmp_path / "results" / "seed0.json", tmp_path / "states" / "seed0"
    metrics = run_unit(result, folder, train)
    assert train.claims == [os.getpid()] and not train.states[0].resume and train.states[0].earlier_seconds == 0
    assert json.loads(result.read_text()) == metrics == {"test_acc": 0.5, "train_seconds": 3.0}
    assert not folder.exists()  # the state folder was scratch: nothing is left of it


def test_a_finished_unit_is_read_back_without_training_or_claiming(tmp_path):
    result, folder, train = tmp_path / "seed0.json", tmp_path / "states" / "seed0", Trainer()
    result.write_text(json.dumps({"test_acc": 0.9}))
    assert run_unit(result, folder, train) == {"test_acc": 0.9}
    assert train.states == [] and not folder.exists()


def test_a_unit_held_by_a_live_process_is_skipped_or_refused(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        folder, train = tmp_path / "states" / "seed1", Trainer()
        hold_claim(folder, other.pid)
        assert run_unit(tmp_path / "seed1.json", folder, train) is None
        with pytest.raises(CheckpointError, match=f"being trained by process {other.pid}"):
            run_unit(tmp_path / "seed1.json", folder, train, skip_held=False)
        assert train.states == [] and json.loads((folder / CLAIM).read_text())["pid"] == other.pid
    finally:
        other.kill()
        other.wait()


def test_a_dead_process_claim_is_taken_over(tmp_path):
    folder, train = tmp_path / "states" / "seed2", Trainer()
    hold_claim(folder, dead_pid())
    assert run_unit(tmp_path / "seed2.json", folder, train) is not None
    assert train.claims == [os.getpid()]


def test_an_unreadable_claim_is_taken_over(tmp_path):
    folder = tmp_path / "states" / "seed3"
    folder.mkdir(parents=True)
    (folder / CLAIM).write_text("{half")
    assert claim_unit(folder) == os.getpid()
    assert claim_unit(folder) == os.getpid()  # our own claim holds


def test_release_leaves_another_process_claim_alone(tmp_path):
    folder = tmp_path / "states" / "seed4"
    hold_claim(folder, dead_pid())
    release_unit(folder)
    assert (folder / CLAIM).exists()
    folder = tmp_path / "states" / "seed5"
    claim_unit(folder)
    release_unit(folder)
    assert not (folder / CLAIM).exists()


def test_earlier_seconds_are_summed_from_the_resume_state_and_added_to_the_result(tmp_path):
    folder = tmp_path / "states" / "seed6"
    write_resume_state(folder, [1.5, 2.25])
    assert UnitState.read(folder) == UnitState(folder, True, 3.75)
    assert UnitState.read(folder, resume=False) == UnitState(folder, False, 0)
    train = Trainer(seconds=10.0)
    metrics = run_unit(tmp_path / "seed6.json", folder, train)
    assert train.states[0].resume and metrics["train_seconds"] == 13.75
    assert json.loads((tmp_path / "seed6.json").read_text())["train_seconds"] == 13.75


def test_an_ensemble_cut_off_in_a_later_member_counts_every_member_s_epochs(tmp_path):
    """A unit stopped in ensemble member 1 resumes with the seconds of member 0's and member 1's epochs."""
    epochs = []

    def stop_in_member_1(record) -> None:  # called once the epoch's state is saved
        epochs.append(record)
        if len(epochs) == 3 + 2:
            raise TrainingInterrupted("stopped in member 1 after epoch 2")

    clf = TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, filter_sizes=(1, 2), epochs=3,
                            batch_size=10, device="cpu", ensemble=3)
    with pytest.raises(TrainingInterrupted):
        clf.fit(POSITIVE + NEGATIVE, ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE),
                checkpoint_dir=tmp_path / "seed0", on_epoch=stop_in_member_1)
    assert UnitState.read(tmp_path / "seed0").earlier_seconds == pytest.approx(sum(e.seconds for e in epochs))


def test_the_seconds_key_names_the_field_that_gets_the_earlier_seconds(tmp_path):
    folder = tmp_path / "states" / "seed7"
    write_resume_state(folder, [4.0])

    def train(state: UnitState) -> dict:
        return {"train_seconds": 1.0, "wall_seconds": 2.0}

    assert run_unit(tmp_path / "seed7.json", folder, train, seconds_key="wall_seconds") == {
        "train_seconds": 1.0, "wall_seconds": 6.0}


def test_a_run_directory_keeps_its_files_but_loses_resume_state_and_claim(tmp_path):
    unit_dir = tmp_path / "run" / "seed0"
    write_resume_state(unit_dir, [1.0])
    run_unit(unit_dir / "metrics.json", unit_dir, Trainer())
    assert sorted(p.name for p in unit_dir.iterdir()) == ["config.json", "metrics.json"]


def test_a_failed_unit_keeps_a_resume_state_for_the_next_process_and_drops_its_claim(tmp_path):
    def failing(state: UnitState) -> dict:
        raise KeyboardInterrupt

    resumable, fresh = tmp_path / "states" / "resumable", tmp_path / "states" / "fresh"
    write_resume_state(resumable, [1.0])
    for folder in (resumable, fresh):
        with pytest.raises(KeyboardInterrupt):
            run_unit(tmp_path / f"{folder.name}.json", folder, failing)
    assert sorted(p.name for p in resumable.iterdir()) == ["resume"]  # claim released, state kept
    assert not fresh.exists()  # nothing to resume: nothing left behind


def test_a_unit_that_fails_during_its_search_keeps_the_finished_trials(tmp_path):
    def failing(state: UnitState) -> dict:
        (state.folder / JOURNAL).write_text("trials so far")
        raise KeyboardInterrupt

    folder = tmp_path / "states" / "searching"
    with pytest.raises(KeyboardInterrupt):
        run_unit(tmp_path / "searching.json", folder, failing)
    assert sorted(p.name for p in folder.iterdir()) == [JOURNAL]


def test_a_fresh_start_ignores_an_earlier_result_and_resume_state(tmp_path):
    result, folder, train = tmp_path / "run" / "metrics.json", tmp_path / "run", Trainer()
    write_resume_state(folder, [5.0])
    result.write_text(json.dumps({"test_acc": 0.1}))
    assert run_unit(result, folder, train, resume=False)["train_seconds"] == 3.0
    assert not train.states[0].resume and json.loads(result.read_text())["test_acc"] == 0.5


def test_a_non_primary_rank_trains_but_claims_and_writes_nothing(tmp_path):
    folder, result = tmp_path / "states" / "seed0", tmp_path / "seed0.json"
    folder.mkdir(parents=True)

    def train(state: UnitState) -> dict:
        assert not (state.folder / CLAIM).exists()
        return {"train_seconds": 1.0}

    assert run_unit(result, folder, train, primary=False) == {"train_seconds": 1.0}
    assert not result.exists() and folder.is_dir()


def test_run_units_returns_finished_units_and_leaves_out_held_ones(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        hold_claim(tmp_path / "states" / "b", other.pid)
        (tmp_path / "a.json").write_text(json.dumps({"test_acc": 0.7}))
        trained = []

        def train(unit: str, state: UnitState) -> dict:
            trained.append(unit)
            return {"train_seconds": 1.0}

        done = run_units(["a", "b", "c"], train, result=lambda u: tmp_path / f"{u}.json",
                         folder=lambda u: tmp_path / "states" / u)
        assert done == {"a": {"test_acc": 0.7}, "c": {"train_seconds": 1.0}} and trained == ["c"]
    finally:
        other.kill()
        other.wait()
