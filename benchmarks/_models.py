"""Benchmark models, built in code with onnx.helper and numpy, cached under benchmarks/.models/.

Nothing is downloaded: every model is generated from a few architecture parameters with random
float32 weights stored inside the .onnx file. A model is rebuilt only when its file is missing,
so delete benchmarks/.models/ after changing a builder.

The scripts run as ``python benchmarks/NAME.py``, which puts this folder on sys.path; that is
how they import this module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from archlint.model.builder import ExternalData, GraphBuilder

MODELS_DIR = Path(__file__).resolve().parent / ".models"

# The roofline figures do not matter for timing the analysis; any valid profile will do.
PROFILE_YAML = "name: bench\npeak_flops: {fp32: 2.86e12}\nmemory_bandwidth: 98.3e9\n"


# --- layers -------------------------------------------------------------------------------------


def conv(
    b: GraphBuilder,
    x: str,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
    *,
    pad: int | None = None,
    scale: float = 0.02,
) -> str:
    """A square Conv, padded k // 2 unless ``pad`` says otherwise; weights scaled by ``scale``."""
    inputs = [x, b.weight((cout, cin // groups, k, k), scale)]
    if bias:
        inputs.append(b.weight((cout,)))
    return b.op(
        "Conv",
        inputs,
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=[k // 2 if pad is None else pad] * 4,
        group=groups,
    )


def batch_norm(b: GraphBuilder, x: str, channels: int) -> str:
    c = (channels,)
    return b.op("BatchNormalization", [x, b.weight(c, 1.0), b.weight(c), b.weight(c), b.positive(c)])


def conv_bn(
    b: GraphBuilder,
    x: str,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "Relu",
) -> str:
    return activation(b, batch_norm(b, conv(b, x, cin, cout, k, stride, groups), cout), act)


def activation(b: GraphBuilder, x: str, act: str | None) -> str:
    """``act`` applied to ``x``, spelt as exporters write it; None leaves ``x`` as it is."""
    if act is None:
        return x
    if act == "Relu6":  # how torch.onnx exports nn.ReLU6
        return b.op("Clip", [x, b.const(np.array(0.0, np.float32)), b.const(np.array(6.0, np.float32))])
    if act == "SiLU":  # x * sigmoid(x): SiLU has no ONNX op, exporters spell it out
        return b.op("Mul", [x, b.op("Sigmoid", [x])])
    return b.op(act, [x])  # Relu, HardSwish, Tanh


def gemm(b: GraphBuilder, x: str, fan_in: int, fan_out: int) -> str:
    # transB=1 with an (out, in) weight is how torch.onnx exports nn.Linear.
    return b.op("Gemm", [x, b.weight((fan_out, fan_in)), b.weight((fan_out,))], transB=1)


def linear(b: GraphBuilder, x: str, fan_in: int, fan_out: int) -> str:
    """MatMul + Add: the form transformer exports use for 3-D activations."""
    return b.op("Add", [b.op("MatMul", [x, b.weight((fan_in, fan_out))]), b.weight((fan_out,))])


def classifier_head(b: GraphBuilder, x: str, channels: int, classes: int = 1000) -> str:
    pooled = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    return gemm(b, pooled, channels, classes)


def layer_norm(b: GraphBuilder, x: str, width: int) -> str:
    return b.op(
        "LayerNormalization",
        [x, b.weight((width,), 1.0), b.weight((width,))],
        axis=-1,
        epsilon=1e-5,
    )


def gelu(b: GraphBuilder, x: str) -> str:
    """The erf form, spelled out in primitives because Gelu only exists from opset 20."""
    half = b.const(np.array(0.5, np.float32))
    one = b.const(np.array(1.0, np.float32))
    root2 = b.const(np.array(np.sqrt(2.0), np.float32))
    erf = b.op("Erf", [b.op("Div", [x, root2])])
    return b.op("Mul", [b.op("Mul", [x, half]), b.op("Add", [erf, one])])


# --- whole models -------------------------------------------------------------------------------


def _residual_block(b: GraphBuilder, x: str, cin: int, cout: int, stride: int, bottleneck: bool) -> str:
    if bottleneck:
        mid = cout // 4
        y = conv_bn(b, x, cin, mid, 1)
        y = conv_bn(b, y, mid, mid, 3, stride)
        y = conv_bn(b, y, mid, cout, 1, act=None)
    else:
        y = conv_bn(b, x, cin, cout, 3, stride)
        y = conv_bn(b, y, cout, cout, 3, act=None)
    shortcut = x if stride == 1 and cin == cout else conv_bn(b, x, cin, cout, 1, stride, act=None)
    return b.op("Relu", [b.op("Add", [y, shortcut])])


def resnet(
    name: str, blocks: Sequence[int], widths: Sequence[int], bottleneck: bool = False
) -> onnx.ModelProto:
    """torchvision-style ResNet; ``widths`` are stage output channels (4x the 3x3 if bottleneck)."""
    b = GraphBuilder(name)
    stem = widths[0] // 4 if bottleneck else widths[0]
    x = conv_bn(b, b.input("x", (1, 3, 224, 224)), 3, stem, 7, 2)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = stem
    for stage, (count, width) in enumerate(zip(blocks, widths, strict=True)):
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            x = _residual_block(b, x, channels, width, stride, bottleneck)
            channels = width
    b.output(classifier_head(b, x, channels))
    return b.build()


# (expansion t, output channels c, repeats n, first stride s) of MobileNetV2.
_MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2(width: float = 1.0) -> onnx.ModelProto:
    b = GraphBuilder("mobilenet_v2")
    channels = int(32 * width)
    x = conv_bn(b, b.input("x", (1, 3, 224, 224)), 3, channels, 3, 2, act="Relu6")
    for t, c, n, s in _MOBILENET_V2:
        out = int(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = channels * t
            y = conv_bn(b, x, channels, hidden, 1, act="Relu6") if t != 1 else x
            y = conv_bn(b, y, hidden, hidden, 3, stride, groups=hidden, act="Relu6")  # depthwise
            y = conv_bn(b, y, hidden, out, 1, act=None)
            x = b.op("Add", [x, y]) if stride == 1 and channels == out else y
            channels = out
    x = conv_bn(b, x, channels, 1280, 1, act="Relu6")
    b.output(classifier_head(b, x, 1280))
    return b.build()


def vgg(config: Sequence[int | str], hidden: int) -> onnx.ModelProto:
    """VGG: 3x3 conv stacks and max-pools ('M'), then a three-layer classifier on 7x7x512."""
    b = GraphBuilder("vgg")
    x, channels = b.input("x", (1, 3, 224, 224)), 3
    for item in config:
        if item == "M":
            x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        else:
            assert isinstance(item, int)
            x = b.op("Relu", [conv(b, x, channels, item, 3, bias=True)])
            channels = item
    x = b.op("Flatten", [x], axis=1)
    x = b.op("Relu", [gemm(b, x, channels * 7 * 7, hidden)])
    x = b.op("Relu", [gemm(b, x, hidden, hidden)])
    b.output(gemm(b, x, hidden, 1000))
    return b.build()


def mlp(widths: Sequence[int]) -> onnx.ModelProto:
    b = GraphBuilder("mlp")
    x = b.input("x", ("batch", widths[0]))
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        x = gemm(b, x, fan_in, fan_out)
        if i < len(widths) - 2:
            x = b.op("Relu", [x])
    b.output(x)
    return b.build()


def _attention(b: GraphBuilder, x: str, width: int, heads: int, causal: tuple[str, str] | None = None) -> str:
    """Multi-head self-attention; ``causal`` is (bool keep-mask, fill value) for the scores."""
    head_dim = width // heads
    split = b.ints([0, 0, heads, head_dim])  # 0 copies batch and seq, so seq may stay symbolic
    q, k, v = (b.op("Reshape", [linear(b, x, width, width), split]) for _ in range(3))
    q = b.op("Transpose", [q], perm=[0, 2, 1, 3])
    k = b.op("Transpose", [k], perm=[0, 2, 3, 1])
    v = b.op("Transpose", [v], perm=[0, 2, 1, 3])
    scores = b.op("Mul", [b.op("MatMul", [q, k]), b.const(np.array(head_dim**-0.5, np.float32))])
    if causal is not None:
        scores = b.op("Where", [causal[0], scores, causal[1]])
    context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    context = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), b.ints([0, 0, width])])
    return linear(b, context, width, width)


def transformer_encoder(layers: int, width: int, heads: int, vocab: int) -> onnx.ModelProto:
    """Post-LN BERT-style encoder over token ids of symbolic length ``seq``."""
    b = GraphBuilder("transformer_encoder")
    ids = b.input("ids", ("batch", "seq"), TensorProto.INT64)
    x = b.op("Gather", [b.weight((vocab, width)), ids])
    for _ in range(layers):
        x = layer_norm(b, b.op("Add", [x, _attention(b, x, width, heads)]), width)
        ffn = linear(b, gelu(b, linear(b, x, width, 4 * width)), 4 * width, width)
        x = layer_norm(b, b.op("Add", [x, ffn]), width)
    b.output(x)
    return b.build()


def _causal_mask(b: GraphBuilder, ids: str) -> tuple[str, str]:
    """A (seq, seq) lower-triangular keep-mask computed from the ids' shape, as exports build it.

    It is a shape subgraph (Shape -> Slice -> Concat -> ConstantOfShape -> Trilu) that a static
    ``seq`` folds away, which exercises archlint's constant folding on a large model.
    """
    seq = b.op("Slice", [b.op("Shape", [ids]), b.ints([1]), b.ints([2])])
    square = b.op("Concat", [seq, seq], axis=0)
    ones = b.op("ConstantOfShape", [square], value=helper.make_tensor("one", TensorProto.BOOL, [1], [True]))
    mask = b.op("Trilu", [ones], upper=0)
    return mask, b.const(np.array(-1e9, np.float32), "neg")


@dataclass(frozen=True)
class DecoderConfig:
    layers: int = 24
    width: int = 2048
    heads: int = 16
    ffn: int = 8192
    vocab: int = 32000


def decoder(config: DecoderConfig, external: ExternalData | None = None) -> onnx.ModelProto:
    """Pre-LN GPT-style decoder: token embedding Gather, causal attention, untied LM head."""
    b = GraphBuilder("decoder", external=external)
    width = config.width
    ids = b.input("ids", ("batch", "seq"), TensorProto.INT64)
    causal = _causal_mask(b, ids)
    x = b.op("Gather", [b.weight((config.vocab, width)), ids])
    for _ in range(config.layers):
        x = b.op("Add", [x, _attention(b, layer_norm(b, x, width), width, config.heads, causal)])
        ffn = linear(b, gelu(b, linear(b, layer_norm(b, x, width), width, config.ffn)), config.ffn, width)
        x = b.op("Add", [x, ffn])
    x = layer_norm(b, x, width)
    b.output(b.op("MatMul", [x, b.weight((width, config.vocab))]))
    return b.build()


def _lstm(b: GraphBuilder, x: str, fan_in: int, hidden: int) -> str:
    w = b.weight((1, 4 * hidden, fan_in))
    r = b.weight((1, 4 * hidden, hidden))
    bias = b.weight((1, 8 * hidden))
    y = b.op("LSTM", [x, w, r, bias], hidden_size=hidden)
    return b.op("Squeeze", [y, b.ints([1])])  # (seq, 1 direction, batch, h) -> (seq, batch, h)


def lstm_model(seq: int, fan_in: int, hidden: int, classes: int) -> onnx.ModelProto:
    b = GraphBuilder("lstm")
    x = _lstm(b, b.input("x", (seq, 1, fan_in)), fan_in, hidden)
    x = _lstm(b, x, hidden, hidden)
    b.output(b.op("MatMul", [x, b.weight((hidden, classes))]))
    return b.build()


def _double_conv(b: GraphBuilder, x: str, cin: int, cout: int) -> str:
    return conv_bn(b, conv_bn(b, x, cin, cout, 3), cout, cout, 3)


def unet(widths: Sequence[int], size: int = 256, classes: int = 2) -> onnx.ModelProto:
    """Encoder-decoder with skips; deep levels upsample by ConvTranspose, shallow ones by Resize."""
    b = GraphBuilder("unet")
    x, channels = b.input("x", (1, 3, size, size)), 3
    skips: list[tuple[str, int]] = []
    for width in widths[:-1]:
        x = _double_conv(b, x, channels, width)
        skips.append((x, width))
        x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        channels = width
    x = _double_conv(b, x, channels, widths[-1])
    channels = widths[-1]
    scales = b.const(np.array([1, 1, 2, 2], np.float32))
    for depth, (skip, width) in enumerate(reversed(skips)):
        if depth < len(skips) // 2:
            up = b.op(
                "ConvTranspose",
                [x, b.weight((channels, width, 2, 2)), b.weight((width,))],
                kernel_shape=[2, 2],
                strides=[2, 2],
            )
        else:
            up = conv(b, b.op("Resize", [x, "", scales], mode="nearest"), channels, width, 1)
        x = _double_conv(b, b.op("Concat", [up, skip], axis=1), 2 * width, width)
        channels = width
    b.output(conv(b, x, channels, classes, 1, bias=True))
    return b.build()


def tiny_ops(blocks: int, width: int) -> onnx.ModelProto:
    """Thousands of nodes on a (1, width) vector: per-node overhead with almost no tensor data."""
    b = GraphBuilder("tiny_ops")
    x = b.input("x", (1, width))
    for _ in range(blocks):
        y = b.op("Add", [b.op("Mul", [x, b.weight((width,), 1.0)]), b.weight((width,))])
        y = b.op("Mul", [y, b.op("Sigmoid", [y])])  # SiLU
        x = b.op("Add", [x, y])
    b.output(x)
    return b.build()


def small_cnn() -> onnx.ModelProto:
    """About 100 KB: a model whose analysis is all process start-up (used by startup.py)."""
    b = GraphBuilder("small_cnn")
    x = conv_bn(b, b.input("x", (1, 3, 64, 64)), 3, 16, 3, 2)
    x = conv_bn(b, x, 16, 32, 3, 2)
    x = conv_bn(b, x, 32, 32, 3, 2)
    x = conv_bn(b, x, 32, 32, 3)
    b.output(classifier_head(b, x, 32, 100))
    return b.build()


# --- registry and cache -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[], onnx.ModelProto]
    # What analyze() needs to make the inputs static (symbolic dims other than the leading one).
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dims: Mapping[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return MODELS_DIR / f"{self.name}.onnx"


# Ordered roughly by file size, ~1 MB to ~190 MB.
SPEED_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("tiny_ops", lambda: tiny_ops(1200, width=64)),
    ModelSpec("resnet_small", lambda: resnet("resnet_small", (2, 2, 2, 2), (32, 64, 128, 256))),
    ModelSpec("mobilenet_v2", mobilenet_v2),
    ModelSpec("unet", lambda: unet((32, 64, 128, 256, 512))),
    ModelSpec("mlp", lambda: mlp((784, 2048, 2048, 2048, 10))),
    ModelSpec("resnet18", lambda: resnet("resnet18", (2, 2, 2, 2), (64, 128, 256, 512))),
    ModelSpec("lstm", lambda: lstm_model(seq=64, fan_in=256, hidden=1024, classes=1000)),
    ModelSpec("transformer_encoder", lambda: transformer_encoder(6, 512, 8, 8000), dims={"seq": 128}),
    ModelSpec(
        "resnet50",
        lambda: resnet("resnet50", (3, 4, 6, 3), (256, 512, 1024, 2048), bottleneck=True),
    ),
    ModelSpec("vgg11", lambda: vgg((64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"), 1024)),
    ModelSpec("wide_resnet18", lambda: resnet("wide_resnet18", (2, 2, 2, 2), (128, 256, 512, 1024))),
)

SMALL_MODEL = ModelSpec("small_cnn", small_cnn)


def ensure(spec: ModelSpec) -> Path:
    """The model's file, built first if it does not exist yet."""
    return ensure_built(spec.path, spec.build)


def ensure_built(path: Path, build: Callable[[], onnx.ModelProto]) -> Path:
    """``path``, written from ``build()`` and checked first if it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        model = build()
        onnx.checker.check_model(model)
        # Write then rename, so an interrupted build never leaves a half file that looks cached.
        partial = path.with_suffix(".partial")
        onnx.save(model, str(partial))
        partial.replace(path)
    return path


def ensure_external_decoder(config: DecoderConfig, name: str = "decoder_1b") -> Path:
    """A decoder saved with external data in its own folder, built if missing (seconds, no disk)."""
    folder = MODELS_DIR / name
    path = folder / f"{name}.onnx"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    external = ExternalData(f"{name}.onnx.data")
    model = decoder(config, external)
    external.create_file(folder)  # before the .onnx appears: its existence means "complete"
    partial = path.with_suffix(".partial")
    onnx.save(model, str(partial))
    partial.replace(path)
    onnx.checker.check_model(str(path))  # by path, so external locations are checked too
    return path


def stored_float_params(path: Path) -> tuple[int, int]:
    """(elements, tensors) over the file's floating-point initializers, read without their data.

    That is what was built, counted independently of archlint: every stored float is a parameter.
    """
    model = onnx.load(str(path), load_external_data=False)
    floats = [
        t
        for t in model.graph.initializer
        if np.issubdtype(helper.tensor_dtype_to_np_dtype(t.data_type), np.floating)
    ]
    return sum(int(np.prod(t.dims, dtype=np.int64)) for t in floats), len(floats)


def write_profile() -> Path:
    """A minimal roofline profile as YAML, next to the models.

    Built-in profiles may be absent or mid-edit in a checkout; a path ending in .yaml is loaded
    directly, without the plugin registry.
    """
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    path = MODELS_DIR / "bench.yaml"
    path.write_text(PROFILE_YAML, encoding="utf-8")
    return path
