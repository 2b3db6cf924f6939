"""DDP through torchrun: a 2-process gloo run on CPU equals a 1-process run with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from textcnn.base.errors import TextCNNError
from textcnn.data.batches import Batch
from textcnn.training import distributed
from textcnn.training.distributed import RankBatches, RankSlice

CLI = str(Path(__file__).resolve().parents[2] / "cli.py")
# demo set (60 training sentences), batch 20 → 3 global steps per epoch; dropout 0 so both runs see the same net
ARGS = ["-q", "train", "--variant", "rand", "--embedding-dim", "8", "--n-filters", "4", "--epochs", "2",
        "--batch-size", "20", "--dropout", "0", "--deterministic", "--device", "cpu"]


class Numbered:
    """Global batches of 5 consecutive example numbers (a stand-in for bucketed batches)."""

    def __len__(self) -> int:
        return 3

    def epoch(self, generator):
        for start in (0, 5, 10):
            index = torch.arange(start, start + 5)
            yield Batch(index, (index * 10,), index % 2)


def test_rank_slices_are_disjoint_cover_each_batch_and_keep_rows_aligned():
    shards = [list(RankSlice(Numbered(), rank, 2).epoch(None)) for rank in range(2)]
    assert [len(s) for s in shards] == [3, 3]  # same step count on every rank
    for step in range(3):
        a, b = shards[0][step], shards[1][step]
        assert sorted(a.index.tolist() + b.index.tolist()) == list(range(step * 5, step * 5 + 5))
        assert a.global_size == b.global_size == 5
        for part in (a, b):
            assert torch.equal(part.inputs[0], part.index * 10) and torch.equal(part.labels, part.index % 2)
    dealt = [[b.index[0].item() for b in RankBatches(Numbered(), rank, 2).epoch(None)] for rank in range(2)]
    assert dealt == [[0, 10], [5]]


def test_world_without_torchrun_is_one_process_and_start_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.world() == (0, 1) and distributed.is_primary()
    assert distributed.start() == (0, 1)
    assert not dist.is_initialized()


def test_querying_the_world_under_torchrun_starts_nothing(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it, but no process group was started
    with pytest.raises(TextCNNError, match=r"WORLD_SIZE=2\) but no process group is running; call "
                                           r"textcnn\.training\.distributed\.start\(\)"):
        distributed.world()
    with pytest.raises(TextCNNError, match="no process group"):
        distributed.is_primary()
    assert not dist.is_initialized()  # the query did not start one as a side effect


def test_two_gloo_ranks_match_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", CLI, *ARGS,
         "--out", "ddp"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("saved ddp") == 1  # only rank 0 reports and writes
    # DDP all-reduces dense gradients, so the single process uses the same dense Adadelta to compare like with like
    single = subprocess.run([sys.executable, CLI, *ARGS, "--dense-embeddings", "--out", "one"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "one"]
    a, b = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("one", "ddp"))
    for name in a:  # same global batches, gradients averaged over ranks: equal up to float summation order
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)
    ha, hb = (json.loads((tmp_path / d / "metrics.json").read_text())["history"] for d in ("one", "ddp"))
    assert [h["dev_acc"] for h in ha] == [h["dev_acc"] for h in hb]
    assert [round(h["loss"], 5) for h in ha] == [round(h["loss"], 5) for h in hb]
