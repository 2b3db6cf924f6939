"""Image builders: published parameter counts, the shapes the course material prints, block behaviour.

Big models are built on the meta device, so counting VGG-16's 138M parameters allocates nothing.
torchvision cannot be installed beside this torch, so every expected count is hard-coded with its source.
"""

import math

import pytest
import torch
from torch import nn

from textcnn.base.config import config_from_dict
from textcnn.base.errors import ConfigError
from textcnn.models.core import BranchBank, ConvUnit, Residual
from textcnn.models.image import (
    MODELS,
    Conv,
    ImageCNN,
    ImageCNNConfig,
    Inception,
    Pool,
    alexnet,
    alexnet_v2,
    budget_cnn,
    build_model,
    cifar_net,
    count_parameters,
    digits_cnn,
    inception_module,
    lenet5,
    mlp_8_8,
    mnist_cnn,
    resnet18,
    resnet50,
    resnet_block,
    vgg11,
    vgg16,
)


def _meta_count(builder, **kwargs) -> int:
    with torch.device("meta"):
        return count_parameters(builder(**kwargs))


@pytest.mark.parametrize("builder,kwargs,expected", [
    (mnist_cnn, {}, 62_346),  # course material: 832 + 51,264 + 10,250
    (cifar_net, {}, 62_006),  # PyTorch CIFAR-10 tutorial net on 32×32×3
    (lenet5, {}, 61_706),  # the same layout on 32×32×1: 156 + 2,416 + 48,120 + 10,164 + 850
    (alexnet, {}, 62_378_344),  # Krizhevsky et al. 2012 at 227×227, GPU halves merged
    (alexnet, {"groups": 2}, 60_965_224),  # the same with conv2/4/5 split in two groups, as on two GPUs
    (alexnet, {"in_shape": (3, 224, 224)}, 50_844_008),  # 224×224 without adaptive pooling: last map 5×5
    (alexnet_v2, {}, 61_100_840),  # torchvision alexnet (single-GPU "one weird trick" layout)
    (vgg16, {}, 138_357_544),  # Simonyan & Zisserman 2015 / torchvision vgg16
    (vgg11, {}, 132_863_336),  # torchvision vgg11
    (resnet50, {}, 25_557_032),  # He et al. 2016 / torchvision resnet50
    (resnet18, {}, 11_689_512),  # torchvision resnet18
])
def test_parameter_counts_match_published(builder, kwargs, expected):
    assert _meta_count(builder, **kwargs) == expected


def test_mnist_cnn_layer_counts():
    model = mnist_cnn()
    counts = [count_parameters(m) for m in (model.features[0], model.features[2], model.head)]
    assert counts == [832, 51_264, 10_250]
    assert model.out_shape == (64, 4, 4)


def test_digits_model_has_the_material_shapes():
    model = digits_cnn()
    x = torch.randn(3, 1, 8, 8)
    shapes = []
    for layer in model.features[:3]:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(10, 8, 8), (5, 4, 4), (5, 2, 2)]  # 8×8×10 → 4×4×5 → 2×2×5, as the material prints
    assert isinstance(model.features[1][1], torch.nn.BatchNorm2d)
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_vgg16_with_batch_norm_adds_two_params_per_map():
    maps = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512  # VGG-16's 13 conv layers
    conv_biases_dropped = maps  # a conv followed by batch-norm has no bias
    assert _meta_count(vgg16, batch_norm=True) == 138_357_544 + 2 * maps - conv_biases_dropped


def test_inception_1x1_bottleneck_saves_parameters():
    # GoogLeNet §5: 5×5 convs from 192 maps to 32, directly vs through 16 1×1 maps (weights only)
    direct = ConvUnit(2, 192, 32, 5)[0].weight.numel()
    reduced = ConvUnit(2, 192, 16, 1)[0].weight.numel() + ConvUnit(2, 16, 32, 5)[0].weight.numel()
    assert (direct, reduced) == (153_600, 15_872)  # 192·25·32 vs 192·16 + 16·25·32: about 10× fewer


