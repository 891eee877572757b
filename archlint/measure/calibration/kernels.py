"""Microbenchmarks for fixed costs per op class and for op types with figures of their own.

A small network (a 16-token transformer layer of width 128, a 64x64 image through a few convs)
spends most of its time in what each kernel costs before it does any arithmetic, and that cost
differs by kernel: a LayerNormalization or a batched MatMul sets up more than a Relu. Each op
class is therefore measured at two kinds of size: chains of ``SMALL_CHAIN`` operators of the
sizes small networks have, where the fixed cost dominates, and (in micro.class_benches) large
ones, where the roofline does. The two kinds let fit.py separate a class's efficiency from its
fixed cost. Op types whose kernels run far from their class's figures (transcendental functions,
normalizations over a row, Softmax) get the same pair of their own.

Sizes follow the shapes the operators have in transformers and small convnets (hidden 128 to
768, 4 to 12 heads, 16 to 128 tokens), fixed here, never read off any model that the profile is
later judged on. Chains that onnxruntime would collapse (Transpose after Transpose, Reshape after
Reshape) run with graph optimizations off: the kernel is the same one the engine runs in a
network, it is only kept from cancelling its neighbour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from archlint.analysis.costs.record import OpClass
from archlint.measure.calibration.micro import (
    CHAIN,
    ClassBench,
    Micro,
    _Graph,
    binary_chain,
    conv_chain,
    unary_chain,
)

#: Operators per fixed-cost chain: enough that the run's own fixed cost is a small part.
SMALL_CHAIN = 16


def _label(op: str, shape: Sequence[int]) -> str:
    return f"{op} {'x'.join(map(str, shape))} x{SMALL_CHAIN}"


def small_unary(op_type: str, shape: Sequence[int], **attrs: Any) -> Micro:
    return unary_chain(op_type, shape, SMALL_CHAIN, **attrs)


def small_binary(op_type: str, shape: Sequence[int]) -> Micro:
    return binary_chain(op_type, shape, SMALL_CHAIN)


def small_layer_norm(rows: int, width: int, chain: int = SMALL_CHAIN) -> Micro:
    g = _Graph((rows, width))
    y = "x"
    for _ in range(chain):
        scale, bias = g.const(np.ones(width, np.float32)), g.const(np.zeros(width, np.float32))
        y = g.op("LayerNormalization", [y, scale, bias], axis=-1)
    name = (
        _label("LayerNormalization", (rows, width))
        if chain == SMALL_CHAIN
        else f"LayerNormalization {rows}x{width}"
    )
    return Micro(name, g.finish(y), g.shape)


def small_matmul(rows: int, width: int) -> Micro:
    """A linear layer of a small transformer: [rows, width] through square weights."""
    g = _Graph((rows, width))
    y = "x"
    for _ in range(SMALL_CHAIN):
        y = g.op("MatMul", [y, g.he_weight((width, width), width)])
    return Micro(_label("MatMul", (rows, width, width)), g.finish(y), g.shape)


def attention_matmuls(heads: int, tokens: int, depth: int, chain: int = SMALL_CHAIN) -> Micro:
    """Batched per-head products, alternately scores (q k^T) and context (p v), as attention has."""
    g = _Graph((heads, tokens, depth))
    y = "x"
    rng = np.random.default_rng(2)
    for index in range(chain):
        inner, outer = (depth, tokens) if index % 2 == 0 else (tokens, depth)
        other = (rng.standard_normal((heads, inner, outer)) / np.sqrt(inner)).astype(np.float32)
        y = g.op("MatMul", [y, g.const(other)])
    label = f"MatMul batched {heads}x{tokens}x{depth} (attention) x{chain}"
    return Micro(label, g.finish(y), g.shape)


def transposes(shape: tuple[int, int, int, int]) -> Micro:
    """Heads split from and merged into tokens: [b, t, h, d] <-> [b, h, t, d]."""
    return transpose_chain(shape, (0, 2, 1, 3), SMALL_CHAIN)


def transpose_chain(shape: Sequence[int], perm: Sequence[int], chain: int) -> Micro:
    """``chain`` Transposes by ``perm``, each of the last one's output (a swap of two axes undoes
    itself, so a chain of it alternates between two layouts). Graph optimizations off: onnxruntime
    folds consecutive Transposes into one."""
    g = _Graph(tuple(shape))
    y = "x"
    for _ in range(chain):
        y = g.op("Transpose", [y], perm=list(perm))
    label = f"Transpose {'x'.join(map(str, shape))} perm {''.join(map(str, perm))} x{chain}"
    return Micro(label, g.finish(y), g.shape, optimization="disabled")


def quantize_pairs(shape: Sequence[int]) -> Micro:
    """QuantizeLinear and DequantizeLinear in turn, as a QDQ model has them around the operators
    the engine keeps in float. Graph optimizations off: onnxruntime drops a Q -> DQ pair of one
    scale, which a model's pairs around a float operator are not."""
    g = _Graph(tuple(shape))
    scale, zero = g.const(np.array(0.05, np.float32)), g.const(np.array(128, np.uint8))
    y = "x"
    for index in range(SMALL_CHAIN):
        y = g.op("QuantizeLinear" if index % 2 == 0 else "DequantizeLinear", [y, scale, zero])
    label = _label("QuantizeLinear/DequantizeLinear", tuple(shape))
    return Micro(label, g.finish(y), g.shape, optimization="disabled")


