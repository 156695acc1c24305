"""The four networks of the YOCO experiments (reference-spec §4.1), and a registry to build them.

=============  ==============================================  ==========================================
registry key   class                                           used for
=============  ==============================================  ==========================================
``convnet``    :class:`ConvNet` (depth 3, width 128, IN)       CIFAR dynamics, evaluation, condensation
``resnetap10`` :class:`ResNetAP` (depth 10, IN)                ImageNet-10 dynamics, evaluation, condensation
``resnet10bn`` :class:`ResNet10BN`                             Table 3 "ResNet" (CIFAR)
``densenet``   :class:`DenseNetCifar`                          Table 3 "DenseNet" (CIFAR)
=============  ==============================================  ==========================================

Every network exposes ``embed(x)`` (the features fed to the final linear layer; DREAM's k-means and
SSP use it) and ``num_features`` (their width), and ``forward(x) == classifier(embed(x))``.

Module names, construction order and initialisation follow the reference code, so the state-dict keys
match the authors' checkpoints and, for a given ``torch.manual_seed``, a network is initialised with the
same values as the reference builds. Activations are never in-place, so the instance-norm networks can
be evaluated under ``torch.func.vmap`` (the batched trainer); the BatchNorm networks cannot (their running
statistics are buffers updated in place), see :func:`uses_batchnorm`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .errors import YocoError, unknown_choice
from .seeding import MAX_SEED

__all__ = [
    "ConvNet",
    "ResNetAP",
    "ResNet10BN",
    "DenseNetCifar",
    "NETWORKS",
    "build_network",
    "init_network",
    "uses_batchnorm",
    "network_names",
]

_NORMS = ("instance", "batch", "group", "layer", "none")


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise YocoError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_norm(norm: str, allowed: tuple[str, ...]) -> str:
    if norm not in allowed:
        raise unknown_choice("normalisation", norm, allowed)
    return norm


def _conv_init_(module: nn.Module) -> None:
    """The reference ResNets' init: conv weights N(0, sqrt(2 / (k_h k_w out))), norms weight 1 bias 0.

    Applied in ``self.modules()`` order after construction, exactly like the reference, so that the
    sequence of draws from the global generator is the same.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.GroupNorm)) and m.weight.is_meta:
            # A meta-device build (a shape check) has no values to draw, and its in-place init would
            # import torch._dynamo through torch's reference ops: ~1 s for every job that checks a ResNet.
            continue
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, math.sqrt(2.0 / n))
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


# --------------------------------------------------------------------------------------------------
# ConvNet
# --------------------------------------------------------------------------------------------------


