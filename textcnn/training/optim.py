"""Adadelta that updates an embedding's rows lazily from sparse gradients (speed option `sparse_embeddings`).

With a dense gradient, every step of Adadelta (Zeiler 2012) touches every row of a V × E embedding, though
only the rows of the batch's words have a non-zero gradient. For a row whose gradient is zero the update is
exactly zero and both running averages just decay by rho. So a row untouched for k steps only needs its
averages multiplied by rho**k when it is next touched: the same arithmetic (up to rounding), at the cost of
the batch's rows instead of all V. Dense parameters get the ordinary update, written as torch writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor


class LazyAdadelta(torch.optim.Optimizer):
    """`torch.optim.Adadelta` (no weight decay) that also accepts sparse gradients and updates only their rows."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self._state_of(param, param.grad.is_sparse)
                state["step"] += 1
                if param.grad.is_sparse:
                    self._sparse_update(param, state, group)
                else:
                    _adadelta(param, param.grad, state["square_avg"], state["acc_delta"], group)
        return loss

    def _state_of(self, param: Tensor, sparse: bool) -> dict:
        state = self.state[param]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.long)
            state["square_avg"] = torch.zeros_like(param)
            state["acc_delta"] = torch.zeros_like(param)
            if sparse:  # the step each row's averages were last brought up to; dense rows are always current
                state["synced_at"] = torch.zeros(len(param), dtype=torch.long, device=param.device)  # (V,)
        return state

    def _sparse_update(self, param: Tensor, state: dict, group: dict) -> None:
        grad = param.grad.coalesce()  # duplicate rows summed, as the dense gradient would be
        rows, values = grad.indices()[0], grad.values()  # (n,), (n, E)
        step = state["step"].to(param.device)
        square_avg, acc_delta = state["square_avg"][rows], state["acc_delta"][rows]  # each (n, E)
        decay = group["rho"] ** (step - 1 - state["synced_at"][rows]).to(param.dtype)  # (n,): missed steps
        square_avg.mul_(decay.unsqueeze(1))
        acc_delta.mul_(decay.unsqueeze(1))
        row_param = param[rows]  # (n, E)
        _adadelta(row_param, values, square_avg, acc_delta, group)
        param[rows] = row_param
        state["square_avg"][rows], state["acc_delta"][rows] = square_avg, acc_delta
        state["synced_at"][rows] = step

    def sync(self) -> None:
        """Bring every row's running averages up to the current step (done before the state is read)."""
        for group in self.param_groups:
            for param in group["params"]:
                state = self.state.get(param)
                if not state or "synced_at" not in state:
                    continue
                missed = (state["step"].to(param.device) - state["synced_at"]).to(param.dtype)  # (V,)
                decay = (group["rho"] ** missed).view(-1, *([1] * (param.dim() - 1)))
                state["square_avg"].mul_(decay)
                state["acc_delta"].mul_(decay)
                state["synced_at"].fill_(int(state["step"]))

    def state_dict(self) -> dict:
        self.sync()
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for state in self.state.values():  # torch casts loaded state to the parameter's dtype: undo for counters
            if "synced_at" in state:
                state["synced_at"] = state["synced_at"].long()


def _adadelta(param: Tensor, grad: Tensor, square_avg: Tensor, acc_delta: Tensor, group: dict) -> None:
    """One Adadelta step in place, in the order of torch's single-tensor implementation."""
    rho, eps = group["rho"], group["eps"]
    square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
    std = square_avg.add(eps).sqrt_()
    delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
    acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
    param.add_(delta, alpha=-group["lr"])