def reshapes(shape: tuple[int, int, int]) -> Micro:
    rows, heads, depth = shape
    g = _Graph(shape)
    y = "x"
    for index in range(SMALL_CHAIN):
        target = [rows, heads * depth] if index % 2 == 0 else [rows, heads, depth]
        y = g.op("Reshape", [y, g.ints(target)])
    return Micro(_label("Reshape", shape), g.finish(y), g.shape, optimization="disabled")


def gathers(rows: int, width: int) -> Micro:
    """Row lookups (an embedding, a token selection) with a fixed set of indices."""
    g = _Graph((rows, width))
    indices = g.const(np.arange(rows, dtype=np.int64)[::-1].copy())
    y = "x"
    for _ in range(SMALL_CHAIN):
        y = g.op("Gather", [y, indices], axis=0)
    return Micro(_label("Gather", (rows, width)), g.finish(y), g.shape)


def concats(rows: int, width: int) -> Micro:
    """Concat then Slice back, so the chain keeps its size (a cache append, a class token)."""
    g = _Graph((rows, width))
    extra = g.const(np.ones((1, width), np.float32))
    start, end, axis = g.ints([1]), g.ints([rows + 1]), g.ints([0])
    y = "x"
    for _ in range(SMALL_CHAIN // 2):
        y = g.op("Concat", [extra, y], axis=0)
        y = g.op("Slice", [y, start, end, axis])
    return Micro(f"Concat+Slice {rows}x{width} x{SMALL_CHAIN}", g.finish(y), g.shape)


def small_reduce(rows: int, width: int) -> Micro:
    g = _Graph((rows, width))
    y = "x"
    for _ in range(SMALL_CHAIN):  # the first reduces the rows, the rest their means: all small
        y = g.op("ReduceMean", [y], axes=[-1], keepdims=1)
    return Micro(_label("ReduceMean", (rows, width)), g.finish(y), g.shape)


def fixed_cost_benches() -> tuple[ClassBench, ...]:
    """Per op class, small shapes where the fixed cost per kernel is most of the time."""
    return (
        ClassBench(OpClass.CONV, (conv_chain(32, 16, 3), conv_chain(64, 8, 3))),
        ClassBench(
            OpClass.DEPTHWISE_CONV, (conv_chain(64, 16, 3, groups=64), conv_chain(128, 8, 3, groups=128))
        ),
        ClassBench(
            OpClass.MATMUL,
            (small_matmul(16, 128), attention_matmuls(4, 16, 32), attention_matmuls(12, 128, 64, 4)),
        ),
        ClassBench(
            OpClass.ELEMENTWISE,
            (
                small_binary("Add", (16, 128)),
                small_binary("Mul", (1, 64, 16, 16)),
                small_unary("Relu", (16, 512)),
            ),
        ),
        ClassBench(OpClass.NORMALIZATION, (small_layer_norm(16, 128),)),
        ClassBench(OpClass.REDUCTION, (small_reduce(16, 128),)),
        ClassBench(OpClass.DATA_MOVEMENT, (transposes((1, 16, 4, 32)), gathers(16, 128), concats(16, 128))),
        ClassBench(OpClass.VIEW, (reshapes((16, 4, 32)),)),
        ClassBench(OpClass.QUANTIZE, (quantize_pairs((16, 128)), quantize_pairs((1, 64, 16, 16)))),
    )


def conv_integer(channels: int, size: int) -> Micro:
    """One 3x3 ConvInteger (uint8 activations, int8 weights, int32 out): dynamic quantization's conv."""
    g = _Graph((1, channels, size, size), TensorProto.UINT8)
    w = np.random.default_rng(5).integers(-64, 64, (channels, channels, 3, 3), dtype=np.int8)
    y = g.op("ConvInteger", ["x", g.const(w)], kernel_shape=[3, 3], pads=[1] * 4)
    return Micro(f"ConvInteger 3x3 {channels}ch {size}x{size}", g.finish(y, TensorProto.INT32), g.shape)


def matmul_integer(rows: int, width: int) -> Micro:
    g = _Graph((rows, width), TensorProto.UINT8)
    w = np.random.default_rng(6).integers(-64, 64, (width, width), dtype=np.int8)
    y = g.op("MatMulInteger", ["x", g.const(w)])
    return Micro(f"MatMulInteger {rows}x{width}x{width}", g.finish(y, TensorProto.INT32), g.shape)


def dynamic_quantize(shape: Sequence[int]) -> Micro:
    """DynamicQuantizeLinear: a float tensor's range, then the tensor in uint8."""
    g = _Graph(shape)
    y, scale, zero = g.fresh("q"), g.fresh("scale"), g.fresh("zero")
    g.nodes.append(helper.make_node("DynamicQuantizeLinear", ["x"], [y, scale, zero], name=g.fresh("dql")))
    label = f"DynamicQuantizeLinear {'x'.join(map(str, shape))}"
    return Micro(label, g.finish(y, TensorProto.UINT8), g.shape)


# --- onnxruntime's fused and quantized kernels -------------------------------------------------
# Models that onnxruntime's transformer optimizer or quantizer wrote carry com.microsoft kernels
# (SkipLayerNormalization, BiasGelu, FastGelu) and QLinear operators; their set-up differs from
# that of the operators they replace.

_MICROSOFT = "com.microsoft"


def _contrib(name: str, output: str, g: _Graph, elem_type: int, opset: int = 17) -> Micro:
    """``g`` with ``output``, holding operators onnx's own shape inference does not know (or not
    at the builder's opset): built without it."""
    graph = helper.make_graph(
        g.nodes,
        "micro",
        g.inputs,
        [helper.make_tensor_value_info(output, elem_type, list(g.shape))],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid(_MICROSOFT, 1)]
    return Micro(name, helper.make_model(graph, opset_imports=opsets), g.shape)


def _chain(g: _Graph, op_type: str, operands: Sequence[str], chain: int, domain: str = "") -> str:
    """``chain`` ``op_type`` operators, each reading the last one's output and ``operands``."""
    y = "x"
    for _ in range(chain):
        y = g.op(op_type, [y, *operands], domain=domain)
    return y


#: Pairs onnxruntime may replace by a kernel of its own: (producer, follower).
KERNEL_CANDIDATES = (("Add", "LayerNormalization"), ("Add", "Gelu"))


def kernel_probe(producer: str, follower: str) -> Micro:
    """``follower(producer(x, c))`` on a [1, 16, 128] hidden state: a residual sum into a
    LayerNormalization, a bias into a Gelu, as a transformer layer has them."""
    g = _Graph((1, 16, 128))
    other = g.const(np.full((1, 16, 128) if follower == "LayerNormalization" else (128,), 0.5, np.float32))
    extra = (
        [g.const(np.ones(128, np.float32)), g.const(np.zeros(128, np.float32))]
        if follower == "LayerNormalization"
        else []
    )
    y = g.op(follower, [g.op(producer, ["x", other]), *extra])
    return _contrib(f"{producer} -> {follower} 1x16x128", y, g, TensorProto.FLOAT, opset=20)


def gelus(rows: int, width: int, chain: int = SMALL_CHAIN) -> Micro:
    """ONNX's own Gelu (opset 20), which the torch.onnx dynamo exporter writes."""
    g = _Graph((rows, width))
    y = _chain(g, "Gelu", [], chain)
    return _contrib(f"Gelu {rows}x{width} x{chain}", y, g, TensorProto.FLOAT, opset=20)


def skip_layer_norms(rows: int, width: int, chain: int = SMALL_CHAIN) -> Micro:
    """Residual sum and LayerNormalization in one kernel, as onnxruntime fuses them."""
    g = _Graph((rows, width))
    skip = g.const(np.full((rows, width), 0.5, np.float32))
    gamma, beta = g.const(np.ones(width, np.float32)), g.const(np.zeros(width, np.float32))
    y = _chain(g, "SkipLayerNormalization", [skip, gamma, beta], chain, _MICROSOFT)
    return _contrib(f"SkipLayerNormalization {rows}x{width} x{chain}", y, g, TensorProto.FLOAT)


def bias_activations(op_type: str, rows: int, width: int, chain: int = SMALL_CHAIN) -> Micro:
    """BiasGelu or FastGelu: a bias add and a Gelu in one kernel."""
    g = _Graph((rows, width))
    y = _chain(g, op_type, [g.const(np.full(width, 0.01, np.float32))], chain, _MICROSOFT)
    return _contrib(f"{op_type} {rows}x{width} x{chain}", y, g, TensorProto.FLOAT)


def _quantization(g: _Graph, scale: float) -> tuple[str, str]:
    return g.const(np.array(scale, np.float32)), g.const(np.array(128, np.uint8))


def qlinear_binaries(
    op_type: str, shape: Sequence[int], other_shape: Sequence[int] | None = None, chain: int = SMALL_CHAIN
) -> Micro:
    """QLinearAdd or QLinearMul on uint8 tensors; ``other_shape``: a broadcast operand (a
    transformer's bias row, an attention scale) instead of one of the same shape."""
    g = _Graph(shape, TensorProto.UINT8)
    other = g.const(np.full(tuple(shape if other_shape is None else other_shape), 130, np.uint8))
    scale, zero = _quantization(g, 0.05)
    y = _chain(g, op_type, [scale, zero, other, scale, zero, scale, zero], chain, _MICROSOFT)
    broadcast = "" if other_shape is None else f" by {'x'.join(map(str, other_shape)) or 'scalar'}"
    label = f"{op_type} {'x'.join(map(str, shape))}{broadcast} x{chain}"
    return _contrib(label, y, g, TensorProto.UINT8)


def qlinear_softmaxes(shape: Sequence[int], chain: int = SMALL_CHAIN) -> Micro:
    """onnxruntime's QLinearSoftmax over the last axis, as attention scores have it."""
    g = _Graph(shape, TensorProto.UINT8)
    scale, zero = _quantization(g, 0.05)
    out_scale, out_zero = g.const(np.array(1 / 256, np.float32)), g.const(np.array(0, np.uint8))
    y = "x"
    for _ in range(chain):
        y = g.op(
            "QLinearSoftmax", [y, scale, zero, out_scale, out_zero], domain=_MICROSOFT, axis=-1, opset=13
        )
    return _contrib(f"QLinearSoftmax {'x'.join(map(str, shape))} x{chain}", y, g, TensorProto.UINT8)


def qlinear_matmuls(rows: int, width: int, chain: int = SMALL_CHAIN) -> Micro:
    g = _Graph((rows, width), TensorProto.UINT8)
    scale, zero = _quantization(g, 0.05)
    w_zero = g.const(np.array(0, np.int8))
    rng = np.random.default_rng(7)
    y = "x"
    for _ in range(chain):
        w = g.const(rng.integers(-64, 64, (width, width), dtype=np.int8))
        y = g.op("QLinearMatMul", [y, scale, zero, w, scale, w_zero, scale, zero])
    return Micro(f"QLinearMatMul {rows}x{width}x{width} x{chain}", g.finish(y, TensorProto.UINT8), g.shape)


def qlinear_convs(channels: int, size: int, chain: int = CHAIN) -> Micro:
    g = _Graph((1, channels, size, size), TensorProto.UINT8)
    rng = np.random.default_rng(8)
    y = "x"
    for _ in range(chain):
        y = _qlinear_conv(g, y, rng.integers(-64, 64, (channels, channels, 3, 3), dtype=np.int8))
    label = f"QLinearConv 3x3 {channels}ch {size}x{size} x{chain}"
    return Micro(label, g.finish(y, TensorProto.UINT8), g.shape)


def qlinear_conv(channels: int, out: int, size: int, kernel: int, stride: int = 1) -> Micro:
    """One QLinearConv: ``channels`` -> ``out`` on a ``size`` x ``size`` uint8 image."""
    g = _Graph((1, channels, size, size), TensorProto.UINT8)
    weight = np.random.default_rng(9).integers(-64, 64, (out, channels, kernel, kernel), dtype=np.int8)
    y = _qlinear_conv(g, "x", weight, stride)
    label = f"QLinearConv {kernel}x{kernel} s{stride} {channels}->{out}ch {size}x{size}"
    return Micro(label, g.finish(y, TensorProto.UINT8), g.shape)


def _qlinear_conv(g: _Graph, x: str, weight: np.ndarray[Any, Any], stride: int = 1) -> str:
    """A same-padded QLinearConv of ``x`` by the int8 ``weight``, one scale for all three tensors."""
    scale, zero = _quantization(g, 0.05)
    kernel = weight.shape[-1]
    return g.op(
        "QLinearConv",
        [x, scale, zero, g.const(weight), scale, g.const(np.array(0, np.int8)), scale, zero],
        kernel_shape=[kernel, kernel],
        strides=[stride, stride],
        pads=[kernel // 2] * 4,
    )


def narrow_qlinear_convs() -> tuple[Micro, ...]:
    """Integer convs whose few input channels make copying taps (im2col) their main work: RGB
    stems (3x3 and 7x7 stride 2, as classification and detection backbones begin) and the 8- and
    16-channel convs of small image and audio networks."""
    return (
        qlinear_conv(3, 32, 56, 3),
        qlinear_conv(3, 32, 112, 7, stride=2),
        qlinear_conv(8, 32, 56, 3),
        qlinear_conv(16, 32, 56, 3),
    )


@dataclass(frozen=True)
class OpTypeBench:
    """An op type measured for figures of its own: small and large shapes of it alone."""

    op_type: str
    op_class: OpClass
    micros: tuple[Micro, ...]


def _pair(op_type: str, small: Sequence[int], large: Sequence[int], **attrs: Any) -> tuple[Micro, ...]:
    return small_unary(op_type, small, **attrs), unary_chain(op_type, large, **attrs)


OP_TYPE_BENCHES: tuple[tuple[str, OpClass, Callable[[], tuple[Micro, ...]]], ...] = (
    (
        "LayerNormalization",
        OpClass.NORMALIZATION,
        lambda: (small_layer_norm(16, 128), small_layer_norm(128, 768, 4)),
    ),
    ("Softmax", OpClass.ELEMENTWISE, lambda: _pair("Softmax", (4, 16, 16), (12, 128, 128), axis=-1)),
    ("Erf", OpClass.ELEMENTWISE, lambda: _pair("Erf", (16, 512), (128, 3072))),
    ("Gelu", OpClass.ELEMENTWISE, lambda: (gelus(16, 512), gelus(128, 3072, 4))),
    ("Tanh", OpClass.ELEMENTWISE, lambda: _pair("Tanh", (16, 512), (128, 3072))),
    ("Sigmoid", OpClass.ELEMENTWISE, lambda: _pair("Sigmoid", (1, 64, 16, 16), (1, 144, 56, 56))),
    ("Sqrt", OpClass.ELEMENTWISE, lambda: _pair("Sqrt", (16, 1), (128, 768))),
    # Transposes move every element once but, strided, run well below a copy's rate: the head
    # swap of a transformer (BERT-base: 128 tokens, 12 heads of 64), a Swin-T window partition (a
    # 56 x 56 x 96 map in windows of 7: a 6-D swap) and its attention's 5-D q/k/v head split.
    (
        "Transpose",
        OpClass.DATA_MOVEMENT,
        lambda: (
            transposes((1, 16, 4, 32)),
            transpose_chain((1, 128, 12, 64), (0, 2, 1, 3), 4),
            transpose_chain((1, 8, 7, 8, 7, 96), (0, 1, 3, 2, 4, 5), 4),
            transpose_chain((64, 49, 3, 3, 32), (2, 0, 3, 1, 4), 1),
        ),
    ),
    # Integer kernels of dynamically quantized models: single kernels, as their int32 outputs
    # cannot feed the next one without a requantization of another class.
    ("ConvInteger", OpClass.CONV, lambda: (conv_integer(32, 16), conv_integer(64, 28))),
    ("MatMulInteger", OpClass.MATMUL, lambda: (matmul_integer(16, 128), matmul_integer(128, 768))),
    (
        "DynamicQuantizeLinear",
        OpClass.QUANTIZE,
        lambda: (dynamic_quantize((16, 128)), dynamic_quantize((1, 64, 56, 56))),
    ),
    (
        "SkipLayerNormalization",
        OpClass.NORMALIZATION,
        lambda: (skip_layer_norms(16, 128), skip_layer_norms(128, 768, 4)),
    ),
    (
        "BiasGelu",
        OpClass.ELEMENTWISE,
        lambda: (bias_activations("BiasGelu", 16, 512), bias_activations("BiasGelu", 128, 3072, 4)),
    ),
    (
        "FastGelu",
        OpClass.ELEMENTWISE,
        lambda: (bias_activations("FastGelu", 16, 512), bias_activations("FastGelu", 128, 3072, 4)),
    ),
    (
        "QLinearAdd",
        OpClass.QUANTIZE,
        lambda: (
            qlinear_binaries("QLinearAdd", (1, 64, 16, 16)),
            qlinear_binaries("QLinearAdd", (1, 16, 128), (128,)),
            qlinear_binaries("QLinearAdd", (1, 256, 56, 56), chain=4),
        ),
    ),
    (
        "QLinearMul",
        OpClass.QUANTIZE,
        lambda: (
            qlinear_binaries("QLinearMul", (1, 4, 16, 16), ()),
            qlinear_binaries("QLinearMul", (1, 256, 56, 56), chain=4),
        ),
    ),
    (
        "QLinearSoftmax",
        OpClass.QUANTIZE,
        lambda: (qlinear_softmaxes((1, 4, 16, 16)), qlinear_softmaxes((1, 12, 128, 128), 4)),
    ),
    ("QLinearMatMul", OpClass.MATMUL, lambda: (qlinear_matmuls(16, 128), qlinear_matmuls(128, 768, 4))),
    ("QLinearConv", OpClass.CONV, lambda: (qlinear_convs(32, 16), qlinear_convs(64, 28))),
)


def op_type_benches() -> tuple[OpTypeBench, ...]:
    return tuple(OpTypeBench(op_type, op_class, make()) for op_type, op_class, make in OP_TYPE_BENCHES)
