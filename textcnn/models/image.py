"""Image CNNs as configurations of the core: layer plans (data) fed to one builder.

A plan is a tuple of small frozen specs (`Conv`, `Pool`, `Dense`, `ResStage`, `Inception`, ...).
`ImageCNN` walks it once, building each layer from `textcnn.models.core` and tracking the (C, H, W)
shape, so no flatten size is ever hard-coded. Named builders (`mnist_cnn`, `cifar_net`, `vgg16`,
`resnet50`, ...) only choose a plan. Dimension letters: B batch, C channels, H/W image size, K classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..base.errors import ConfigError
from .core import (
    BranchBank,
    ClassifierHead,
    ConvUnit,
    Mix,
    Padding,
    Perturbation,
    Residual,
    adaptive_pool_layer,
    conv_output_size,
    pool_layer,
)

Shape = tuple[int, int, int]  # (C, H, W)


# ---- layer specs ----
@dataclass(frozen=True)
class Conv:
    """A 2-D convolution, optionally followed by batch-norm, then ReLU."""

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: Padding = 0  # "same" keeps H, W (stride 1 only)
    groups: int = 1
    batch_norm: bool = False
    relu: bool = True


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; `stride` None = `kernel_size`."""

    kind: str = "max"
    kernel_size: int = 2
    stride: int | None = None
    padding: int = 0


@dataclass(frozen=True)
class AdaptivePool:
    """Pooling to a fixed `size`×`size` grid whatever the input (size 1 = global pooling)."""

    size: int
    kind: str = "avg"


@dataclass(frozen=True)
class BatchNorm:
    """Batch-norm over the channels (then ReLU when `relu`)."""

    relu: bool = False


@dataclass(frozen=True)
class Dense:
    """A hidden fully connected layer: dropout, linear, optional batch-norm, ReLU. Flattens its input."""

    out_features: int
    dropout: float = 0.0
    batch_norm: bool = False


@dataclass(frozen=True)
class ResStage:
    """`blocks` residual blocks of width `planes`; the first one strides and projects (He et al. 2016)."""

    block: str  # "basic" (ResNet-18/34) or "bottleneck" (ResNet-50/101/152)
    planes: int
    blocks: int
    stride: int = 1


@dataclass(frozen=True)
class Inception:
    """GoogLeNet's module (Szegedy et al. 2015, Table 1): 1×1, 1×1→3×3, 1×1→5×5, 3×3 max-pool→1×1."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_proj: int


Spec = Conv | Pool | AdaptivePool | BatchNorm | Dense | ResStage | Inception
BOTTLENECK_EXPANSION = 4  # He et al. 2016 Table 1: a bottleneck's output is 4× its width


# ---- blocks ----
def resnet_block(kind: str, in_channels: int, planes: int, stride: int = 1) -> Residual:
    """A basic (3×3, 3×3) or bottleneck (1×1, 3×3, 1×1) residual block; strides on the 3×3 (torchvision v1.5)."""
    if kind == "basic":
        out = planes
        body = nn.Sequential(
            ConvUnit(2, in_channels, planes, 3, stride, 1, batch_norm=True),
            ConvUnit(2, planes, planes, 3, 1, 1, batch_norm=True, relu=False),
        )
    elif kind == "bottleneck":
        out = planes * BOTTLENECK_EXPANSION
        body = nn.Sequential(
            ConvUnit(2, in_channels, planes, 1, batch_norm=True),
            ConvUnit(2, planes, planes, 3, stride, 1, batch_norm=True),
            ConvUnit(2, planes, out, 1, batch_norm=True, relu=False),
        )
    else:
        raise ConfigError(f"ResNet block must be 'basic' or 'bottleneck'; got {kind!r}")
    needs_projection = stride != 1 or in_channels != out
    shortcut = ConvUnit(2, in_channels, out, 1, stride, batch_norm=True, relu=False) if needs_projection else None
    return Residual(body, shortcut)


def inception_module(in_channels: int, spec: Inception) -> BranchBank:
    """Four parallel branches concatenated: the text filter bank's idea with 1×1 bottlenecks in front."""
    return BranchBank([
        ConvUnit(2, in_channels, spec.ch1x1, 1),
        nn.Sequential(ConvUnit(2, in_channels, spec.ch3x3_reduce, 1), ConvUnit(2, spec.ch3x3_reduce, spec.ch3x3, 3,
                                                                                padding=1)),
        nn.Sequential(ConvUnit(2, in_channels, spec.ch5x5_reduce, 1), ConvUnit(2, spec.ch5x5_reduce, spec.ch5x5, 5,
                                                                                padding=2)),
        nn.Sequential(pool_layer(2, "max", 3, stride=1, padding=1), ConvUnit(2, in_channels, spec.pool_proj, 1)),
    ])


