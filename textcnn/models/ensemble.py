"""An ensemble of trained models that averages their probabilities (`TrainConfig.ensemble`).

The module returns logits whose softmax (multi-label: whose sigmoid) is the members' mean probability, so every
caller that turns logits into probabilities (prediction, the service, ONNX export, dev scoring) works unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

# multi-label: the mean sigmoid is clamped this far from 0 and 1 before its logit, so it stays finite in float32
_LOGIT_EPS = 1e-7


class ProbabilityAverage(nn.Module):
    """`members` (same inputs, same K classes) combined by averaging their probabilities.

    Single-label: log of the mean softmax (a log-probability vector, itself a valid logit vector). Multi-label:
    the logit of each label's mean sigmoid. Members are trained apart (seed, seed+1, ...), each keeping its own
    best-dev epoch; here they are only evaluated.
    """

    def __init__(self, members: Sequence[nn.Module], multi_label: bool = False) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members; got {len(members)}")
        self.members = nn.ModuleList(members)
        self.multi_label = multi_label

    @property
    def config(self) -> Any:
        """The members' shared architecture config (each member is built from the same one)."""
        return self.members[0].config

    def forward(self, *inputs: Tensor) -> Tensor:
        logits = torch.stack([member(*inputs).float() for member in self.members])  # (N, B, K)
        if self.multi_label:
            mean = torch.sigmoid(logits).mean(dim=0)  # (B, K)
            return torch.logit(mean, eps=_LOGIT_EPS)  # (B, K)
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - math.log(len(self.members))  # (B, K)
