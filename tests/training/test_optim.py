import copy

import pytest
import torch
from torch import nn

from textcnn.training.optim import LazyAdadelta


def make_pair(seed: int) -> tuple[nn.Embedding, nn.Embedding, nn.Linear, nn.Linear]:
    torch.manual_seed(seed)
    dense = nn.Embedding(30, 4, padding_idx=0)
    sparse = nn.Embedding(30, 4, padding_idx=0, sparse=True)
    sparse.weight.data.copy_(dense.weight.data)
    head_a, head_b = nn.Linear(4, 2), nn.Linear(4, 2)
    head_b.load_state_dict(head_a.state_dict())
    return dense, sparse, head_a, head_b


def train(embedding: nn.Embedding, head: nn.Linear, optimizer: torch.optim.Optimizer, steps: int) -> None:
    batches = torch.Generator().manual_seed(1)
    for _ in range(steps):
        ids = torch.randint(0, 12, (5, 3), generator=batches)  # rows 12..29 never used; some rows skip steps
        labels = torch.randint(0, 2, (5,), generator=batches)
        loss = nn.functional.cross_entropy(head(embedding(ids).mean(1)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("rho", [0.95, 0.5])
def test_lazy_adadelta_matches_dense_adadelta(rho):
    dense, sparse, head_a, head_b = make_pair(0)
    reference = torch.optim.Adadelta([*dense.parameters(), *head_a.parameters()], lr=1.0, rho=rho, eps=1e-6)
    lazy = LazyAdadelta([*sparse.parameters(), *head_b.parameters()], lr=1.0, rho=rho, eps=1e-6)
    train(dense, head_a, reference, 40)
    train(sparse, head_b, lazy, 40)
    assert not torch.equal(dense.weight, make_pair(0)[0].weight)  # training moved the rows
    torch.testing.assert_close(sparse.weight, dense.weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(head_b.weight, head_a.weight, rtol=1e-5, atol=1e-6)
    # the running averages agree once synced (state_dict syncs)
    lazy_state = lazy.state_dict()["state"][0]
    torch.testing.assert_close(lazy_state["square_avg"], reference.state[dense.weight]["square_avg"],
                               rtol=1e-4, atol=1e-9)


def test_lazy_adadelta_state_round_trip_continues_identically():
    _, sparse, _, head = make_pair(0)
    params = [*sparse.parameters(), *head.parameters()]
    optimizer = LazyAdadelta(params, rho=0.95)
    train(sparse, head, optimizer, 5)
    saved = copy.deepcopy(optimizer.state_dict())  # as if written to disk: no shared tensors
    _, twin, _, twin_head = make_pair(0)
    twin.load_state_dict(sparse.state_dict())
    twin_head.load_state_dict(head.state_dict())
    restored = LazyAdadelta([*twin.parameters(), *twin_head.parameters()], rho=0.95)
    restored.load_state_dict(saved)
    train(sparse, head, optimizer, 5)
    train(twin, twin_head, restored, 5)
    torch.testing.assert_close(twin.weight, sparse.weight)
