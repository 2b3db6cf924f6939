"""The DDP scaling benchmark: its payload meter and the tables it prints."""

from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist

from benchmarks.ddp_profile import PayloadMeter, metered_exchange
from benchmarks.ddp_scaling import accuracy_table, profile_table, throughput_table


@pytest.fixture
def one_rank_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_the_meter_counts_dense_buckets_and_sparse_rows_and_returns_the_exchanged_gradient(one_rank_group):
    meter = PayloadMeter()
    dense = torch.arange(6, dtype=torch.float32)
    out = metered_exchange(meter, SimpleNamespace(buffer=lambda: dense.clone(), is_last=lambda: True)).wait()
    torch.testing.assert_close(out, dense)
    assert (meter.bytes, meter.calls) == (6 * 4, 1)
    # rows 2 and 7 of a 10 × 3 embedding, row 2 twice: coalesced to 2 rows before counting
    sparse = torch.sparse_coo_tensor(torch.tensor([[2, 7, 2]]), torch.ones(3, 3), (10, 3), check_invariants=True)
    out = metered_exchange(meter, SimpleNamespace(buffer=lambda: sparse)).wait()
    assert meter.bytes == 6 * 4 + 2 * 8 + 2 * 3 * 4 and meter.calls == 2
    torch.testing.assert_close(out.to_dense(), sparse.to_dense())


def test_the_profile_table_reads_the_slower_rank_and_the_time_it_waited():
    ranks = [{"step_ms": 20.0, "compute_ms": 14.0, "bytes_per_step": 1.0e6, "allreduces_per_step": 3.0},
             {"step_ms": 22.0, "compute_ms": 13.0, "bytes_per_step": 3.0e6, "allreduces_per_step": 3.0}]
    [_, _, line] = profile_table([{"ranks": 2, "gradients": "sparse", "per_rank": ranks}])
    assert line == "| 2 | sparse | 3 | 2.00 | 22.0 | 13.0 | 9.0 | 41% |"


def test_speed_up_is_against_one_sparse_rank_and_accuracy_is_a_mean_over_seeds():
    rows = [{"ranks": 1, "gradients": "sparse", "seconds_per_epoch": 4.0, "examples_per_s": 1000.0},
            {"ranks": 2, "gradients": "dense", "seconds_per_epoch": 8.0, "examples_per_s": 500.0}]
    assert throughput_table(rows)[2:] == ["| 1 | sparse | 4.00 | 1,000 | 1.00× |", "| 2 | dense | 8.00 | 500 | 0.50× |"]
    runs = [{"ranks": 2, "epochs": 25, "best_epoch": e, "dev_acc": d, "test_acc": t}
            for e, d, t in ((9, 0.70, 0.80), (12, 0.72, 0.82))]
    assert accuracy_table(runs)[2] == "| 2 | 2 | 25 | 9, 12 | 71.0 ± 1.4 | 81.0 ± 1.4 |"