# ---- the builder ----
def _build(spec: Spec, shape: Shape) -> tuple[nn.Module, Shape]:
    """One layer for `spec` on inputs of `shape` (C, H, W), and its output shape."""
    c, h, w = shape
    if isinstance(spec, Conv):
        layer = ConvUnit(2, c, spec.out_channels, spec.kernel_size, spec.stride, spec.padding, spec.groups,
                         spec.batch_norm, spec.relu)
        size = lambda n: conv_output_size(n, spec.kernel_size, spec.stride, spec.padding)  # noqa: E731
        return layer, (spec.out_channels, size(h), size(w))
    if isinstance(spec, Pool):
        stride = spec.stride or spec.kernel_size
        size = lambda n: conv_output_size(n, spec.kernel_size, stride, spec.padding)  # noqa: E731
        return pool_layer(2, spec.kind, spec.kernel_size, stride, spec.padding), (c, size(h), size(w))
    if isinstance(spec, AdaptivePool):
        return adaptive_pool_layer(2, spec.kind, spec.size), (c, spec.size, spec.size)
    if isinstance(spec, BatchNorm):
        layers = [nn.BatchNorm2d(c)] + ([nn.ReLU(inplace=True)] if spec.relu else [])
        return nn.Sequential(*layers), shape
    if isinstance(spec, Dense):
        layers = [nn.Flatten(), nn.Dropout(spec.dropout), nn.Linear(c * h * w, spec.out_features)]
        layers += [nn.BatchNorm1d(spec.out_features)] if spec.batch_norm else []
        return nn.Sequential(*layers, nn.ReLU(inplace=True)), (spec.out_features, 1, 1)
    if isinstance(spec, ResStage):
        blocks = [resnet_block(spec.block, c, spec.planes, spec.stride)]
        out = spec.planes * (BOTTLENECK_EXPANSION if spec.block == "bottleneck" else 1)
        blocks += [resnet_block(spec.block, out, spec.planes) for _ in range(spec.blocks - 1)]
        size = lambda n: conv_output_size(n, 3, spec.stride, 1)  # noqa: E731
        return nn.Sequential(*blocks), (out, size(h), size(w))
    if isinstance(spec, Inception):
        out = spec.ch1x1 + spec.ch3x3 + spec.ch5x5 + spec.pool_proj
        return inception_module(c, spec), (out, h, w)
    raise ConfigError(f"unknown layer spec {spec!r}")


class ImageCNN(nn.Module):
    """A plan of specs built on the core, then the classifier head (dropout + linear to K logits)."""

    def __init__(self, plan: Sequence[Spec], in_shape: Shape, n_classes: int, dropout: float = 0.0,
                 name: str = "image-cnn") -> None:
        super().__init__()
        layers, shape = [], tuple(in_shape)
        for i, spec in enumerate(plan):
            layer, shape = _build(spec, shape)
            if min(shape[1:]) < 1:
                raise ConfigError(
                    f"model {name!r} cannot take {in_shape[1]}×{in_shape[2]} images: layer {i} ({spec}) shrinks "
                    f"them to nothing; use a model built for this size (8×8 digits: digits-cnn)"
                )
            layers.append(layer)
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.out_shape = shape
        self.head = ClassifierHead(shape[0] * shape[1] * shape[2], n_classes, dropout, max_norm=None)

    def forward(self, images: Tensor, mix: Mix | None = None, noise: Perturbation | None = None) -> Tensor:
        # images: (B, C, H, W); mix: training-time mixup of the flattened features; noise: adversarial training's
        # change to the images
        if noise is not None:
            images = noise(images)  # (B, C, H, W)
        return self.head(self.features(images), mix)  # (B, K)


