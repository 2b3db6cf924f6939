"""Copying a saved state dict into a module, with every name and shape checked first."""

from __future__ import annotations

from torch import Tensor, nn

from ..base.errors import CheckpointError


def load_weights_into(module: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """Copy `state` into `module` after checking every name and shape matches."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        diff = sorted(set(expected.items()) ^ set(found.items()))[:4]
        raise CheckpointError(
            f"weights in {source} do not match the model its config describes (first differences: {diff})"
        )
    module.load_state_dict(state)
