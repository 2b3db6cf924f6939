"""The benchmark scripts' unit claims: one live process per unit, dead claims taken over, results skipped."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import unit_state  # noqa: E402
from unit_state import CLAIM, UnitState  # noqa: E402


@pytest.fixture(autouse=True)
def states_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(unit_state, "STATES", tmp_path / "states")


def hold_claim(tmp_path: Path, name: str, pid: int) -> None:
    folder = tmp_path / "states" / name
    folder.mkdir(parents=True)
    (folder / CLAIM).write_text(json.dumps({"pid": pid}))


def test_a_fresh_unit_is_claimed_without_resume_state(tmp_path):
    state = UnitState.claim("cell/seed0", result=tmp_path / "seed0.json")
    assert state is not None and not state.resume and state.earlier_seconds == 0
    assert json.loads((state.folder / CLAIM).read_text())["pid"] > 0
    assert UnitState.claim("cell/seed0", result=tmp_path / "seed0.json") is not None  # our own claim


def test_a_unit_with_a_result_is_not_claimed(tmp_path):
    result = tmp_path / "seed0.json"
    result.write_text("{}")
    assert UnitState.claim("cell/seed0", result=result) is None
    assert not (tmp_path / "states" / "cell" / "seed0").exists()


def test_a_unit_held_by_a_live_process_is_skipped(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        hold_claim(tmp_path, "cell/seed1", other.pid)
        assert UnitState.claim("cell/seed1", result=tmp_path / "seed1.json") is None
    finally:
        other.kill()
        other.wait()


def test_a_dead_process_claim_is_taken_over(tmp_path):
    other = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    hold_claim(tmp_path, "cell/seed2", int(other.stdout))
    state = UnitState.claim("cell/seed2", result=tmp_path / "seed2.json")
    assert state is not None
    assert json.loads((state.folder / CLAIM).read_text())["pid"] != int(other.stdout)


def test_an_unreadable_claim_is_taken_over(tmp_path):
    folder = tmp_path / "states" / "cell" / "seed3"
    folder.mkdir(parents=True)
    (folder / CLAIM).write_text("{half")
    assert UnitState.claim("cell/seed3", result=tmp_path / "seed3.json") is not None


def test_finish_drops_the_state_and_the_claim(tmp_path):
    state = UnitState.claim("cell/seed4", result=tmp_path / "seed4.json")
    state.finish()
    assert not state.folder.exists()