class ConvNet(nn.Module):
    """ConvNet-D{depth} of the dataset-condensation literature (``models/convnet.py:ConvNet``).

    ``depth`` x [Conv 3x3 (padding 1, bias) -> norm -> ReLU -> AvgPool 2x2], flatten, Linear.
    With the defaults (width 128, depth 3, instance norm, 32 px) the features are 128 x 4 x 4 = 2048.

    Parameters
    ----------
    num_classes : int
        Output width of the classifier.
    width : int, default 128
        Channels of every conv layer.
    depth : int, default 3
        Number of conv blocks; every block halves the spatial size.
    image_size : int, default 32
        Side of the (square) input; must be divisible by ``2**depth``.
    channels : int, default 3
        Input channels.
    norm : {"instance", "batch", "group", "layer", "none"}, default "instance"
        "instance" is ``GroupNorm(width, width)`` (one group per channel, affine), as in the reference;
        "group" is ``GroupNorm(4, width)``; "layer" is ``LayerNorm([width, h, w])``.

    Notes
    -----
    PyTorch's default initialisation is used, as in the reference. The reference special-cases 28-px
    single-channel inputs (MNIST: padding 3 in the first conv, treated as 32 px); no dataset of this
    project needs that, so every conv has padding 1 and ``image_size`` must be divisible instead.
    """

    def __init__(
        self,
        num_classes: int,
        width: int = 128,
        depth: int = 3,
        image_size: int = 32,
        channels: int = 3,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        num_classes = _check_positive("num_classes", num_classes)
        width = _check_positive("width", width)
        depth = _check_positive("depth", depth)
        image_size = _check_positive("image_size", image_size)
        channels = _check_positive("channels", channels)
        _check_norm(norm, _NORMS)
        if image_size % (2**depth):
            raise YocoError(
                f"ConvNet of depth {depth} halves the image {depth} times, so image_size must be "
                f"divisible by {2**depth}; got {image_size}. Resize the images or lower the depth."
            )
        self.depth = depth
        self.norm = norm
        # Same ModuleDict layout as the reference, so state-dict keys ("layers.conv.0.weight", ...)
        # match its checkpoints.
        conv, norms, act, pool = [], [], [], []
        in_ch, side = channels, image_size
        for _ in range(depth):
            conv.append(nn.Conv2d(in_ch, width, kernel_size=3, padding=1))
            if norm != "none":
                norms.append(self._norm_layer(norm, width, side))
            act.append(nn.ReLU())
            pool.append(nn.AvgPool2d(kernel_size=2, stride=2))
            in_ch, side = width, side // 2
        self.layers = nn.ModuleDict(
            {
                "conv": nn.ModuleList(conv),
                "norm": nn.ModuleList(norms),
                "act": nn.ModuleList(act),
                "pool": nn.ModuleList(pool),
            }
        )
        self.num_features = width * side * side
        self.classifier = nn.Linear(self.num_features, num_classes)

    @staticmethod
    def _norm_layer(norm: str, width: int, side: int) -> nn.Module:
        if norm == "instance":
            return nn.GroupNorm(width, width, affine=True)
        if norm == "batch":
            return nn.BatchNorm2d(width, affine=True)
        if norm == "group":
            return nn.GroupNorm(4, width, affine=True)
        return nn.LayerNorm([width, side, side], elementwise_affine=True)  # "layer"

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened features before the classifier, ``[N, num_features]``."""
        has_norm = len(self.layers["norm"]) > 0
        for d in range(self.depth):
            x = self.layers["conv"][d](x)
            if has_norm:
                x = self.layers["norm"][d](x)
            x = self.layers["act"][d](x)
            x = self.layers["pool"][d](x)
        return x.reshape(x.shape[0], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


# --------------------------------------------------------------------------------------------------
# ResNet-AP (average-pool downsampling, ImageNet-10)
# --------------------------------------------------------------------------------------------------


def _norm2d(channels: int, norm: str) -> nn.Module:
    if norm == "instance":
        return nn.GroupNorm(channels, channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()  # "none"


class _IntroBlockAP(nn.Module):
    """ResNet-AP stem: conv (stride 1) -> norm -> ReLU -> optional average pool."""

    def __init__(self, net_size: str, planes: int, norm: str, channels: int) -> None:
        super().__init__()
        self.net_size = net_size
        kernel = 7 if net_size == "large" else 3
        # The reference gives convs a bias only when there is no normalisation after them.
        self.conv1 = nn.Conv2d(channels, planes, kernel, stride=1, padding=kernel // 2, bias=norm == "none")
        self.bn1 = _norm2d(planes, norm)
        self.relu = nn.ReLU()
        self.pool_size = {"large": 4, "mid": 2, "small": 1}[net_size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.pool_size > 1:
            x = F.avg_pool2d(x, kernel_size=self.pool_size, stride=self.pool_size)
        return x


class _BasicBlockAP(nn.Module):
    """Basic block whose stride is a 2x2 average pool after the first conv (not a strided conv)."""

    def __init__(self, inplanes: int, planes: int, norm: str, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        bias = norm == "none"
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=1, padding=1, bias=bias)
        self.bn1 = _norm2d(planes, norm)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=bias)
        self.bn2 = _norm2d(planes, norm)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        if self.stride != 1:
            out = F.avg_pool2d(out, kernel_size=self.stride, stride=self.stride)
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class ResNetAP(nn.Module):
    """ResNet with average-pool downsampling (``models/resnet_ap.py:ResNetAP``, ImageNet branch).

    Stem, chosen from ``image_size`` exactly as the reference chooses it from ``size``:

    * ``image_size > 128`` ("large", the ImageNet-10 case at 224 px): Conv 7x7 stride 1 -> norm ->
      ReLU -> AvgPool 4x4 (224 -> 56);
    * ``64 < image_size <= 128`` ("mid"): Conv 3x3 -> norm -> ReLU -> AvgPool 2x2;
    * ``image_size <= 64`` ("small", e.g. 32 px): Conv 3x3 -> norm -> ReLU, no pooling, so that small
      images keep enough resolution for the three downsampling stages.

    Then four stages of ``{10: 1, 18: 2, 34: 3-4-6-3}`` basic blocks with widths ``width x 1/2/4/8``
    (64/128/256/512 by default); stages 2-4 downsample by a 2x2 average pool after the block's first
    conv, with a shortcut 1x1 conv -> AvgPool 2 -> norm. Global average pool -> Linear(8 width, C).
    Convs are initialised N(0, sqrt(2/(k^2 out))), norms with weight 1 and bias 0; the linear layer keeps
    PyTorch's default.

    Parameters
    ----------
    num_classes : int
    depth : {10, 18, 34}, default 10
    width : int, default 64
        Channels of the stem and first stage (the reference's ``int(64 * width)`` multiplier).
    norm : {"instance", "batch", "none"}, default "instance"
    image_size : int, default 224
    channels : int, default 3
    """

    _LAYERS = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(
        self,
        num_classes: int,
        depth: int = 10,
        width: int = 64,
        norm: str = "instance",
        image_size: int = 224,
        channels: int = 3,
    ) -> None:
        super().__init__()
        num_classes = _check_positive("num_classes", num_classes)
        width = _check_positive("width", width)
        image_size = _check_positive("image_size", image_size)
        channels = _check_positive("channels", channels)
        _check_norm(norm, ("instance", "batch", "none"))
        if depth not in self._LAYERS:
            raise YocoError(f"ResNetAP depth must be one of {sorted(self._LAYERS)}, got {depth!r}.")
        self.net_size = "small" if image_size <= 64 else "mid" if image_size <= 128 else "large"
        stem_pool = {"large": 4, "mid": 2, "small": 1}[self.net_size]
        if image_size % (stem_pool * 8):
            raise YocoError(
                f"ResNetAP with a {self.net_size} stem divides the image by {stem_pool * 8}; "
                f"image_size {image_size} is not divisible by it. Resize the images."
            )
        self.norm = norm
        self.inplanes = width
        blocks = self._LAYERS[depth]
        self.layer0 = _IntroBlockAP(self.net_size, width, norm, channels)
        self.layer1 = self._make_layer(width, blocks[0], stride=1)
        self.layer2 = self._make_layer(width * 2, blocks[1], stride=2)
        self.layer3 = self._make_layer(width * 4, blocks[2], stride=2)
        self.layer4 = self._make_layer(width * 8, blocks[3], stride=2)
        self.num_features = width * 8
        self.fc = nn.Linear(self.num_features, num_classes)
        _conv_init_(self)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=1, bias=self.norm == "none"),
                nn.AvgPool2d(kernel_size=stride, stride=stride),
                _norm2d(planes, self.norm),
            )
        layers = [_BasicBlockAP(self.inplanes, planes, self.norm, stride=stride, downsample=downsample)]
        self.inplanes = planes
        layers += [_BasicBlockAP(planes, planes, self.norm) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled last-stage features, ``[N, 8 width]``."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.layer0(x)))))
        # The reference pools with a kernel of the feature side (square inputs); the mean over both
        # spatial axes is the same thing and also accepts non-square inputs.
        return x.mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(x))


# --------------------------------------------------------------------------------------------------
# ResNet-10 with BatchNorm (CIFAR variant, Table 3 "ResNet")
# --------------------------------------------------------------------------------------------------


class _IntroBlockCifar(nn.Module):
    def __init__(self, planes: int, norm: str, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = _norm2d(planes, norm)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn1(self.conv1(x)))


class _BasicBlock(nn.Module):
    """Torchvision-style basic block: strided 3x3 conv, 1x1-conv + norm shortcut."""

    def __init__(self, inplanes: int, planes: int, norm: str, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _norm2d(planes, norm)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = _norm2d(planes, norm)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class ResNet10BN(nn.Module):
    """The CIFAR ResNet-10 of Table 3 (``models/resnet.py:ResNet('cifar10', 10, C, 'batch')``).

    Conv 3x3 (32 ch, no bias) -> BN -> ReLU; four stages of one basic block each, widths 32/64/128/256,
    stages 2-4 with stride-2 3x3 convs and a 1x1-conv (stride 2) + BN shortcut; global average pool ->
    Linear(256, C). Conv init N(0, sqrt(2/(k^2 out))), BN weight 1 bias 0. Note: this is ResNet-10 with
    BatchNorm, not the ResNet-18 the paper's wording suggests (reference-spec §8 item 20).

    The reference pools with a kernel of the feature side, i.e. globally; at 32 px that is the
    4x4 pool of its ``avgpool`` attribute. The global mean used here is identical at 32 px and also
    works for other sizes.

    Parameters
    ----------
    num_classes : int
    channels : int, default 3
    norm : {"batch", "instance"}, default "batch"
        "instance" gives a vmap-friendly variant that is *not* the network of Table 3.
    width : int, default 32
        First-stage channels (the stages have 1, 2, 4, 8 times as many); 32 is the reference's.
    """

    def __init__(self, num_classes: int, channels: int = 3, norm: str = "batch", width: int = 32) -> None:
        super().__init__()
        num_classes = _check_positive("num_classes", num_classes)
        channels = _check_positive("channels", channels)
        width = _check_positive("width", width)
        _check_norm(norm, ("batch", "instance"))
        self.norm = norm
        self.inplanes = width
        self.layer0 = _IntroBlockCifar(width, norm, channels)
        self.layer1 = self._make_layer(width, stride=1)
        self.layer2 = self._make_layer(2 * width, stride=2)
        self.layer3 = self._make_layer(4 * width, stride=2)
        self.layer4 = self._make_layer(8 * width, stride=2)
        self.num_features = 8 * width
        self.fc = nn.Linear(8 * width, num_classes)
        _conv_init_(self)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        # (depth - 2) // 6 = 1 block per stage for depth 10.
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False),
                _norm2d(planes, self.norm),
            )
        block = _BasicBlock(self.inplanes, planes, self.norm, stride=stride, downsample=downsample)
        self.inplanes = planes
        return nn.Sequential(block)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled last-stage features, ``[N, 8 width]`` (256 at the reference width)."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.layer0(x)))))
        return x.mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(x))


# --------------------------------------------------------------------------------------------------
# DenseNet (CIFAR, growth 12; Table 3 "DenseNet")
# --------------------------------------------------------------------------------------------------


class _DenseBottleneck(nn.Module):
    def __init__(self, in_planes: int, growth_rate: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, 4 * growth_rate, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth_rate)
        self.conv2 = nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        # New features first, as in the reference (matters for loading its checkpoints).
        return torch.cat([out, x], dim=1)


class _Transition(nn.Module):
    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNetCifar(nn.Module):
    """DenseNet-121 layout with growth rate 12 (``models/densenet_cifar.py:densenet_cifar``).

    Conv 3x3 (channels -> 2g); dense blocks of ``nblocks`` bottlenecks (BN-ReLU-1x1 conv to 4g,
    BN-ReLU-3x3 conv to g, concatenated), separated by transitions (BN-ReLU-1x1 conv to
    ``floor(reduction * planes)`` -> AvgPool 2); final BN -> ReLU -> global average pool -> Linear.
    With the defaults the widths are 24 -> 96 -> 48 -> 192 -> 96 -> 384 -> 192 -> 384, so the
    classifier is Linear(384, C). PyTorch default init, as in the reference.

    The reference ends with a fixed 4x4 average pool, which is global at 32 px (32 / 2^3 = 4); the
    global mean used here is identical there and also accepts other sizes divisible by 8.

    Parameters
    ----------
    num_classes : int
    channels : int, default 3
    growth_rate : int, default 12
    nblocks : tuple of 4 ints, default (6, 12, 24, 16)
    reduction : float, default 0.5
    """

    def __init__(
        self,
        num_classes: int,
        channels: int = 3,
        growth_rate: int = 12,
        nblocks: tuple[int, int, int, int] = (6, 12, 24, 16),
        reduction: float = 0.5,
    ) -> None:
        super().__init__()
        num_classes = _check_positive("num_classes", num_classes)
        channels = _check_positive("channels", channels)
        self.growth_rate = _check_positive("growth_rate", growth_rate)
        if len(nblocks) != 4 or any(int(n) != n or n < 1 for n in nblocks):
            raise YocoError(f"DenseNetCifar needs 4 dense-block lengths of at least 1, got {tuple(nblocks)!r}.")
        if not 0 < reduction <= 1:
            raise YocoError(f"reduction must lie in (0, 1], got {reduction!r}.")
        planes = 2 * growth_rate
        self.conv1 = nn.Conv2d(channels, planes, kernel_size=3, padding=1, bias=False)
        self.dense1 = self._dense(planes, nblocks[0])
        planes += nblocks[0] * growth_rate
        out = int(math.floor(planes * reduction))
        self.trans1 = _Transition(planes, out)
        planes = out
        self.dense2 = self._dense(planes, nblocks[1])
        planes += nblocks[1] * growth_rate
        out = int(math.floor(planes * reduction))
        self.trans2 = _Transition(planes, out)
        planes = out
        self.dense3 = self._dense(planes, nblocks[2])
        planes += nblocks[2] * growth_rate
        out = int(math.floor(planes * reduction))
        self.trans3 = _Transition(planes, out)
        planes = out
        self.dense4 = self._dense(planes, nblocks[3])
        planes += nblocks[3] * growth_rate
        self.num_features = planes
        self.bn = nn.BatchNorm2d(planes)
        self.linear = nn.Linear(planes, num_classes)

    def _dense(self, in_planes: int, n: int) -> nn.Sequential:
        layers = []
        for _ in range(n):
            layers.append(_DenseBottleneck(in_planes, self.growth_rate))
            in_planes += self.growth_rate
        return nn.Sequential(*layers)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled final features, ``[N, num_features]`` (384 by default)."""
        out = self.conv1(x)
        out = self.trans1(self.dense1(out))
        out = self.trans2(self.dense2(out))
        out = self.trans3(self.dense3(out))
        out = self.dense4(out)
        return F.relu(self.bn(out)).mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.embed(x))


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------

NETWORKS: dict[str, type[nn.Module]] = {
    "convnet": ConvNet,
    "resnetap10": ResNetAP,
    "resnet10bn": ResNet10BN,
    "densenet": DenseNetCifar,
}

# The paper's width of each network: ConvNet channels, ResNet first-stage channels, DenseNet growth rate.
DEFAULT_WIDTH = {"convnet": 128, "resnetap10": 64, "resnet10bn": 32, "densenet": 12}

# How the common build_network arguments map onto each constructor.
_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "convnet": lambda c, size, width, depth, ch: ConvNet(c, width=width, depth=depth, image_size=size, channels=ch),
    "resnetap10": lambda c, size, width, depth, ch: ResNetAP(c, depth=10, width=width, image_size=size, channels=ch),
    "resnet10bn": lambda c, size, width, depth, ch: ResNet10BN(c, channels=ch, width=width),
    "densenet": lambda c, size, width, depth, ch: DenseNetCifar(c, channels=ch, growth_rate=width),
}

