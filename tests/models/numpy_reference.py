"""An independent pure-numpy forward for convolution and pooling: the test oracle for textcnn.models.core.

Written from the definitions (cross-correlation, zero padding, floor output size), with loops
over output positions, so it shares no code or shortcuts with PyTorch.
"""

from __future__ import annotations

import numpy as np


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1, padding: int = 0,
           groups: int = 1) -> np.ndarray:
    """x (B, C_in, H, W), w (C_out, C_in / groups, kh, kw) → (B, C_out, H', W')."""
    n, c_in, _, _ = x.shape
    c_out, c_group, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (x.shape[2] - kh) // stride + 1
    w_out = (x.shape[3] - kw) // stride + 1
    out = np.zeros((n, c_out, h_out, w_out))
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        channels = slice(g * c_group, (g + 1) * c_group)
        for i in range(h_out):
            for j in range(w_out):
                patch = x[:, channels, i * stride:i * stride + kh, j * stride:j * stride + kw]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
        if b is not None:
            out[:, o] += b[o]
    return out


def conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (B, C_in, L), w (C_out, C_in, k) → (B, C_out, L'): a 2-D conv of height 1."""
    x2 = np.pad(x[:, :, None], ((0, 0), (0, 0), (0, 0), (padding, padding)))
    return conv2d(x2, w[:, :, None], b, stride)[:, :, 0]


def pool2d(x: np.ndarray, kind: str, kernel: int, stride: int | None = None, padding: int = 0) -> np.ndarray:
    """Max pooling pads with -inf; average pooling pads with zeros that count (PyTorch's default)."""
    stride = stride or kernel
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=fill)
    h_out = (x.shape[2] - kernel) // stride + 1
    w_out = (x.shape[3] - kernel) // stride + 1
    out = np.zeros(x.shape[:2] + (h_out, w_out))
    reduce = np.max if kind == "max" else np.mean
    for i in range(h_out):
        for j in range(w_out):
            out[:, :, i, j] = reduce(x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel],
                                     axis=(2, 3))
    return out


def pool1d(x: np.ndarray, kind: str, kernel: int, stride: int | None = None, padding: int = 0) -> np.ndarray:
    """x (B, C, L) → (B, C, L') pooled along L."""
    stride = stride or kernel
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding)), constant_values=fill)
    length = (x.shape[2] - kernel) // stride + 1
    reduce = np.max if kind == "max" else np.mean
    return np.stack([reduce(x[:, :, s * stride:s * stride + kernel], axis=2) for s in range(length)], axis=2)
