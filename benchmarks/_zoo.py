"""A zoo of classic architectures, built in code, for checking archlint's cost figures against
published ones (and, with onnxruntime timings, its latency predictions).

Every model is written from its paper (and, where torchvision's definition is the one whose
figures are published, from torchvision's documented configuration): no download, no torch.
Weights are random float32 stored in the .onnx (``ensure_zoo``), or external-data placeholders
that cost nothing to produce (``ZooModel.build(external)``), which is how the test builds them.

Published multiply-adds are those of convolutions and fully connected / matrix products only
(SE convolutions, attention's two batched products and the classifier included); archlint also
counts elementwise work, so ``matrix_macs`` is the figure to compare. Published parameter counts
leave out BatchNorm's running mean and variance, which the ONNX files store as inputs and
archlint counts: ``batchnorm_stats`` says how many of archlint's parameters those are.

Conv weights are scaled by 1/sqrt(fan_in) rather than _models' fixed 0.02, which scales a
3x3 depthwise conv's output by about 0.06 of its input: over 20 to 120 layers activations would
drift towards subnormal floats, and the onnxruntime timings would measure denormal arithmetic
instead of the architecture. With this scale the outputs stay around 0.01 to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from _models import (
    _MOBILENET_V2,
    MODELS_DIR,
    _attention,
    activation,
    batch_norm,
    classifier_head,
    conv,
    ensure_built,
    gelu,
    gemm,
    layer_norm,
    linear,
)
from onnx import TensorProto, helper

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import ModelCost
from archlint.model.builder import ExternalData, GraphBuilder

ZOO_DIR = MODELS_DIR / "zoo"
# How far archlint's multiply-adds and parameters may be from the published figures: those are
# mostly given to two or three significant digits, and BatchNorm statistics add up to 2 %.
TOLERANCE = 0.05

# What papers count as multiply-adds: convolutions, matrix products, and an LSTM's gate products.
MATRIX_CLASSES = frozenset({OpClass.CONV, OpClass.DEPTHWISE_CONV, OpClass.MATMUL, OpClass.RECURRENT})


def matrix_macs(cost: ModelCost) -> int:
    """Multiply-adds of the convolutions and matrix products (archlint counts one as 2 FLOPs).

    For an LSTM this includes archlint's 17 pointwise FLOPs per hidden unit and step, 0.3 % of
    the gate products at hidden size 650.
    """
    return sum(n.flops for n in cost.nodes if n.op_class in MATRIX_CLASSES) // 2


def batchnorm_stats(model: onnx.ModelProto) -> int:
    """Elements of BatchNorm running means and variances: parameters to archlint, not to papers."""
    dims = {t.name: t.dims for t in model.graph.initializer}
    return sum(
        int(np.prod(dims[name], dtype=np.int64))
        for node in model.graph.node
        if node.op_type == "BatchNormalization"
        for name in node.input[3:5]
    )


# --- layers -------------------------------------------------------------------------------------


def _conv(
    b: GraphBuilder,
    x: str,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    groups: int = 1,
    *,
    bias: bool = False,
    pad: int | None = None,
) -> str:
    """_models.conv with weights scaled by 1/sqrt(fan_in) (see the module docstring)."""
    fan_in = cin // groups * k * k
    return conv(b, x, cin, cout, k, stride, groups, bias, pad=pad, scale=fan_in**-0.5)


def _cbn(
    b: GraphBuilder,
    x: str,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "Relu",
    pad: int | None = None,
) -> str:
    """Conv (no bias: the BatchNorm shift replaces it) + BatchNorm + activation."""
    return activation(b, batch_norm(b, _conv(b, x, cin, cout, k, stride, groups, pad=pad), cout), act)


def _bn_relu_conv(b: GraphBuilder, x: str, cin: int, cout: int, k: int) -> str:
    """DenseNet's pre-activation order: BatchNorm + ReLU before the conv."""
    return _conv(b, b.op("Relu", [batch_norm(b, x, cin)]), cin, cout, k)


def _max_pool(b: GraphBuilder, x: str, k: int, stride: int, pad: int = 0, ceil: bool = False) -> str:
    return b.op(
        "MaxPool", [x], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, ceil_mode=int(ceil)
    )


