"""The convolution + pooling core shared by the text and image models.

Everything that convolves or pools lives here, generic over 1-D (text) and 2-D (images):
a bank of parallel convolutions (Kim's filter widths; the same idea as an Inception module),
max pooling that padding can never win, and a dropout + linear classifier head with Kim's
max-norm constraint. The image models add strided/padded convolutions with batch-norm, max/avg
pooling, a bank of arbitrary parallel branches concatenated along channels (the generalisation of
`ConvBank`) and a residual sum. Dimension letters: B batch, L tokens, E embedding size, C feature
maps, K classes, H/W image size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_POOL = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
_ADAPTIVE_POOL = {("max", 1): nn.AdaptiveMaxPool1d, ("max", 2): nn.AdaptiveMaxPool2d,
                  ("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 2): nn.AdaptiveAvgPool2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
Padding = int | str  # an int, or "same" (stride 1 only: output size = input size, as in Keras)


def _check_dims(dims: int) -> None:
    if dims not in _CONV:
        raise ValueError(f"dims must be 1 or 2; got {dims}")


def conv_layer(
    dims: int, in_channels: int, out_channels: int, kernel_size: int, padding: Padding = 0,
    stride: int = 1, groups: int = 1, bias: bool = True,
) -> nn.Module:
    """A convolution over `dims` spatial dimensions (1 for text, 2 for images).

    `padding` is zeros on every side, or "same" (stride 1 only; PyTorch has no "same" for stride > 1,
    so strided layers give explicit padding). `groups` splits the channels as AlexNet's two GPU halves.
    """
    _check_dims(dims)
    if padding == "same" and stride != 1:
        raise ValueError(f"padding='same' needs stride 1 (got stride {stride}); give explicit padding instead")
    return _CONV[dims](in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups,
                       bias=bias)


def pool_layer(dims: int, kind: str, kernel_size: int, stride: int | None = None, padding: int = 0) -> nn.Module:
    """Max or average pooling over `dims` spatial dimensions; `stride` defaults to `kernel_size`."""
    _check_dims(dims)
    if kind not in ("max", "avg"):
        raise ValueError(f"pooling kind must be 'max' or 'avg'; got {kind!r}")
    return _POOL[kind, dims](kernel_size, stride=stride, padding=padding)


def adaptive_pool_layer(dims: int, kind: str, output_size: int) -> nn.Module:
    """Pooling to a fixed output size whatever the input size (e.g. global average pooling: size 1)."""
    _check_dims(dims)
    if kind not in ("max", "avg"):
        raise ValueError(f"pooling kind must be 'max' or 'avg'; got {kind!r}")
    return _ADAPTIVE_POOL[kind, dims](output_size)


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: Padding = 0) -> int:
    """The length of one spatial axis after a conv or pool: floor((size + 2p - k) / s) + 1."""
    if padding == "same":
        return size
    return (size + 2 * int(padding) - kernel_size) // stride + 1


class ConvUnit(nn.Sequential):
    """Convolution, then optional batch-norm (Ioffe & Szegedy 2015), then optional ReLU.

    With batch-norm the conv has no bias: the norm's shift makes it redundant (torchvision's convention).
    """

    def __init__(
        self, dims: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        padding: Padding = 0, groups: int = 1, batch_norm: bool = False, relu: bool = True,
    ) -> None:
        layers = [conv_layer(dims, in_channels, out_channels, kernel_size, padding, stride, groups, not batch_norm)]
        if batch_norm:
            layers.append(_NORM[dims](out_channels))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class BranchBank(nn.Module):
    """Parallel branches over one input, their feature maps concatenated along channels.

    The general form of Kim's filter bank (`ConvBank` + pooling): an Inception module (Szegedy et al.
    2015) is a bank whose branches are small conv/pool stacks that keep the spatial size.
    """

    def __init__(self, branches: Sequence[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, C_in, H, W); each branch → (B, C_i, H', W') with the same H', W'
        return torch.cat([branch(x) for branch in self.branches], dim=1)  # (B, sum C_i, H', W')


class Residual(nn.Module):
    """ReLU(body(x) + shortcut(x)) (He et al. 2016); `shortcut` None is the identity."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, C_in, H, W)
        identity = x if self.shortcut is None else self.shortcut(x)  # (B, C_out, H', W')
        return torch.relu(self.body(x) + identity)  # (B, C_out, H', W')


