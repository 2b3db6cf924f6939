"""The core's conv and pooling layers against an independent numpy forward, and gradients by gradcheck."""

import numpy as np
import pytest
import torch

from tests.models.numpy_reference import conv1d, conv2d, pool1d, pool2d
from textcnn.models.core import ConvBank, conv_layer, pool_layer


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


@pytest.mark.parametrize("kernel,stride,padding,groups", [(3, 1, 0, 1), (5, 2, 2, 1), (3, 2, 1, 2), (1, 1, 0, 1),
                                                          (4, 3, 1, 2)])
def test_conv2d_matches_numpy(kernel, stride, padding, groups):
    torch.manual_seed(0)
    layer = conv_layer(2, 4, 6, kernel, padding=padding, stride=stride, groups=groups).double()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    expected = conv2d(_np(x), _np(layer.weight), _np(layer.bias), stride, padding, groups)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, 2), (5, 2, 0), (2, 3, 1)])
def test_conv1d_matches_numpy(kernel, stride, padding):
    torch.manual_seed(1)
    layer = conv_layer(1, 3, 5, kernel, padding=padding, stride=stride).double()
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    expected = conv1d(_np(x), _np(layer.weight), _np(layer.bias), stride, padding)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-10, atol=1e-10)


def test_same_padding_keeps_size_and_matches_numpy():
    torch.manual_seed(2)
    layer = conv_layer(2, 2, 3, 3, padding="same").double()
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64)
    expected = conv2d(_np(x), _np(layer.weight), _np(layer.bias), 1, 1)
    assert layer(x).shape[-2:] == (7, 7)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-10, atol=1e-10)


def test_text_filter_bank_matches_numpy_full_padding():
    torch.manual_seed(3)
    bank = ConvBank(1, in_channels=4, n_filters=2, widths=(2, 3)).double()
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    for h, conv, out in zip(bank.widths, bank.convs, bank(x)):
        expected = np.maximum(conv1d(_np(x), _np(conv.weight), _np(conv.bias), 1, h - 1), 0.0)
        np.testing.assert_allclose(_np(out), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 1), (2, 3, 0)])
def test_pool2d_matches_numpy(kind, kernel, stride, padding):
    x = torch.randn(2, 3, 8, 7, dtype=torch.float64)
    out = pool_layer(2, kind, kernel, stride, padding)(x)
    np.testing.assert_allclose(_np(out), pool2d(_np(x), kind, kernel, stride, padding), rtol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool1d_matches_numpy(kind):
    x = torch.randn(2, 3, 10, dtype=torch.float64)
    out = pool_layer(1, kind, 3, 2, 1)(x)
    np.testing.assert_allclose(_np(out), pool1d(_np(x), kind, 3, 2, 1), rtol=1e-12)


def test_pool_rejects_unknown_kind():
    with pytest.raises(ValueError, match="'max' or 'avg'"):
        pool_layer(2, "median", 2)


@pytest.mark.parametrize("dims", [1, 2])
def test_conv_gradients_match_finite_differences(dims):
    torch.manual_seed(4)
    layer = conv_layer(dims, 2, 3, 3, padding=1, stride=2).double()
    x = torch.randn((1, 2) + (5,) * dims, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))  # d/d input
    weight = layer.weight.detach().clone().requires_grad_()
    conv = torch.nn.functional.conv2d if dims == 2 else torch.nn.functional.conv1d
    assert torch.autograd.gradcheck(lambda w: conv(x.detach(), w, layer.bias, 2, 1), (weight,))  # d/d weights


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_gradients_match_finite_differences(kind):
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pool_layer(2, kind, 3, 2, 1), (x,))