# ---- named architectures: each only chooses a plan ----
def mnist_cnn(in_shape: Shape = (1, 28, 28), n_classes: int = 10) -> ImageCNN:
    """The course material's MNIST model: conv 5×5×32 → pool 2 → conv 5×5×64 → pool 2 → dense 10 (62,346 params)."""
    plan = (Conv(32, 5), Pool("max", 2), Conv(64, 5), Pool("max", 2))
    return ImageCNN(plan, in_shape, n_classes, name="mnist-cnn")


def wide_cnn(in_shape: Shape = (1, 28, 28), n_classes: int = 10, batch_norm: bool = False,
             dropout: float = 0.0, hidden_dropout: bool = True) -> ImageCNN:
    """The Fashion-MNIST ladder's wider model: conv 7×7×64 'same' → pool → conv 3×3×128 'same' → pool → 64 → 10.

    `dropout` is applied before the output layer and, with `hidden_dropout`, also before the dense 64.
    """
    plan = (Conv(64, 7, padding="same", batch_norm=batch_norm), Pool("max", 2),
            Conv(128, 3, padding="same", batch_norm=batch_norm), Pool("max", 2),
            Dense(64, dropout=dropout if hidden_dropout else 0.0, batch_norm=batch_norm))
    name = "wide-cnn-bn" if batch_norm else "wide-cnn"
    return ImageCNN(plan, in_shape, n_classes, dropout, name=name if hidden_dropout else f"{name}-head-dropout")


def digits_cnn(in_shape: Shape = (1, 8, 8), n_classes: int = 10) -> ImageCNN:
    """The course material's 8×8 digits model (shapes as its code prints them).

    conv 3×3×10 'same' + ReLU (8×8×10) → conv 3×3×5 stride 2 pad 1 (4×4×5) → batch-norm → ReLU →
    max-pool 3×3 stride 2 pad 1 (2×2×5) → dense 50 → dense 10. The material also computes a max-pool
    right after the first conv but never uses its output, so it is left out here.
    """
    plan = (Conv(10, 3, padding="same"), Conv(5, 3, stride=2, padding=1, batch_norm=True),
            Pool("max", 3, stride=2, padding=1), Dense(50))
    return ImageCNN(plan, in_shape, n_classes, name="digits-cnn")


def lenet5(in_shape: Shape = (1, 32, 32), n_classes: int = 10) -> ImageCNN:
    """LeNet-5 (LeCun et al. 1998): conv 5×5×6 → avg-pool → conv 5×5×16 → avg-pool → 120 → 84 → 10 (ReLU, not tanh)."""
    plan = (Conv(6, 5), Pool("avg", 2), Conv(16, 5), Pool("avg", 2), Dense(120), Dense(84))
    return ImageCNN(plan, in_shape, n_classes, name="lenet5")


def cifar_net(in_shape: Shape = (3, 32, 32), n_classes: int = 10) -> ImageCNN:
    """The PyTorch CIFAR-10 tutorial net: LeNet-5's layout with max-pooling (62,006 params on 32×32×3)."""
    plan = (Conv(6, 5), Pool("max", 2), Conv(16, 5), Pool("max", 2), Dense(120), Dense(84))
    return ImageCNN(plan, in_shape, n_classes, name="cifar-net")


def mlp_8_8(in_shape: Shape = (1, 28, 28), n_classes: int = 10) -> ImageCNN:
    """The parameter-budget baseline: a fully connected 784-8-8-10 net (6,442 params on 28×28×1)."""
    return ImageCNN((Dense(8), Dense(8)), in_shape, n_classes, name="mlp-8-8")


def budget_cnn(in_shape: Shape = (1, 28, 28), n_classes: int = 10) -> ImageCNN:
    """The CNN on the MLP's budget: two conv 5×5×6 + max-pool 2 stages → dense 50 → 10 (6,422 params on 28×28×1)."""
    plan = (Conv(6, 5), Pool("max", 2), Conv(6, 5), Pool("max", 2), Dense(50))
    return ImageCNN(plan, in_shape, n_classes, name="budget-cnn")


ALEXNET_DROPOUT = 0.5  # Krizhevsky et al. 2012 §4.2