def _squeeze_excite(
    b: GraphBuilder, x: str, channels: int, squeezed: int, inner: str = "Relu", gate: str = "Sigmoid"
) -> str:
    """Hu et al. 2018: global pool, two 1x1 convs with bias (as torchvision writes the FCs), a gate."""
    s = b.op("GlobalAveragePool", [x])
    s = activation(b, _conv(b, s, channels, squeezed, 1, bias=True), inner)
    s = _conv(b, s, squeezed, channels, 1, bias=True)
    if gate == "HardSigmoid":  # torch's hardsigmoid is relu6(x + 3) / 6
        return b.op("Mul", [x, b.op("HardSigmoid", [s], alpha=1.0 / 6.0, beta=0.5)])
    return b.op("Mul", [x, b.op("Sigmoid", [s])])


def _split(b: GraphBuilder, x: str, sizes: Sequence[int], axis: int = 1) -> list[str]:
    """Split into parts of ``sizes`` (torch.chunk exports as this); GraphBuilder.op has one output."""
    outputs = [b.fresh("split") for _ in sizes]
    b.nodes.append(helper.make_node("Split", [x, b.ints(sizes)], outputs, name=b.fresh("Split"), axis=axis))
    return outputs


def _channel_shuffle(b: GraphBuilder, x: str, channels: int, groups: int) -> str:
    """ShuffleNet's shuffle: (N, g, C/g, HW) -> swap the two channel axes -> back to x's shape.

    The final shape comes from Shape(x), as in exports, so the builder need not track H and W.
    """
    grouped = b.op("Reshape", [x, b.ints([0, groups, channels // groups, -1])])
    swapped = b.op("Transpose", [grouped], perm=[0, 2, 1, 3])
    return b.op("Reshape", [swapped, b.op("Shape", [x])])


def _upsample2x(b: GraphBuilder, x: str) -> str:
    return b.op("Resize", [x, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled width to a multiple of 8, never more than 10 % below it.

    The rounding rule of the MobileNet and EfficientNet reference implementations, which their
    published widths (and so their published parameter counts) follow.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _image(b: GraphBuilder, size: int = 224) -> str:
    return b.input("x", (1, 3, size, size))


# --- CNN classifiers ----------------------------------------------------------------------------


def _resnet(b: GraphBuilder, blocks: Sequence[int], bottleneck: bool) -> None:
    """He et al. 2016 as torchvision builds it ("v1.5": a bottleneck strides its 3x3, not its 1x1)."""
    x = _max_pool(b, _cbn(b, _image(b), 3, 64, 7, 2), 3, 2, 1)
    cin = 64
    for stage, count in enumerate(blocks):
        mid = 64 * 2**stage
        cout = 4 * mid if bottleneck else mid
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            if bottleneck:
                y = _cbn(b, x, cin, mid, 1)
                y = _cbn(b, y, mid, mid, 3, stride)
                y = _cbn(b, y, mid, cout, 1, act=None)
            else:
                y = _cbn(b, _cbn(b, x, cin, cout, 3, stride), cout, cout, 3, act=None)
            shortcut = x if stride == 1 and cin == cout else _cbn(b, x, cin, cout, 1, stride, act=None)
            x = b.op("Relu", [b.op("Add", [y, shortcut])])
            cin = cout
    b.output(classifier_head(b, x, cin))


def _mobilenet_v2(b: GraphBuilder) -> None:
    """Sandler et al. 2018, Table 2 (the (t, c, n, s) rows in _models), width 1.0."""
    x = _cbn(b, _image(b), 3, 32, 3, 2, act="Relu6")
    cin = 32
    for t, c, n, s in _MOBILENET_V2:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = _cbn(b, x, cin, hidden, 1, act="Relu6") if t != 1 else x
            y = _cbn(b, y, hidden, hidden, 3, stride, groups=hidden, act="Relu6")
            y = _cbn(b, y, hidden, c, 1, act=None)  # linear bottleneck: no activation
            x = b.op("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    b.output(classifier_head(b, _cbn(b, x, cin, 1280, 1, act="Relu6"), 1280))


# Howard et al. 2019, Table 1: (kernel, expanded width, output width, SE, activation, stride).
_MOBILENET_V3_LARGE = (
    (3, 16, 16, False, "Relu", 1),
    (3, 64, 24, False, "Relu", 2),
    (3, 72, 24, False, "Relu", 1),
    (5, 72, 40, True, "Relu", 2),
    (5, 120, 40, True, "Relu", 1),
    (5, 120, 40, True, "Relu", 1),
    (3, 240, 80, False, "HardSwish", 2),
    (3, 200, 80, False, "HardSwish", 1),
    (3, 184, 80, False, "HardSwish", 1),
    (3, 184, 80, False, "HardSwish", 1),
    (3, 480, 112, True, "HardSwish", 1),
    (3, 672, 112, True, "HardSwish", 1),
    (5, 672, 160, True, "HardSwish", 2),
    (5, 960, 160, True, "HardSwish", 1),
    (5, 960, 160, True, "HardSwish", 1),
)


def _mobilenet_v3_large(b: GraphBuilder) -> None:
    x = _cbn(b, _image(b), 3, 16, 3, 2, act="HardSwish")
    cin = 16
    for k, hidden, cout, se, act, stride in _MOBILENET_V3_LARGE:
        y = x if hidden == cin else _cbn(b, x, cin, hidden, 1, act=act)  # no expansion when 1x
        y = _cbn(b, y, hidden, hidden, k, stride, groups=hidden, act=act)
        if se:  # squeeze to a quarter, rounded to 8, gated by hard-sigmoid (Section 5.3)
            y = _squeeze_excite(b, y, hidden, _make_divisible(hidden / 4), gate="HardSigmoid")
        y = _cbn(b, y, hidden, cout, 1, act=None)
        x = b.op("Add", [x, y]) if stride == 1 and cin == cout else y
        cin = cout
    x = _cbn(b, x, cin, 960, 1, act="HardSwish")
    # The last two layers are 1x1 convs without BatchNorm on a pooled vector: Linear layers.
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    b.output(gemm(b, b.op("HardSwish", [gemm(b, x, 960, 1280)]), 1280, 1000))


# Tan & Le 2019, Table 1 (stages 2-8): (expansion, kernel, first stride, width, layers) of B0.
_EFFICIENTNET_B0 = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


def _efficientnet(b: GraphBuilder, width: float, depth: float, size: int) -> None:
    """Compound scaling: widths x ``width`` (rounded to 8), layers x ``depth`` (rounded up)."""
    stem = _make_divisible(32 * width)
    x = _cbn(b, _image(b, size), 3, stem, 3, 2, act="SiLU")
    cin = stem
    for expand, k, first_stride, channels, layers in _EFFICIENTNET_B0:
        cout = _make_divisible(channels * width)
        for i in range(math.ceil(layers * depth)):
            stride = first_stride if i == 0 else 1
            hidden = _make_divisible(cin * expand)
            y = x if expand == 1 else _cbn(b, x, cin, hidden, 1, act="SiLU")
            y = _cbn(b, y, hidden, hidden, k, stride, groups=hidden, act="SiLU")
            # MBConv's SE squeezes to a quarter of the block's *input* width, not the expanded one.
            y = _squeeze_excite(b, y, hidden, max(1, cin // 4), inner="SiLU")
            y = _cbn(b, y, hidden, cout, 1, act=None)
            x = b.op("Add", [x, y]) if stride == 1 and cin == cout else y
            cin = cout
    head = 4 * cin  # 1280 for B0, scaled with the last stage's width
    b.output(classifier_head(b, _cbn(b, x, cin, head, 1, act="SiLU"), head))


def _shufflenet_v2(b: GraphBuilder) -> None:
    """Ma et al. 2018, Table 5, 1.0x: stage widths 116/232/464, repeats 4/8/4, conv5 1024."""
    x = _max_pool(b, _cbn(b, _image(b), 3, 24, 3, 2), 3, 2, 1)
    cin = 24
    for repeats, cout in ((4, 116), (8, 232), (4, 464)):
        half = cout // 2
        for i in range(repeats):
            if i == 0:  # downsampling unit (Fig. 3d): both branches see all of x, no split
                left = _cbn(b, _cbn(b, x, cin, cin, 3, 2, groups=cin, act=None), cin, half, 1)
                right, right_in, stride = x, cin, 2
            else:  # basic unit (Fig. 3c): half the channels pass through untouched
                left, right = _split(b, x, (half, half))
                right_in, stride = half, 1
            y = _cbn(b, right, right_in, half, 1)
            y = _cbn(b, y, half, half, 3, stride, groups=half, act=None)
            y = _cbn(b, y, half, half, 1)
            x = _channel_shuffle(b, b.op("Concat", [left, y], axis=1), cout, 2)
            cin = cout
    x = _cbn(b, x, cin, 1024, 1)
    pooled = b.op("ReduceMean", [x], axes=[2, 3], keepdims=0)  # torchvision's x.mean([2, 3])
    b.output(gemm(b, pooled, 1024, 1000))


def regnet_stages(depth: int, w0: int, wa: float, wm: float, group_width: int) -> list[tuple[int, int, int]]:
    """(width, blocks, group width) per stage from RegNet's quantized linear rule.

    Radosavovic et al. 2020, Section 3.3: block j gets u_j = w0 + wa * j, snapped to
    w0 * wm^round(log(u_j / w0) / log(wm)) and to a multiple of 8; runs of equal widths are
    stages. A group width above the stage width is clipped, and the width is then rounded to a
    multiple of the group width so the groups divide it.

    That last rounding goes half up, as torchvision's _make_divisible does, whose parameter count
    is the one we compare with: RegNetX-400MF's last stage is 392 wide before it, 400 after. The
    paper's pycls rounds half to even (384), hence its 5.2 M params and torchvision's 5.5 M.
    """
    widths: list[int] = []
    for j in range(depth):
        exponent = round(math.log((w0 + wa * j) / w0) / math.log(wm))
        widths.append(round(w0 * wm**exponent / 8) * 8)
    stages: list[tuple[int, int, int]] = []
    for width in dict.fromkeys(widths):  # distinct widths in order
        group = min(group_width, width)
        stages.append((math.floor(width / group + 0.5) * group, widths.count(width), group))
    return stages


def _regnet_x(b: GraphBuilder, depth: int, w0: int, wa: float, wm: float, group_width: int) -> None:
    """RegNetX: stem 32, X blocks (1x1, grouped 3x3, 1x1; bottleneck ratio 1), stride 2 per stage."""
    x = _cbn(b, _image(b), 3, 32, 3, 2)
    cin = 32
    for width, blocks, group in regnet_stages(depth, w0, wa, wm, group_width):
        for i in range(blocks):
            stride = 2 if i == 0 else 1
            y = _cbn(b, x, cin, width, 1)
            y = _cbn(b, y, width, width, 3, stride, groups=width // group)
            y = _cbn(b, y, width, width, 1, act=None)
            shortcut = x if stride == 1 and cin == width else _cbn(b, x, cin, width, 1, stride, act=None)
            x = b.op("Relu", [b.op("Add", [y, shortcut])])
            cin = width
    b.output(classifier_head(b, x, cin))


def _repvgg_a0(b: GraphBuilder) -> None:
    """Ding et al. 2021, RepVGG-A0 after re-parameterisation: each layer is one 3x3 conv with bias
    + ReLU (the 1x1 and identity branches and the BatchNorms are folded into it).

    Layers 1/2/4/14/1, widths min(64, 64a) and 64a/128a/256a/512b with a = 0.75, b = 2.5.
    """
    x = _image(b)
    cin = 3
    for layers, width in ((1, 48), (2, 48), (4, 96), (14, 192), (1, 1280)):
        for i in range(layers):
            x = b.op("Relu", [_conv(b, x, cin, width, 3, 2 if i == 0 else 1, bias=True)])
            cin = width
    b.output(classifier_head(b, x, cin))


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _vgg16(b: GraphBuilder) -> None:
    """Simonyan & Zisserman 2015, configuration D, as published: no BatchNorm, biased convs."""
    x, cin = _image(b), 3
    for item in _VGG16:
        if item == "M":
            x = _max_pool(b, x, 2, 2)
        else:
            assert isinstance(item, int)
            x = b.op("Relu", [_conv(b, x, cin, item, 3, bias=True)])
            cin = item
    x = b.op("Flatten", [x], axis=1)  # 7x7x512; torchvision's adaptive pool to 7x7 is a no-op here
    x = b.op("Relu", [gemm(b, x, cin * 7 * 7, 4096)])
    x = b.op("Relu", [gemm(b, x, 4096, 4096)])
    b.output(gemm(b, x, 4096, 1000))


def _fire(b: GraphBuilder, x: str, cin: int, squeeze: int, expand: int) -> str:
    """Iandola et al. 2016: a 1x1 squeeze, then 1x1 and 3x3 expands concatenated."""
    s = b.op("Relu", [_conv(b, x, cin, squeeze, 1, bias=True)])
    e1 = b.op("Relu", [_conv(b, s, squeeze, expand, 1, bias=True)])
    e3 = b.op("Relu", [_conv(b, s, squeeze, expand, 3, bias=True)])
    return b.op("Concat", [e1, e3], axis=1)


def _squeezenet_1_1(b: GraphBuilder) -> None:
    """SqueezeNet v1.1 (the official repo's revision): 3x3/64 stem, pools moved earlier."""
    x = b.op("Relu", [_conv(b, _image(b), 3, 64, 3, 2, bias=True, pad=0)])
    x = _max_pool(b, x, 3, 2, ceil=True)
    x = _fire(b, _fire(b, x, 64, 16, 64), 128, 16, 64)
    x = _max_pool(b, x, 3, 2, ceil=True)
    x = _fire(b, _fire(b, x, 128, 32, 128), 256, 32, 128)
    x = _max_pool(b, x, 3, 2, ceil=True)
    x = _fire(b, _fire(b, x, 256, 48, 192), 384, 48, 192)
    x = _fire(b, _fire(b, x, 384, 64, 256), 512, 64, 256)
    x = b.op("Relu", [_conv(b, x, 512, 1000, 1, bias=True)])  # a conv classifier, then pooling
    b.output(b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1))


def _densenet121(b: GraphBuilder, growth: int = 32, blocks: Sequence[int] = (6, 12, 24, 16)) -> None:
    """Huang et al. 2017, DenseNet-BC-121: bottleneck 4k, compression 0.5, 64 stem channels.

    Each layer concatenates *all* earlier feature maps of its block, as torchvision's forward does,
    rather than growing one running Concat: the bytes read are what an export would move.
    """
    x = _max_pool(b, _cbn(b, _image(b), 3, 64, 7, 2), 3, 2, 1)
    channels = 64
    for index, layers in enumerate(blocks):
        features, widths = [x], [channels]
        for _ in range(layers):
            joined = features[0] if len(features) == 1 else b.op("Concat", features, axis=1)
            y = _bn_relu_conv(b, joined, sum(widths), 4 * growth, 1)
            features.append(_bn_relu_conv(b, y, 4 * growth, growth, 3))
            widths.append(growth)
        x, channels = b.op("Concat", features, axis=1), sum(widths)
        if index < len(blocks) - 1:  # transition: halve channels and resolution
            x = _bn_relu_conv(b, x, channels, channels // 2, 1)
            x = b.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
            channels //= 2
    x = b.op("Relu", [batch_norm(b, x, channels)])
    b.output(classifier_head(b, x, channels))


def _convnext_tiny(b: GraphBuilder) -> None:
    """Liu et al. 2022, ConvNeXt-T: depths 3/3/9/3, widths 96/192/384/768, patchify 4x4 stem.

    LayerNorm over channels is a Transpose to channels-last, LayerNormalization, and back, as
    torchvision's LayerNorm2d exports; the block's pointwise layers are channels-last MatMuls.
    """
    to_last, to_first = [0, 2, 3, 1], [0, 3, 1, 2]

    def channel_norm(x: str, width: int) -> str:
        y = layer_norm(b, b.op("Transpose", [x], perm=to_last), width)
        return b.op("Transpose", [y], perm=to_first)

    x = channel_norm(_conv(b, _image(b), 3, 96, 4, 4, bias=True, pad=0), 96)
    cin = 96
    for stage, (depth, width) in enumerate(zip((3, 3, 9, 3), (96, 192, 384, 768), strict=True)):
        if stage > 0:  # downsampling layer: norm, then a 2x2 stride-2 conv
            x = _conv(b, channel_norm(x, cin), cin, width, 2, 2, bias=True, pad=0)
        for _ in range(depth):
            y = _conv(b, x, width, width, 7, groups=width, bias=True)
            y = layer_norm(b, b.op("Transpose", [y], perm=to_last), width)
            y = linear(b, gelu(b, linear(b, y, width, 4 * width)), 4 * width, width)
            y = b.op("Mul", [y, b.weight((width,))])  # layer scale
            x = b.op("Add", [x, b.op("Transpose", [y], perm=to_first)])
        cin = width
    pooled = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    b.output(gemm(b, layer_norm(b, pooled, cin), cin, 1000))


# --- transformers and recurrent -----------------------------------------------------------------


def _vit_b16(b: GraphBuilder, layers: int = 12, width: int = 768, heads: int = 12) -> None:
    """Dosovitskiy et al. 2021, ViT-B/16 at 224: 196 patches + a class token, pre-LN blocks."""
    patches = _conv(b, _image(b), 3, width, 16, 16, bias=True, pad=0)  # (1, 768, 14, 14)
    tokens = b.op("Transpose", [b.op("Reshape", [patches, b.ints([0, width, -1])])], perm=[0, 2, 1])
    x = b.op("Concat", [b.weight((1, 1, width)), tokens], axis=1)  # prepend the class token
    x = b.op("Add", [x, b.weight((1, 197, width))])  # learned position embeddings
    for _ in range(layers):
        x = b.op("Add", [x, _attention(b, layer_norm(b, x, width), width, heads)])
        mlp = linear(b, gelu(b, linear(b, layer_norm(b, x, width), width, 4 * width)), 4 * width, width)
        x = b.op("Add", [x, mlp])
    cls = b.op("Gather", [layer_norm(b, x, width), b.const(np.array(0, np.int64))], axis=1)
    b.output(gemm(b, cls, width, 1000))


def _bert_base(
    b: GraphBuilder, seq: int = 128, layers: int = 12, width: int = 768, heads: int = 12, vocab: int = 30522
) -> None:
    """Devlin et al. 2019, BERT-base (uncased vocabulary): post-LN encoder plus the tanh pooler.

    Position ids are the constant 0..seq-1, so that Gather folds away and archlint counts the
    gathered (seq, 768) rows as parameters instead of the 512-row table: -0.3 % against the paper.
    """
    ids = b.input("input_ids", (1, seq), TensorProto.INT64)
    types = b.input("token_type_ids", (1, seq), TensorProto.INT64)
    positions = b.const(np.arange(seq, dtype=np.int64)[None, :], "positions")
    x = b.op("Gather", [b.weight((vocab, width)), ids])
    x = b.op("Add", [x, b.op("Gather", [b.weight((2, width)), types])])
    x = b.op("Add", [x, b.op("Gather", [b.weight((512, width)), positions])])
    x = layer_norm(b, x, width)
    for _ in range(layers):
        x = layer_norm(b, b.op("Add", [x, _attention(b, x, width, heads)]), width)
        ffn = linear(b, gelu(b, linear(b, x, width, 4 * width)), 4 * width, width)
        x = layer_norm(b, b.op("Add", [x, ffn]), width)
    b.output(x)
    cls = b.op("Gather", [x, b.const(np.array(0, np.int64))], axis=1)
    b.output(b.op("Tanh", [gemm(b, cls, width, width)]))


def _lstm_lm(b: GraphBuilder, seq: int = 35, hidden: int = 650, vocab: int = 10000) -> None:
    """Zaremba et al. 2014, the "medium" Penn Treebank LSTM language model: a 650-wide embedding,
    two LSTM layers of 650, a softmax layer over 10k words at every step (35 unrolled steps).
    """
    ids = b.input("ids", (seq, 1), TensorProto.INT64)  # (seq, batch): ONNX LSTM's default layout
    x = b.op("Gather", [b.weight((vocab, hidden)), ids])
    for _ in range(2):
        w = b.weight((1, 4 * hidden, hidden), hidden**-0.5)
        r = b.weight((1, 4 * hidden, hidden), hidden**-0.5)
        y = b.op("LSTM", [x, w, r, b.weight((1, 8 * hidden))], hidden_size=hidden)
        x = b.op("Squeeze", [y, b.ints([1])])  # (seq, directions, batch, h) -> (seq, batch, h)
    b.output(linear(b, x, hidden, vocab))


# --- detector -----------------------------------------------------------------------------------


def _yolo_conv(b: GraphBuilder, x: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
    return _cbn(b, x, cin, cout, k, stride, act="SiLU")


def _c3(b: GraphBuilder, x: str, cin: int, cout: int, n: int, shortcut: bool = True) -> str:
    """CSP bottleneck with three convs: half the width goes through n bottlenecks, half around."""
    mid = cout // 2
    y = _yolo_conv(b, x, cin, mid, 1)
    for _ in range(n):
        z = _yolo_conv(b, _yolo_conv(b, y, mid, mid, 1), mid, mid, 3)
        y = b.op("Add", [y, z]) if shortcut else z
    joined = b.op("Concat", [y, _yolo_conv(b, x, cin, mid, 1)], axis=1)
    return _yolo_conv(b, joined, 2 * mid, cout, 1)


def _sppf(b: GraphBuilder, x: str, cin: int, cout: int) -> str:
    """Spatial pyramid pooling, fast: three chained 5x5 max-pools stand for 5, 9 and 13."""
    mid = cin // 2
    y = _yolo_conv(b, x, cin, mid, 1)
    pooled = [y]
    for _ in range(3):
        pooled.append(_max_pool(b, pooled[-1], 5, 1, 2))
    return _yolo_conv(b, b.op("Concat", pooled, axis=1), 4 * mid, cout, 1)


def _yolov5s(b: GraphBuilder, size: int = 640, classes: int = 80) -> None:
    """YOLOv5s v6+/v7.0 (ultralytics models/yolov5s.yaml): depth 0.33, width 0.50, 6x6 stem conv.

    Backbone P1-P5 with C3 blocks (1/2/3/1 bottlenecks) and SPPF; FPN top-down then PAN bottom-up
    neck (nearest Resize + Concat, C3 without shortcuts); a 1x1 detect conv per level (P3/P4/P5)
    giving 3 anchors x (80 classes + 5). The exported head's reshape, transpose and sigmoid are
    kept; the box decoding (a few elementwise ops on the grid) is left out.
    """
    x = _cbn(b, _image(b, size), 3, 32, 6, 2, act="SiLU", pad=2)
    x = _c3(b, _yolo_conv(b, x, 32, 64, 3, 2), 64, 64, 1)
    p3 = _c3(b, _yolo_conv(b, x, 64, 128, 3, 2), 128, 128, 2)
    p4 = _c3(b, _yolo_conv(b, p3, 128, 256, 3, 2), 256, 256, 3)
    p5 = _c3(b, _yolo_conv(b, p4, 256, 512, 3, 2), 512, 512, 1)
    p5 = _sppf(b, p5, 512, 512)
    lateral5 = _yolo_conv(b, p5, 512, 256, 1)
    up4 = _c3(b, b.op("Concat", [_upsample2x(b, lateral5), p4], axis=1), 512, 256, 1, shortcut=False)
    lateral4 = _yolo_conv(b, up4, 256, 128, 1)
    out3 = _c3(b, b.op("Concat", [_upsample2x(b, lateral4), p3], axis=1), 256, 128, 1, shortcut=False)
    down4 = b.op("Concat", [_yolo_conv(b, out3, 128, 128, 3, 2), lateral4], axis=1)
    out4 = _c3(b, down4, 256, 256, 1, shortcut=False)
    down5 = b.op("Concat", [_yolo_conv(b, out4, 256, 256, 3, 2), lateral5], axis=1)
    out5 = _c3(b, down5, 512, 512, 1, shortcut=False)
    per_anchor = classes + 5
    heads = []
    for feature, channels in ((out3, 128), (out4, 256), (out5, 512)):
        y = _conv(b, feature, channels, 3 * per_anchor, 1, bias=True)
        y = b.op("Reshape", [y, b.ints([0, 3, per_anchor, -1])])
        y = b.op("Sigmoid", [b.op("Transpose", [y], perm=[0, 1, 3, 2])])
        heads.append(b.op("Reshape", [y, b.ints([0, -1, per_anchor])]))
    b.output(b.op("Concat", heads, axis=1))  # (1, 25200, 85) at 640


# --- registry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooModel:
    name: str
    body: Callable[[GraphBuilder], None]  # adds inputs, nodes and outputs to an empty builder
    input_desc: str  # for tables: the input's shape in words
    published_macs: float  # multiply-adds of convolutions and matrix products, batch 1
    published_params: float  # an int when the source gives the exact count, not a rounded one
    source: str  # where the two figures are published
    # What analyze() needs to make inputs static; every zoo model has static inputs already.
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dims: Mapping[str, int] = field(default_factory=dict)

    def build(self, external: ExternalData | None = None) -> onnx.ModelProto:
        b = GraphBuilder(self.name, external=external)
        self.body(b)
        return b.build()

    @property
    def path(self) -> Path:
        return ZOO_DIR / f"{self.name}.onnx"


_TV = "torchvision model docs (num_params, GFLOPS = multiply-adds)"

# Published figures. Where torchvision publishes the exact parameter count of the same layers we
# build, that count is used; its GFLOPS column is multiply-adds (ResNet-50's 4.09 is He et al.'s
# 3.8 G "FLOPs" for v1, i.e. multiply-adds, plus the v1.5 stride change).
#
# What remains between archlint and these figures (benchmarks/zoo_check.py prints it):
# - params: less BatchNorm statistics, exact wherever the figure is an exact count (but for a few
#   scalar constants, e.g. GELU's 0.5, 1 and sqrt(2), which archlint counts as weights); BERT's
#   -0.7 % is the folded position-embedding Gather (see _bert_base) plus the paper rounding
#   109.48 M to 110 M; the LSTM's -1.1 % is 19.78 M rounded to 20 M; YOLOv5s's 7.2 M rounds
#   7.235 M (the unfused model), the rest is BatchNorm statistics.
# - multiply-adds: mostly the rounding of the figure (RepVGG-A0's 1.36 G published as 1.4 G:
#   -2.8 %; EfficientNet-B0's 0.386 G as 0.39 G: -1.1 %). MobileNetV3-Large's paper says 219 M;
#   torchvision's and Keras's tables say 217 M for the same layers, which is what we count.
#   BERT's 22.5 B FLOPs is 0.7 % over 2 x our 11.17 G: the paper does not say what else it counts.
ZOO: tuple[ZooModel, ...] = (
    ZooModel("resnet18", lambda b: _resnet(b, (2, 2, 2, 2), False), "1x3x224x224", 1.81e9, 11_689_512, _TV),
    ZooModel("resnet50", lambda b: _resnet(b, (3, 4, 6, 3), True), "1x3x224x224", 4.09e9, 25_557_032, _TV),
    ZooModel(
        "mobilenet_v2",
        _mobilenet_v2,
        "1x3x224x224",
        300e6,
        3_504_872,
        "Sandler et al. 2018, Table 4 (300 M multiply-adds); params: " + _TV,
    ),
    ZooModel(
        "mobilenet_v3_large",
        _mobilenet_v3_large,
        "1x3x224x224",
        219e6,
        5_483_032,
        "Howard et al. 2019, Table 3 (219 M MAdds); params: " + _TV,
    ),
    ZooModel(
        "efficientnet_b0",
        lambda b: _efficientnet(b, 1.0, 1.0, 224),
        "1x3x224x224",
        0.39e9,
        5_288_548,
        "Tan & Le 2019, Table 2 (0.39 B FLOPs = multiply-adds); params: " + _TV,
    ),
    ZooModel(
        "efficientnet_b3",
        lambda b: _efficientnet(b, 1.2, 1.4, 300),
        "1x3x300x300",
        1.83e9,
        12_233_232,
        _TV + "; Tan & Le 2019, Table 2: 1.8 B FLOPs, 12 M params",
    ),
    ZooModel(
        "shufflenet_v2_1x",
        _shufflenet_v2,
        "1x3x224x224",
        146e6,
        2_278_604,
        "Ma et al. 2018, Table 8 (146 M FLOPs = multiply-adds); params: " + _TV,
    ),
    ZooModel(
        "regnetx_400mf",
        lambda b: _regnet_x(b, depth=22, w0=24, wa=24.48, wm=2.54, group_width=16),
        "1x3x224x224",
        0.41e9,
        5_495_976,
        _TV + "; d=22, w0=24, wa=24.48, wm=2.54, g=16 (Radosavovic et al. 2020, pycls model zoo)",
    ),
    ZooModel(
        "repvgg_a0_deploy",
        _repvgg_a0,
        "1x3x224x224",
        1.4e9,
        8.30e6,
        "Ding et al. 2021, Table 4 (inference-time params 8.30 M, theoretical FLOPs 1.4 B = MACs)",
    ),
    ZooModel("vgg16", _vgg16, "1x3x224x224", 15.47e9, 138_357_544, _TV + " (vgg16, no BatchNorm)"),
    ZooModel("squeezenet1_1", _squeezenet_1_1, "1x3x224x224", 0.35e9, 1_235_496, _TV),
    ZooModel("densenet121", _densenet121, "1x3x224x224", 2.83e9, 7_978_856, _TV),
    ZooModel("vit_b_16", _vit_b16, "1x3x224x224", 17.56e9, 86_567_656, _TV),
    ZooModel(
        "bert_base",
        _bert_base,
        "1x128 token ids",
        22.5e9 / 2,
        110e6,
        "Devlin et al. 2019, Section 3 (110 M params); Jiao et al. 2020 (TinyBERT), Table 1: "
        "22.5 B FLOPs at sequence 128, counted as 2 per multiply-add",
    ),
    ZooModel(
        "lstm_lm_medium",
        _lstm_lm,
        "35x1 token ids",
        35 * (2 * 4 * 650 * (650 + 650) + 650 * 10000),
        20e6,
        "Zaremba et al. 2014 medium LSTM (20 M params as listed by Merity et al. 2018, Table 1); "
        "no multiply-adds are published: 35 steps x (2 layers x 4 gates x 650 x 1300 + 650 x 10k)",
    ),
    ZooModel(
        "yolov5s",
        _yolov5s,
        "1x3x640x640",
        16.5e9 / 2,
        7.2e6,
        "ultralytics/yolov5 README v7.0 table: 7.2 M params, 16.5 GFLOPs at 640 (thop MACs x 2)",
    ),
    ZooModel("convnext_tiny", _convnext_tiny, "1x3x224x224", 4.46e9, 28_589_128, _TV),
)


def ensure_zoo(spec: ZooModel) -> Path:
    """The model's file with random weights, built and checked first if it does not exist yet."""
    return ensure_built(spec.path, spec.build)


def runtime_inputs(path: Path) -> dict[str, tuple[list[int], str]]:
    """A zoo model's inputs that are not initializers: name -> (static shape, numpy dtype name)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    stored = {t.name for t in graph.initializer}
    return {
        i.name: (
            [d.dim_value for d in i.type.tensor_type.shape.dim],
            helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name,
        )
        for i in graph.input
        if i.name not in stored
    }