def test_inception_module_concatenates_branches_and_keeps_size():
    module = inception_module(192, Inception(64, 96, 128, 16, 32, 32))  # GoogLeNet inception (3a)
    out = module(torch.randn(2, 192, 28, 28))
    assert out.shape == (2, 256, 28, 28)
    assert isinstance(module, BranchBank) and len(module.branches) == 4


def test_branch_bank_concatenates_in_branch_order():
    bank = BranchBank([torch.nn.Identity(), torch.nn.Sequential()])
    x = torch.randn(1, 2, 3, 3)
    assert torch.equal(bank(x), torch.cat([x, x], dim=1))


def test_residual_identity_adds_input_before_relu():
    block = Residual(torch.nn.Identity())
    x = torch.tensor([[[[-1.0, 2.0]]]])
    assert torch.equal(block(x), torch.relu(2 * x))


@pytest.mark.parametrize("kind,stride,out_channels", [("basic", 1, 64), ("basic", 2, 128), ("bottleneck", 2, 256)])
def test_resnet_block_shapes_and_projection(kind, stride, out_channels):
    planes = 64 if stride == 1 and kind == "basic" else out_channels // (4 if kind == "bottleneck" else 1)
    block = resnet_block(kind, 64, planes, stride)
    assert block(torch.randn(2, 64, 8, 8)).shape == (2, out_channels, 8 // stride, 8 // stride)
    assert (block.shortcut is None) == (stride == 1 and out_channels == 64)


def test_resnet_block_rejects_unknown_kind():
    with pytest.raises(ConfigError, match="'basic' or 'bottleneck'"):
        resnet_block("wide", 64, 64)


def test_model_too_small_input_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="cannot take 8×8 images.*digits-cnn"):
        ImageCNN((Conv(8, 5), Pool("max", 2), Conv(8, 5)), (1, 8, 8), 10, name="tiny")


def test_28x28_model_on_8x8_names_the_right_model():
    with pytest.raises(ConfigError, match="mnist-cnn.*28×28.*--model digits-cnn"):
        ImageCNNConfig(model="mnist-cnn", in_channels=1, image_size=8)


def test_unknown_model_lists_choices():
    with pytest.raises(ConfigError, match="digits-cnn.*mnist-cnn"):
        ImageCNNConfig(model="inception-v9")


def test_build_model_uses_config_channels_and_classes():
    model = build_model(ImageCNNConfig(model="cifar-net", in_channels=3, image_size=32), n_classes=4)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)


def test_same_padding_with_stride_is_refused():
    with pytest.raises(ValueError, match="stride 1"):
        ImageCNN((Conv(4, 3, stride=2, padding="same"),), (1, 8, 8), 2)


@pytest.mark.parametrize("builder,expected", [
    (mlp_8_8, 6_442),  # course material: 784·8+8 + 8·8+8 + 8·10+10
    (budget_cnn, 6_422),  # course material: 156 + 906 + 96·50+50 + 50·10+10
])
def test_fc_vs_cnn_models_share_the_parameter_budget(builder, expected):
    assert count_parameters(builder()) == expected


# ---- init and batch-norm options (issue 21: Keras's defaults) ----
KERAS = dict(init="keras", bn_momentum=0.01, bn_eps=1e-3)  # Keras's BatchNormalization(momentum=0.99, epsilon=1e-3)


def _config(model: str, **kwargs) -> ImageCNNConfig:
    size = MODELS[model].image_size or 32
    return ImageCNNConfig(model=model, in_channels=3 if model in ("cifar-net", "resnet18") else 1, image_size=size,
                          **kwargs)


def _weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.conv._ConvNd | nn.Linear)]


def _fans(layer: nn.Module) -> tuple[int, int]:
    receptive = layer.weight[0, 0].numel()  # k·k for a conv, 1 for a linear layer
    return layer.weight.shape[1] * receptive, layer.weight.shape[0] * receptive