def alexnet(in_shape: Shape = (3, 227, 227), n_classes: int = 1000, groups: int = 1) -> ImageCNN:
    """AlexNet's original layout (Krizhevsky et al. 2012): conv 96-256-384-384-256, fc 4096-4096.

    `groups=2` splits conv2/4/5 as the two GPU halves did; 1 merges them. Local response norm has no
    parameters and is left out. At 227×227 the last pool is 6×6; at 224×224 it is 5×5 (no adaptive pool).
    """
    plan = (Conv(96, 11, stride=4), Pool("max", 3, 2), Conv(256, 5, padding=2, groups=groups), Pool("max", 3, 2),
            Conv(384, 3, padding=1), Conv(384, 3, padding=1, groups=groups), Conv(256, 3, padding=1, groups=groups),
            Pool("max", 3, 2), Dense(4096, ALEXNET_DROPOUT), Dense(4096, ALEXNET_DROPOUT))
    return ImageCNN(plan, in_shape, n_classes, name="alexnet")


def alexnet_v2(in_shape: Shape = (3, 224, 224), n_classes: int = 1000) -> ImageCNN:
    """The single-GPU AlexNet (Krizhevsky 2014 "one weird trick"; torchvision's layout): 64-192-384-256-256."""
    plan = (Conv(64, 11, stride=4, padding=2), Pool("max", 3, 2), Conv(192, 5, padding=2), Pool("max", 3, 2),
            Conv(384, 3, padding=1), Conv(256, 3, padding=1), Conv(256, 3, padding=1), Pool("max", 3, 2),
            AdaptivePool(6), Dense(4096, ALEXNET_DROPOUT), Dense(4096, ALEXNET_DROPOUT))
    return ImageCNN(plan, in_shape, n_classes, name="alexnet-v2")


# Simonyan & Zisserman 2015 Table 1: an int is a 3×3 'same' conv with that many maps, "M" a 2×2 max-pool.
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def vgg(config: Sequence[int | str], in_shape: Shape = (3, 224, 224), n_classes: int = 1000,
        batch_norm: bool = False) -> ImageCNN:
    """VGG from a config list; 7×7 adaptive average pool then fc 4096-4096 (torchvision's layout)."""
    convs = tuple(Pool("max", 2) if v == "M" else Conv(int(v), 3, padding=1, batch_norm=batch_norm) for v in config)
    plan = (*convs, AdaptivePool(7), Dense(4096, 0.0), Dense(4096, ALEXNET_DROPOUT))
    return ImageCNN(plan, in_shape, n_classes, dropout=ALEXNET_DROPOUT, name="vgg")


def vgg11(in_shape: Shape = (3, 224, 224), n_classes: int = 1000, batch_norm: bool = False) -> ImageCNN:
    """VGG-11 (configuration A)."""
    return vgg(VGG_CONFIGS["vgg11"], in_shape, n_classes, batch_norm)


def vgg16(in_shape: Shape = (3, 224, 224), n_classes: int = 1000, batch_norm: bool = False) -> ImageCNN:
    """VGG-16 (configuration D)."""
    return vgg(VGG_CONFIGS["vgg16"], in_shape, n_classes, batch_norm)


def resnet(block: str, layers: Sequence[int], in_shape: Shape = (3, 224, 224), n_classes: int = 1000) -> ImageCNN:
    """ResNet (He et al. 2016): 7×7/2 stem, 3×3/2 max-pool, four stages, global average pool, fc."""
    stages = tuple(ResStage(block, 64 * 2**i, n, stride=1 if i == 0 else 2) for i, n in enumerate(layers))
    plan = (Conv(64, 7, stride=2, padding=3, batch_norm=True), Pool("max", 3, 2, padding=1), *stages,
            AdaptivePool(1))
    return ImageCNN(plan, in_shape, n_classes, name=f"resnet-{block}")


def resnet18(in_shape: Shape = (3, 224, 224), n_classes: int = 1000) -> ImageCNN:
    """ResNet-18: basic blocks [2, 2, 2, 2]."""
    return resnet("basic", (2, 2, 2, 2), in_shape, n_classes)


