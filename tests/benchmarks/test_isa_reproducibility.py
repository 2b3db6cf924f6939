"""The instruction-set benchmark: fresh processes under one setting train identical weights; the table says which
runs match the default's."""

from pathlib import Path

import numpy as np

from benchmarks.isa_reproducibility import run_setting, table


def run(weights: str, dev_acc: float = 0.5) -> dict:
    return {"weights": weights, "dev_acc": dev_acc, "seconds": 1.0, "aten_capability": "AVX2"}


def test_the_table_groups_identical_weights_and_compares_each_run_with_the_default():
    rows = [("default", run("a" * 64)), ("other", run("b" * 64)), ("default, again", run("a" * 64))]
    lines = table(rows)
    assert [line.split("|")[4].strip()[0] for line in lines[2:]] == ["A", "B", "A"]
    assert [line.split("|")[5].strip() for line in lines[2:]] == ["yes", "no", "yes"]


def small_vectors(path: Path) -> Path:
    words = "the a film good bad great movie was is not".split()
    rows = np.random.default_rng(0).normal(size=(len(words), 8))
    lines = [f"{len(words)} 8"] + [w + " " + " ".join(f"{x:.5f}" for x in row) for w, row in zip(words, rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_fresh_processes_with_one_setting_train_the_same_weights(tmp_path):
    argv = ["--dataset", "demo", "--train-size", "60", "--epochs", "1", "--seed", "3",
            "--vectors", str(small_vectors(tmp_path / "vectors.txt"))]
    first, second = run_setting({}, argv), run_setting({}, argv)
    assert first["weights"] == second["weights"] and first["probabilities"] == second["probabilities"]
    assert 0.0 <= first["dev_acc"] <= 1.0


def test_the_machine_line_names_a_limit_set_on_the_instruction_set(monkeypatch):
    from benchmarks.common.machine import describe_machine

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in describe_machine()
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    assert "ONEDNN_MAX_CPU_ISA" not in describe_machine()