_BATCHNORM = frozenset({"resnet10bn", "densenet"})


def network_names() -> list[str]:
    """The registry keys accepted by :func:`build_network`, sorted."""
    return sorted(NETWORKS)


def _check_name(name: str) -> str:
    if name not in NETWORKS:
        raise unknown_choice("network", name, NETWORKS)
    return name


@functools.lru_cache(maxsize=64)
def check_network(name: str, num_classes: int, image_size: int, width: int, depth: int = 3, channels: int = 3) -> int:
    """Refuse a network that cannot be built or cannot take its images; return its parameter count.

    The network is built on the meta device (shapes only, no memory) to count its parameters, and a
    narrow copy runs a forward pass of two images, so an image too small for its strides, or one that leaves instance norm a single value per
    channel (which it normalises to 0: a network that learns nothing), and a width or image size whose
    parameters alone exceed the machine's memory are refused before anything is allocated. Cached per
    architecture: every model built after the first costs nothing here.
    """
    from .memory import check_fits

    with torch.device("meta"):
        net = _FACTORIES[name](num_classes, image_size, width, depth, channels)
    n_params = sum(p.numel() for p in net.parameters())
    check_fits(
        4 * n_params,
        f"network {name} of width {width} on {image_size}x{image_size} images ({n_params:.3g} parameters)",
        "choose a smaller width (--width) or image size (--image-size)",
    )
    single: list[str] = []

    def hook(module, inputs, _output):
        x = inputs[0]
        if x.shape[1] // module.num_groups * math.prod(x.shape[2:]) == 1:
            single.append(f"{tuple(x.shape[2:])} maps")

    # Feature-map shapes do not depend on the width, so the pass runs on a real CPU network at most
    # 4 wide: a few milliseconds, where a meta-device pass imports torch's decompositions (~1.5 s, paid
    # by every job of a workflow). Images too large for a real pass (rare) take the meta path.
    probe_width = min(width, 4)
    probe_bytes = 2 * 4 * max(channels, 16 * probe_width) * image_size * image_size * 4
    if probe_bytes <= 2**30:
        with torch.random.fork_rng(devices=[]):  # the probe's initialisation must not move the seeded stream
            net = _FACTORIES[name](num_classes, image_size, probe_width, depth, channels)
        images = torch.zeros(2, channels, image_size, image_size)
    else:
        images = torch.zeros(2, channels, image_size, image_size, device="meta")
    for m in net.modules():
        if isinstance(m, nn.GroupNorm):
            m.register_forward_hook(hook)
    try:
        with torch.no_grad():
            net.train()(images)
    except (RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise YocoError(
            f"network {name} cannot take {image_size}x{image_size} images ({reason}); use larger images "
            "(yoco data --image-size) or another --network"
        ) from None
    if single:
        raise YocoError(
            f"network {name} shrinks {image_size}x{image_size} images to 1x1 feature maps at its instance "
            "norm, which normalises every value to 0 (the network would learn nothing); use larger images "
            f"(yoco data --image-size {2 * image_size} or more) or --network convnet"
        )
    return n_params


def build_network(
    name: str,
    num_classes: int,
    image_size: int = 32,
    width: int | None = None,
    depth: int = 3,
    channels: int = 3,
    blocks: Sequence[int] | None = None,
) -> nn.Module:
    """Build a freshly initialised network from the registry (draws from the global torch RNG).

    Parameters
    ----------
    name : {"convnet", "resnetap10", "resnet10bn", "densenet"}
    num_classes : int
    image_size : int, default 32
        Input side. Sets ConvNet's classifier width and ResNetAP's stem (see :class:`ResNetAP`); the
        other two networks pool globally and accept any size their strides divide.
    width : int, optional
        ConvNet channels, ResNet first-stage channels or DenseNet growth rate; default the paper's
        (``DEFAULT_WIDTH``: 128, 64, 32, 12). Smaller widths serve quick CPU configurations.
    depth : int, default 3
        ConvNet only (the paper's ConvNet-D3).
    channels : int, default 3
    blocks : 4 ints, optional
        DenseNet only: bottlenecks per dense block; default DenseNet-121's ``(6, 12, 24, 16)``. Fewer
        serve quick CPU configurations (each bottleneck is a few small convolutions whose per-call
        overhead, not arithmetic, bounds a CPU step at small widths).

    Returns
    -------
    torch.nn.Module
        On the CPU; move it with ``.to(device)``. Use :func:`init_network` for reproducible weights.
    """
    _check_name(name)
    width = DEFAULT_WIDTH[name] if width is None else width
    if blocks is not None and name != "densenet":
        raise YocoError(f"blocks sets DenseNet's dense blocks; {name} has none (leave blocks out)")
    if torch.empty(0).device.type != "meta":
        # Checked with DenseNet-121's blocks when blocks are given: a superset of the shapes and memory.
        check_network(name, num_classes, image_size, width, depth, channels)
    if blocks is not None:
        return DenseNetCifar(num_classes, channels=channels, growth_rate=width, nblocks=tuple(blocks))
    return _FACTORIES[name](num_classes, image_size, width, depth, channels)


def init_network(name: str, num_classes: int, seed: int, device: str | torch.device | None = None, **kw) -> nn.Module:
    """Build a network whose weights depend only on ``seed`` (and the architecture).

    The network is constructed on the CPU inside ``torch.random.fork_rng`` with ``torch.manual_seed(seed)``,
    so the global RNG state is left untouched and the weights are bit-identical on every machine; it
    is then moved to ``device``.

    Parameters
    ----------
    name, num_classes
        As in :func:`build_network`.
    seed : int
        Any non-negative integer (e.g. from :func:`yoco.seeding.seed_from`).
    device : str or torch.device, optional
        Where to put the network; stays on the CPU when omitted.
    **kw
        Forwarded to :func:`build_network` (``image_size``, ``width``, ``depth``, ``channels``, ``blocks``).
    """
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= int(seed) <= MAX_SEED:
        raise YocoError(f"seed must be a whole number from 0 to 2**64 - 1, got {seed!r}.")
    _check_name(name)
    # devices=[]: construction happens on the CPU, so no CUDA generator needs saving (and none is
    # initialised as a side effect).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = build_network(name, num_classes, **kw)
    return net if device is None else net.to(device)


def uses_batchnorm(name: str) -> bool:
    """Whether the network has BatchNorm layers (running statistics updated in place).

    Such networks cannot be trained as a stack of models under ``torch.func.vmap`` and need the
    sequential training path; ``convnet`` and ``resnetap10`` (instance norm) can.
    """
    return _check_name(name) in _BATCHNORM