def resnet50(in_shape: Shape = (3, 224, 224), n_classes: int = 1000) -> ImageCNN:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]."""
    return resnet("bottleneck", (3, 4, 6, 3), in_shape, n_classes)


@dataclass(frozen=True)
class ModelSpec:
    """A trainable named model: its builder and the image size it is built for (None = any)."""

    builder: Callable[..., ImageCNN]
    image_size: int | None
    source: str


MODELS: dict[str, ModelSpec] = {
    "digits-cnn": ModelSpec(digits_cnn, 8, "course material, 8×8 digits model"),
    "mnist-cnn": ModelSpec(mnist_cnn, 28, "course material, MNIST model"),
    "wide-cnn": ModelSpec(wide_cnn, 28, "course material, Fashion-MNIST ladder rungs 2-3"),
    "wide-cnn-bn": ModelSpec(lambda s, k: wide_cnn(s, k, batch_norm=True, dropout=0.5), 28,
                             "course material, Fashion-MNIST ladder rung 4 (batch-norm + dropout)"),
    "wide-cnn-bn-head-dropout": ModelSpec(
        lambda s, k: wide_cnn(s, k, batch_norm=True, dropout=0.5, hidden_dropout=False), 28,
        "rung 4 with dropout before the output layer only (Keras's usual Dense → BN → ReLU → Dropout → Dense)"),
    "mlp-8-8": ModelSpec(mlp_8_8, 28, "course material, fully connected vs CNN on the same budget"),
    "budget-cnn": ModelSpec(budget_cnn, 28, "course material, fully connected vs CNN on the same budget"),
    "lenet5": ModelSpec(lenet5, 32, "LeCun et al. 1998"),
    "cifar-net": ModelSpec(cifar_net, 32, "PyTorch CIFAR-10 tutorial"),
    "resnet18": ModelSpec(resnet18, None, "He et al. 2016"),
}


# weight initialisation of every conv and linear layer: "torch" = PyTorch's defaults (Kaiming-uniform with a=√5
# weights, uniform biases); "keras" = Keras's Conv2D/Dense defaults (Glorot-uniform weights, Glorot & Bengio 2010;
# zero biases)
INITS: tuple[str, ...] = ("torch", "keras")


@dataclass(frozen=True)
class ImageCNNConfig:
    """What a saved image model needs to be rebuilt: the named model, its input shape, its init and batch-norm."""

    model: str = "digits-cnn"  # a key of MODELS
    in_channels: int = 1
    image_size: int = 8  # H = W
    init: str = "torch"  # one of INITS
    # batch-norm running statistics, PyTorch's convention: running = (1 - m) · running + m · batch. PyTorch's
    # default m = 0.1; Keras's BatchNormalization(momentum=0.99) weighs the old value, i.e. PyTorch m = 0.01
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5  # batch-norm ε added to the variance: PyTorch's default; Keras's is 1e-3

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}; got {self.init!r}")
        if not 0.0 < self.bn_momentum <= 1.0:
            raise ConfigError(f"bn_momentum must be in (0, 1] (PyTorch's convention: 0.1 = PyTorch's default, "
                              f"0.01 = Keras's momentum 0.99); got {self.bn_momentum!r}")
        if not self.bn_eps > 0:
            raise ConfigError(f"bn_eps must be positive; got {self.bn_eps!r}")
        if self.in_channels < 1 or self.image_size < 1:
            raise ConfigError(f"in_channels and image_size must be positive; got {self.in_channels}, "
                              f"{self.image_size}")
        native = MODELS[self.model].image_size
        if native is not None and native != self.image_size:
            fits = [name for name, m in MODELS.items() if m.image_size == self.image_size]
            hint = f"use --model {' or '.join(fits)}" if fits else "resize the images"
            raise ConfigError(f"model {self.model!r} is built for {native}×{native} images, not "
                              f"{self.image_size}×{self.image_size}; {hint}")


def build_model(config: ImageCNNConfig, n_classes: int) -> ImageCNN:
    """The module `config` describes, with `n_classes` outputs, its batch-norm settings and initial weights."""
    module = MODELS[config.model].builder((config.in_channels, config.image_size, config.image_size), n_classes)
    set_batch_norm(module, config.bn_momentum, config.bn_eps)
    if config.init == "keras":
        keras_init(module)
    return module


def set_batch_norm(module: nn.Module, momentum: float, eps: float) -> None:
    """Give every batch-norm layer of `module` this running-statistics `momentum` (PyTorch's convention) and `eps`."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.momentum, layer.eps = momentum, eps


@torch.no_grad()
def keras_init(module: nn.Module) -> None:
    """Keras's defaults for every conv and linear layer: Glorot-uniform weights, zero biases (shapes unchanged).

    Glorot & Bengio 2010: U[-b, b] with b = √(6 / (fan_in + fan_out)), fans counting the kernel's receptive field.
    """
    for layer in module.modules():
        if isinstance(layer, nn.modules.conv._ConvNd | nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (works on the meta device: nothing is allocated)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
