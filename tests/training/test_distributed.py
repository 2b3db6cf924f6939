"""DDP through torchrun: a 2-process gloo run on CPU equals a 1-process run with the same global batch."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
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


def _train(tmp_path: Path, out: str, launcher: list[str], extra: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launcher, CLI, *ARGS, *extra, "--out", out], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _assert_same_training(tmp_path: Path, one: str, ddp: str) -> None:
    a, b = (load_file(str(tmp_path / d / "model.safetensors")) for d in (one, ddp))
    assert sorted(a) == sorted(b)
    for name in a:  # same global batches, gradients averaged over ranks: equal up to float summation order
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-5)
    ha, hb = (json.loads((tmp_path / d / "metrics.json").read_text())["history"] for d in (one, ddp))
    assert [h["dev_acc"] for h in ha] == [h["dev_acc"] for h in hb]
    assert [round(h["loss"], 5) for h in ha] == [round(h["loss"], 5) for h in hb]


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


@pytest.mark.parametrize("variant", ["rand", "non-static", "multichannel"])
def test_two_gloo_ranks_with_sparse_embedding_rows_match_one_process(tmp_path: Path, variant: str,
                                                                     glove_path: str) -> None:
    extra = ["--variant", variant] + ([] if variant == "rand" else ["--vectors", glove_path])
    ddp = _train(tmp_path, "ddp", TORCHRUN, extra)
    assert ddp.stdout.count("saved ddp") == 1  # only rank 0 reports and writes
    _train(tmp_path, "one", [sys.executable], extra)  # one process: lazy-row Adadelta over sparse rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "one"]
    _assert_same_training(tmp_path, "one", "ddp")


def test_two_gloo_ranks_with_adversarial_training_match_one_process(tmp_path: Path) -> None:
    # the first pass's gradients stay local (no_sync); the second pass exchanges both passes' sum once
    _train(tmp_path, "ddp", TORCHRUN, ["--adversarial", "0.5"])
    _train(tmp_path, "one", [sys.executable], ["--adversarial", "0.5"])
    _assert_same_training(tmp_path, "one", "ddp")
    _train(tmp_path, "clean", [sys.executable], [])
    clean, adversarial = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("clean", "one"))
    assert any(not torch.equal(clean[name], adversarial[name]) for name in clean)


def test_ddp_says_which_embedding_gradients_it_exchanges(tmp_path: Path) -> None:
    loud = [a for a in ARGS if a != "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for flag, expected in (([], "sparse embedding rows"), (["--dense-embeddings"], "dense embedding gradients")):
        done = subprocess.run([*TORCHRUN, CLI, *loud, *flag, "--out", f"run{len(flag)}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=180, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"2 ranks (gloo), {expected}" in done.stderr


def test_two_gloo_ranks_with_dense_gradients_match_one_dense_process(tmp_path: Path) -> None:
    _train(tmp_path, "ddp", TORCHRUN, ["--dense-embeddings"])
    _train(tmp_path, "one", [sys.executable], ["--dense-embeddings"])
    _assert_same_training(tmp_path, "one", "ddp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_rendezvous_on_localhost_and_match_one_process(tmp_path: Path) -> None:
    """Two torchrun agents, one process each, meet through the c10d rendezvous as two machines would."""
    endpoint = f"127.0.0.1:{_free_port()}"
    agent = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
             "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "textcnn-test"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([*agent, CLI, *ARGS, "--out", "ddp"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    assert sum(out.count("saved ddp") for out, _ in outputs) == 1  # one global rank 0 across both nodes
    _train(tmp_path, "one", [sys.executable], [])
    _assert_same_training(tmp_path, "one", "ddp")


def test_a_run_stopped_under_torchrun_resumes_under_torchrun_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    long = ["--epochs", "150"]  # the demo set takes a few ms an epoch: long enough to stop it part-way
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    agent = subprocess.Popen([*TORCHRUN, CLI, *ARGS, *long, "--out", "ddp"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tmp_path / "ddp" / "resume" / "state.json"
    deadline = time.monotonic() + 120
    while not (state.exists() and json.loads(state.read_text() or "{}").get("epoch", 0) >= 2):
        assert agent.poll() is None and time.monotonic() < deadline, agent.communicate()[1][-3000:]
        time.sleep(0.05)
    agent.send_signal(signal.SIGTERM)  # torchrun passes it to both ranks; they stop at the same step
    _, err = agent.communicate(timeout=120)
    assert agent.returncode != 0 and "--resume" in err, err[-3000:]
    stopped_at = json.loads(state.read_text())["epoch"]
    assert 2 <= stopped_at < 150
    resumed = subprocess.run([*TORCHRUN, CLI, "-q", "train", "--resume", "ddp"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _train(tmp_path, "one", [sys.executable], long)
    _assert_same_training(tmp_path, "one", "ddp")


def test_the_row_exchange_hook_returns_every_touched_row_and_leaves_dense_buckets_to_all_reduce(tmp_path: Path):
    from types import SimpleNamespace

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        grad = torch.sparse_coo_tensor(torch.tensor([[3, 9, 3, 0]]), torch.randn(4, 5), (12, 5),
                                       check_invariants=True)
        out = distributed.exchange_sparse_rows(None, SimpleNamespace(buffer=lambda: grad)).wait()
        assert out.is_sparse and out.shape == grad.shape
        torch.testing.assert_close(out.to_dense(), grad.to_dense(), rtol=0, atol=0)  # bit-exact through the bytes
        dense = torch.arange(4.0)
        bucket = SimpleNamespace(buffer=lambda: dense, is_last=lambda: True)
        assert torch.equal(distributed.exchange_sparse_rows(None, bucket).wait(), torch.arange(4.0))
    finally:
        dist.destroy_process_group()
