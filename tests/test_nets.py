"""Networks of reference-spec §4.1: shapes, widths and parameter counts computed by hand, init, registry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from yoco import nets
from yoco.errors import YocoError


def _n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ---------------------------------------------------------------- ConvNet


def test_convnet_d3_cifar10_shapes_and_parameter_count():
    net = nets.ConvNet(10)  # width 128, depth 3, 32 px, instance norm
    x = torch.randn(2, 3, 32, 32)
    assert net.embed(x).shape == (2, 2048)  # 128 channels x (32 / 2^3)^2 = 128 x 16
    assert net(x).shape == (2, 10)
    # By hand: conv1 3*128*9 + 128 = 3 584; conv2, conv3 128*128*9 + 128 = 147 584 each;
    # three GroupNorm(128) with weight + bias = 3 * 256 = 768; Linear 2048*10 + 10 = 20 490.
    assert _n_params(net) == 3_584 + 2 * 147_584 + 768 + 20_490 == 320_010


def test_convnet_norm_is_one_group_per_channel():
    net = nets.ConvNet(10, width=8, image_size=8)
    norms = list(net.layers["norm"])
    assert len(norms) == 3
    for norm in norms:
        assert isinstance(norm, nn.GroupNorm) and norm.num_groups == norm.num_channels == 8 and norm.affine
    # Instance norm: after conv -> norm of the first block with fresh affine (1, 0), every
    # (image, channel) map has mean 0.
    x = torch.randn(3, 3, 8, 8)
    h = net.layers["norm"][0](net.layers["conv"][0](x))
    assert torch.allclose(h.mean(dim=(-2, -1)), torch.zeros(3, 8), atol=1e-5)


@pytest.mark.parametrize("width,depth,size", [(16, 3, 16), (8, 2, 8), (4, 1, 6)])
def test_convnet_embed_width_follows_the_pooling(width, depth, size):
    net = nets.ConvNet(7, width=width, depth=depth, image_size=size)
    side = size // 2**depth
    assert net.num_features == width * side * side
    x = torch.randn(2, 3, size, size)
    assert net.embed(x).shape == (2, width * side * side)
    assert torch.equal(net(x), net.classifier(net.embed(x)))


def test_convnet_rejects_sizes_the_pooling_cannot_halve():
    with pytest.raises(YocoError, match="divisible by 8"):
        nets.ConvNet(10, image_size=28)
    with pytest.raises(YocoError, match="normalisation"):
        nets.ConvNet(10, norm="instanse")


# ---------------------------------------------------------------- DenseNet / ResNets


def test_densenet_width_is_384_by_construction():
    # 24 -> +6*12 = 96 -> /2 = 48 -> +12*12 = 192 -> 96 -> +24*12 = 384 -> 192 -> +16*12 = 384.
    net = nets.DenseNetCifar(10)
    assert net.num_features == 384
    assert net.linear.in_features == 384
    assert net.trans1.conv.out_channels == 48
    assert net.trans2.conv.out_channels == 96
    assert net.trans3.conv.out_channels == 192
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    assert net.embed(x).shape == (2, 384)
    assert net(x).shape == (2, 10)


def test_densenet_blocks_scale_the_121_layout_down():
    # growth 6: 12 -> +1*6 = 18 -> /2 = 9 -> +2*6 = 21 -> 10 -> +4*6 = 34 -> 17 -> +3*6 = 35.
    net = nets.build_network("densenet", 10, image_size=16, width=6, blocks=[1, 2, 4, 3])
    bottlenecks = [m for m in net.modules() if isinstance(m, nets._DenseBottleneck)]
    assert len(bottlenecks) == 1 + 2 + 4 + 3
    assert net.num_features == 35 and net.trans3.conv.out_channels == 17
    assert net.eval()(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    # Without blocks it is DenseNet-121's 6 + 12 + 24 + 16 bottlenecks.
    full = nets.build_network("densenet", 10, image_size=16, width=6)
    assert sum(isinstance(m, nets._DenseBottleneck) for m in full.modules()) == 58
    with pytest.raises(YocoError, match="convnet has none"):
        nets.build_network("convnet", 10, image_size=16, width=6, blocks=[1, 2, 4, 3])
    with pytest.raises(YocoError, match="at least 1"):
        nets.DenseNetCifar(10, nblocks=(1, 0, 1, 1))


def test_a_spec_with_blocks_builds_the_same_network_from_a_list_or_a_tuple():
    # A model file stores the spec as a dict: its blocks may come back as a list, which must not make
    # the spec unhashable (train.py caches per spec) nor change the network.
    from yoco.train import NetworkSpec

    a = NetworkSpec("densenet", 10, 16, 6, blocks=[1, 2, 4, 3])
    b = NetworkSpec("densenet", 10, 16, 6, blocks=(1, 2, 4, 3))
    assert a == b and hash(a) == hash(b)
    wa, wb = a.build(5).state_dict(), b.build(5).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resnet10bn_layout_and_forward():
    net = nets.ResNet10BN(10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    # stem + 4 blocks x 2 convs + 3 shortcut convs (stages 2-4 change width and stride).
    assert len(convs) == 1 + 8 + 3
    assert [
        net.layer1[0].conv1.out_channels,
        net.layer2[0].conv1.out_channels,
        net.layer3[0].conv1.out_channels,
        net.layer4[0].conv1.out_channels,
    ] == [32, 64, 128, 256]
    assert net.layer2[0].conv1.stride == (2, 2) and net.layer1[0].downsample is None
    assert net.fc.in_features == 256
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 10)
    assert net.embed(x).shape == (2, 256)


def test_resnetap_stems_follow_the_image_size():
    large = nets.ResNetAP(10, width=8, image_size=224)
    assert large.layer0.conv1.kernel_size == (7, 7) and large.layer0.pool_size == 4
    assert large.layer0.conv1.bias is None  # no bias before a norm
    small = nets.ResNetAP(10, width=8, image_size=32)
    assert small.layer0.conv1.kernel_size == (3, 3) and small.layer0.pool_size == 1
    # Downsampling is an average pool, never a strided conv.
    assert all(m.stride == (1, 1) for m in large.modules() if isinstance(m, nn.Conv2d))
    assert large(torch.randn(1, 3, 224, 224)).shape == (1, 10)
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert small.embed(torch.randn(2, 3, 32, 32)).shape == (2, 64)  # 8 x width


def test_resnetap_init_matches_the_reference_formula():
    torch.manual_seed(0)
    net = nets.ResNetAP(10)
    w = net.layer4[0].conv2.weight  # 512 x 512 x 3 x 3 = 2.4 M draws
    expected = math.sqrt(2.0 / (3 * 3 * 512))  # N(0, sqrt(2 / (k^2 out)))
    assert abs(w.std().item() / expected - 1) < 0.01
    assert abs(w.mean().item()) < expected * 0.01
    for m in net.modules():
        if isinstance(m, nn.GroupNorm):
            assert m.num_groups == m.num_channels
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


@pytest.mark.parametrize("name", ["convnet", "resnetap10", "resnet10bn", "densenet"])
def test_every_network_embeds_then_classifies(name):
    net = nets.init_network(name, 5, seed=3, image_size=16, width=8).eval()
    x = torch.randn(2, 3, 16, 16)
    feats = net.embed(x)
    assert feats.shape == (2, net.num_features)
    head = getattr(net, "classifier", None) or getattr(net, "fc", None) or net.linear
    assert torch.allclose(net(x), head(feats))


# ---------------------------------------------------------------- registry and seeding


def test_init_network_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = nets.init_network("convnet", 10, seed=7, width=16)
    after = torch.rand(3)
    assert torch.equal(before, after)
    b = nets.init_network("convnet", 10, seed=7, width=16)
    c = nets.init_network("convnet", 10, seed=8, width=16)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.layers["conv"][0].weight, c.layers["conv"][0].weight)
    # Same draws as building under torch.manual_seed(7), like the reference does.
    torch.manual_seed(7)
    d = nets.ConvNet(10, width=16)
    assert torch.equal(a.classifier.weight, d.classifier.weight)


def test_build_network_errors_and_options():
    with pytest.raises(YocoError, match="Did you mean 'convnet'") as err:
        nets.build_network("convnett", 10)
    assert "resnet10bn" in str(err.value) and "densenet" in str(err.value)
    with pytest.raises(YocoError):
        nets.uses_batchnorm("resnet18")
    net = nets.build_network("convnet", 4, image_size=8, width=6, depth=2, channels=1)
    assert net.layers["conv"][0].in_channels == 1 and net.num_features == 6 * 2 * 2
    with pytest.raises(YocoError, match="seed"):
        nets.init_network("convnet", 10, seed=-1)


@pytest.mark.parametrize("name", nets.network_names())
def test_uses_batchnorm_matches_the_modules(name):
    net = nets.build_network(name, 3, image_size=16, width=4)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    assert nets.uses_batchnorm(name) == has_bn
    assert nets.uses_batchnorm(name) == (name in ("resnet10bn", "densenet"))


def test_convnet_trains_as_a_vmapped_stack():
    """The batched trainer's premise: a stack of instance-norm ConvNets under vmap == one at a time."""
    from torch.func import functional_call, stack_module_state, vmap

    models = [nets.init_network("convnet", 4, seed=s, image_size=8, width=6) for s in range(3)]
    params, buffers = stack_module_state(models)
    x = torch.randn(3, 5, 3, 8, 8)

    def run(p, b, xb):
        return functional_call(models[0], (p, b), (xb,))

    stacked = vmap(run)(params, buffers, x)
    alone = torch.stack([m(x[i]) for i, m in enumerate(models)])
    assert torch.allclose(stacked, alone, atol=1e-5)


def test_the_network_check_leaves_the_seeded_stream_where_it_was():
    """check_network builds a narrow probe network: its initialisation must not consume the global
    generator, or every model built after the first check would start from other weights."""
    from yoco.nets import check_network

    check_network.cache_clear()
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    check_network("convnet", 10, 16, 8)
    check_network("densenet", 10, 16, 6)
    assert torch.equal(torch.rand(4), expected)