@pytest.mark.parametrize("model", ["digits-cnn", "wide-cnn-bn", "cifar-net"])
def test_keras_init_draws_glorot_uniform_weights_and_zero_biases(model):
    torch.manual_seed(0)
    layers = _weighted_layers(build_model(_config(model, init="keras"), 10))
    differs = 0
    for layer in layers:
        fan_in, fan_out = _fans(layer)
        glorot = math.sqrt(6 / (fan_in + fan_out))  # Glorot & Bengio 2010, Keras's glorot_uniform
        kaiming = 1 / math.sqrt(fan_in)  # PyTorch's kaiming_uniform_(a=√5) bound
        w = layer.weight.abs()
        assert w.max() <= glorot
        if w.numel() >= 50:
            assert w.max() > 0.8 * glorot  # fills the Glorot range, not a narrower one
        if glorot > 1.2 * kaiming:
            assert w.max() > kaiming  # beyond PyTorch's default bound: not PyTorch's init
            differs += 1
        if layer.bias is not None:
            assert torch.count_nonzero(layer.bias) == 0
    assert differs > 0  # each model has layers where the two inits tell apart


def test_torch_init_is_pytorchs_default_and_unchanged():
    torch.manual_seed(0)
    plain = MODELS["digits-cnn"].builder((1, 8, 8), 10)
    torch.manual_seed(0)
    built = build_model(ImageCNNConfig(), 10)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), built.state_dict().values()))
    biases = [layer.bias for layer in _weighted_layers(built) if layer.bias is not None]
    assert biases and all(torch.count_nonzero(b) > 0 for b in biases)  # PyTorch's uniform biases


@pytest.mark.parametrize("model", list(MODELS))
def test_init_and_batch_norm_options_keep_the_parameter_count_and_set_every_batch_norm(model):
    with torch.device("meta"):
        default = build_model(_config(model), 10)
        keras = build_model(_config(model, **KERAS), 10)
    assert count_parameters(keras) == count_parameters(default)
    norms = [m for m in keras.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert all((m.momentum, m.eps) == (0.01, 1e-3) for m in norms)
    assert all((m.momentum, m.eps) == (0.1, 1e-5)
               for m in default.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
    if model in ("digits-cnn", "wide-cnn-bn", "resnet18"):
        assert norms  # these models have batch-norm layers to set


def test_batch_norm_momentum_is_pytorchs_convention():
    torch.manual_seed(0)
    model = build_model(ImageCNNConfig(bn_momentum=0.01), 10).train()
    norm = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    seen = []
    norm.register_forward_pre_hook(lambda _, inputs: seen.append(inputs[0].detach()))
    model(torch.rand(16, 1, 8, 8))
    # the running mean starts at 0; one batch moves it 1% of the way to the batch mean (Keras's momentum 0.99)
    torch.testing.assert_close(norm.running_mean, 0.01 * seen[0].mean(dim=(0, 2, 3)))


def test_an_old_config_without_the_new_keys_gets_todays_behaviour():
    config = config_from_dict(ImageCNNConfig, {"model": "digits-cnn", "in_channels": 1, "image_size": 8})
    assert (config.init, config.bn_momentum, config.bn_eps) == ("torch", 0.1, 1e-5)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("init", "glorot", "init must be one of torch, keras"),
    ("bn_momentum", 0.0, r"bn_momentum must be in \(0, 1\]"),
    ("bn_momentum", 0.99, None),  # allowed (PyTorch's convention), though Keras's 0.99 means 0.01 here
    ("bn_eps", 0.0, "bn_eps must be positive"),
])
def test_bad_init_or_batch_norm_settings_are_config_errors(field, value, message):
    if message is None:
        ImageCNNConfig(**{field: value})
        return
    with pytest.raises(ConfigError, match=message):
        ImageCNNConfig(**{field: value})


def test_the_head_dropout_study_model_is_rung_4_with_one_dropout_layer():
    with torch.device("meta"):
        rung4 = build_model(_config("wide-cnn-bn"), 10)
        study = build_model(_config("wide-cnn-bn-head-dropout"), 10)
    assert count_parameters(study) == count_parameters(rung4) == 479_498
    rates = [[m.p for m in model.modules() if isinstance(m, nn.Dropout) and m.p > 0] for model in (rung4, study)]
    assert rates == [[0.5, 0.5], [0.5]]  # before the dense 64 and the output layer; the output layer only