class ConvBank(nn.Module):
    """Parallel convolutions of several widths over one input, each followed by ReLU.

    With `full_padding` each width h pads h-1 zeros on every side, so every window that
    touches the input is computed (Kim 2014 §2 "wide" windows at the borders).
    """

    def __init__(
        self, dims: int, in_channels: int, n_filters: int, widths: Sequence[int], full_padding: bool = True
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(
            conv_layer(dims, in_channels, n_filters, h, padding=h - 1 if full_padding else 0) for h in self.widths
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        # x: (B, E, L) for text or (B, E, H, W) for images
        return [torch.relu(conv(x)) for conv in self.convs]  # each (B, C, L + h - 1) with full padding


def window_mask(lengths: Tensor, width: int, n_windows: int) -> Tensor:
    """True for the windows of a full-padded width-`width` conv that overlap a real token.

    Window s covers sentence positions s-(h-1) .. s, so it touches a real token exactly when
    s < length + h - 1 (and the sentence is not empty). Batch padding beyond that never counts.
    """
    positions = torch.arange(n_windows, device=lengths.device)  # (L')
    limit = torch.where(lengths > 0, lengths + width - 1, torch.zeros_like(lengths))  # (B,)
    return positions.unsqueeze(0) < limit.unsqueeze(1)  # (B, L')


def _mask_windows(x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """Feature maps with invalid positions at -inf, flattened to (B, C, S), and the rows with none valid."""
    x = x.flatten(2)  # (B, C, S)
    valid = valid.flatten(1).unsqueeze(1)  # (B, 1, S)
    return x.masked_fill(~valid, float("-inf")), ~valid.any(dim=-1)  # (B, C, S), (B, 1)


def masked_max_pool(x: Tensor, valid: Tensor) -> Tensor:
    """Max over all positions that padding can never win (Kim 2014 §2: max-over-time pooling).

    x: (B, C, *S) feature maps; valid: (B, *S) True where a position may win. A row with no
    valid position (an empty input) pools to zeros, not to -inf or ReLU(bias).
    """
    masked, empty = _mask_windows(x, valid)
    return masked.amax(dim=-1).masked_fill(empty, 0.0)  # (B, C)


def masked_max_pool_with_index(x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """`masked_max_pool` plus the flat position that won each max (-1 where no position is valid).

    For explanations only: `max` with indices is slower than `amax`, so `forward` keeps `masked_max_pool`.
    """
    masked, empty = _mask_windows(x, valid)
    pooled, index = masked.max(dim=-1)  # each (B, C)
    return pooled.masked_fill(empty, 0.0), index.masked_fill(empty, -1)  # each (B, C)


class MaskedConvPool(nn.Module):
    """Kim's filter bank for sequences: full-padded convs of each width, ReLU, masked max-over-time, concat.

    `fused` (speed option, same function): run all widths as one convolution; see `_fused_forward`.
    """

    def __init__(self, in_channels: int, n_filters: int, widths: Sequence[int], fused: bool = False) -> None:
        super().__init__()
        self.bank = ConvBank(1, in_channels, n_filters, widths, full_padding=True)
        self.out_features = n_filters * len(self.bank.widths)
        self.fused = fused

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # x: (B, E, L) embedded, right-padded with zero vectors; lengths: (B,) real tokens per row
        if self.fused:
            return self._fused_forward(x, lengths)
        maps = self.bank(x)  # each (B, C, L + h - 1)
        pooled = [
            masked_max_pool(m, window_mask(lengths, h, m.shape[-1])) for h, m in zip(self.bank.widths, maps)
        ]  # each (B, C)
        return torch.cat(pooled, dim=1)  # (B, C * n_widths)

    def _fused_forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """All widths as one convolution of the widest width H, each narrower filter's taps right-aligned.

        Output t of a full-padded width-h conv covers positions t-(h-1)..t; a width-H conv (padding H-1)
        whose first H-h taps are zero covers the same positions at the same t, so the maps are the
        separate convs' maps followed by H-h extra columns that lie in padding, which the mask drops.
        The zero taps are built from the separate weights on every call (gradients flow to those only),
        so weights and checkpoints are unchanged. Costs H/mean(h) more multiply-adds for one kernel launch.
        """
        widths, convs = self.bank.widths, self.bank.convs
        widest = max(widths)
        weight = torch.cat([nn.functional.pad(c.weight, (widest - h, 0)) for h, c in zip(widths, convs)])  # (n*C, E, H)
        bias = torch.cat([c.bias for c in convs])  # (n * C,)
        maps = torch.relu(nn.functional.conv1d(x, weight, bias, padding=widest - 1))  # (B, n * C, L + H - 1)
        batch, n_windows = maps.shape[0], maps.shape[-1]
        maps = maps.view(batch, len(widths), -1, n_windows)  # (B, n, C, L')
        width = torch.tensor(widths, device=x.device)  # (n,)
        limit = lengths.unsqueeze(1) + width - 1  # (B, n): windows touching a real token (empty rows zeroed below)
        valid = torch.arange(n_windows, device=x.device) < limit.unsqueeze(-1)  # (B, n, L')
        pooled = maps.masked_fill(~valid.unsqueeze(2), float("-inf")).amax(dim=-1)  # (B, n, C)
        return pooled.masked_fill((lengths == 0).view(-1, 1, 1), 0.0).flatten(1)  # (B, n * C)

    def forward_with_windows(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """`forward` plus the window that won each pooled feature (-1 for an empty input).

        Window s of a width-h feature covers sentence positions s-(h-1) .. s (see `window_mask`);
        `feature_widths` gives h for each feature.
        """
        maps = self.bank(x)  # each (B, C, L + h - 1)
        pooled = [
            masked_max_pool_with_index(m, window_mask(lengths, h, m.shape[-1])) for h, m in zip(self.bank.widths, maps)
        ]  # each ((B, C), (B, C))
        return torch.cat([p for p, _ in pooled], dim=1), torch.cat([i for _, i in pooled], dim=1)  # each (B, F)

    @property
    def feature_widths(self) -> tuple[int, ...]:
        """The filter width h of each output feature, in `forward`'s order (all of one width, then the next)."""
        return tuple(h for h in self.bank.widths for _ in range(self.out_features // len(self.bank.widths)))


@dataclass(frozen=True)
class Mix:
    """Mixup of a batch with a permutation of itself (Zhang et al. 2018; on pooled features: Guo et al. 2019).

    `weight` is λ; row i becomes λ · x[i] + (1 - λ) · x[order[i]]. The loss mixes the labels the same way.
    """

    weight: float
    order: Tensor  # (B,) a permutation of the batch rows

    def __call__(self, x: Tensor) -> Tensor:
        # x: (B, ...) features
        return self.weight * x + (1.0 - self.weight) * x[self.order]  # (B, ...)


class Perturbation:
    """Adversarial training's change to a model's input (Miyato, Dai & Goodfellow 2017): models that take
    `noise=` call it on their input representation (embedded tokens, or images) and use what it returns.

    The fit loop runs each step twice. On the first pass it records the input, so that the loss's gradient there
    can be read after the backward pass; `aim(ε)` then turns that gradient into the adversarial step
    r = ε · g / ||g||₂ (one norm per example, over all its input values), and the second pass trains on x + r.
    """

    def __init__(self) -> None:
        self.seen: Tensor | None = None
        self.movable: Tensor | None = None
        self.step: Tensor | None = None

    def __call__(self, x: Tensor, movable: Tensor | None = None) -> Tensor:
        # x: (B, ...) the model's input representation; movable: broadcastable to x, False where x must stay
        # (padding)
        if self.step is not None:
            return x + self.step  # (B, ...)
        if not x.requires_grad:  # a frozen embedding, or images: the gradient is still wanted here
            x = x.detach().requires_grad_()
        x.retain_grad()
        self.seen, self.movable = x, movable
        return x

    def aim(self, epsilon: float) -> None:
        """Set the step from the recorded input's gradient (call after the first pass's backward)."""
        if self.seen is None or self.seen.grad is None:
            raise RuntimeError("Perturbation.aim needs a first pass whose backward reached the model's input")
        grad = self._movable_part(self.seen.grad.detach())  # (B, ...)
        norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (grad.dim() - 1))  # (B, 1, ...)
        self.step = epsilon * grad / norms
        self.seen = None

    def input_norms(self) -> Tensor:
        """The L2 norm (B,) of each example's recorded input, over the values the step may move (call before aim)."""
        if self.seen is None:
            raise RuntimeError("Perturbation.input_norms needs a recorded first pass")
        return self._movable_part(self.seen.detach()).flatten(1).norm(dim=1)

    def _movable_part(self, x: Tensor) -> Tensor:
        return x if self.movable is None else x * self.movable  # (B, ...)


class ClassifierHead(nn.Module):
    """Dropout then a linear layer to class logits, with Kim's max-norm on each class's weight row.

    With a `Mix` the features are mixed first (training only: the fit loop passes one when `mixup` is on).
    """

    def __init__(self, in_features: int, n_classes: int, dropout: float, max_norm: float | None) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, n_classes)
        self.max_norm = max_norm

    def forward(self, features: Tensor, mix: Mix | None = None) -> Tensor:
        # features: (B, F)
        if mix is not None:
            features = mix(features)  # (B, F)
        return self.linear(self.dropout(features))  # (B, K)

    @torch.no_grad()
    def apply_max_norm(self) -> None:
        """Rescale any weight row whose l2 norm exceeds `max_norm` back to it (Kim 2014 §2.1)."""
        if self.max_norm is not None:
            self.linear.weight.copy_(torch.renorm(self.linear.weight, p=2, dim=0, maxnorm=self.max_norm))
