"""The microbenchmarks ``archlint calibrate`` runs: small ONNX graphs built in code.

Each graph isolates one property of the machine. Shapes are generic (powers of two, common
kernel sizes), chosen before and independently of any model the calibrated profile is judged on.
Graphs that measure an operator class chain a few operators of that class, so the layout
conversions an engine adds at a graph's edges (onnxruntime's NCHWc reorders) are amortized as
they are inside a real network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from archlint.analysis.costs.record import OpClass
from archlint.measure.runtime import Optimization
from archlint.model.builder import GraphBuilder


@dataclass(frozen=True)
class Micro:
    """One microbenchmark: a graph with one input ``x`` and what it measures."""

    name: str
    proto: onnx.ModelProto
    shape: tuple[int, ...]
    optimization: Optimization = "all"  # onnxruntime graph optimization level to run it at

    @property
    def input_bytes(self) -> int:
        elem_type = self.proto.graph.input[0].type.tensor_type.elem_type
        return math.prod(self.shape) * helper.tensor_dtype_to_np_dtype(elem_type).itemsize


class _Graph(GraphBuilder):
    """A single-input graph ``x`` for a microbenchmark."""

    def __init__(self, shape: Sequence[int], elem_type: int = TensorProto.FLOAT) -> None:
        super().__init__("micro")
        self.shape = tuple(shape)
        self.input("x", self.shape, elem_type)

    def finish(self, output: str, out_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
        self.output(output, out_type)
        return self.build()


# --- machine figures ----------------------------------------------------------------------------


def gemm(size: int) -> Micro:
    """An fp32 size^3 MatMul: the dense-compute peak."""
    g = _Graph((size, size))
    y = g.op("MatMul", ["x", g.he_weight((size, size), size)])
    return Micro(f"matmul fp32 {size}^3", g.finish(y), g.shape)


def gemm_int8(size: int) -> Micro:
    """A uint8 x int8 -> int32 MatMulInteger: the integer peak (VNNI / dot-product paths)."""
    g = _Graph((size, size), TensorProto.UINT8)
    rng = np.random.default_rng(1)
    y = g.op("MatMulInteger", ["x", g.const(rng.integers(-64, 64, (size, size), dtype=np.int8))])
    return Micro(f"matmulinteger int8 {size}^3", g.finish(y, TensorProto.INT32), g.shape)


def copy(nbytes: int) -> Micro:
    """One Identity over ``nbytes`` of fp32: reads and writes every byte once, no arithmetic.

    Run with graph optimizations off, so the engine cannot remove the copy. (archlint costs an
    Identity as a view, so the bytes a copy moves are counted from its shape, not its cost.)
    """
    g = _Graph((nbytes // 4,))
    y = g.op("Identity", ["x"])
    return Micro(f"copy {nbytes / 2**20:g} MiB", g.finish(y), g.shape, optimization="disabled")


def tiny_chain(length: int) -> Micro:
    """``length`` Relus on 16 floats: nothing but per-operator dispatch."""
    g = _Graph((16,))
    y = "x"
    for _ in range(length):
        y = g.op("Relu", [y])
    return Micro(f"{length} tiny ops", g.finish(y), g.shape)


# --- operator classes ---------------------------------------------------------------------------

CHAIN = 4  # operators per class microbenchmark


def conv_chain(channels: int, size: int, kernel: int, groups: int = 1, stride: int = 1) -> Micro:
    """``CHAIN`` same-shape convolutions (the first may stride)."""
    g = _Graph((1, channels, size, size))
    y = "x"
    for index in range(CHAIN):
        w = g.he_weight((channels, channels // groups, kernel, kernel), channels // groups * kernel**2)
        step = stride if index == 0 else 1
        y = g.op(
            "Conv",
            [y, w],
            kernel_shape=[kernel] * 2,
            pads=[kernel // 2] * 4,
            strides=[step] * 2,
            group=groups,
        )
    kind = "depthwise" if groups == channels else "conv" if groups == 1 else f"conv {groups} groups"
    label = f"{kind} {kernel}x{kernel} s{stride} {channels}ch {size}x{size}"
    return Micro(label, g.finish(y), g.shape)


def stem(channels: int = 32, size: int = 224) -> Micro:
    """One 3x3 stride-2 conv from an RGB image: the first layer of most vision networks."""
    g = _Graph((1, 3, size, size))
    w = g.he_weight((channels, 3, 3, 3), 27)
    y = g.op("Conv", ["x", w], kernel_shape=[3, 3], pads=[1] * 4, strides=[2, 2])
    return Micro(f"stem conv 3x3 s2 3->{channels}ch {size}x{size}", g.finish(y), g.shape)


def pointwise_pair(wide: int, narrow: int, size: int) -> Micro:
    """1x1 convolutions alternating wide -> narrow -> wide, as in bottleneck blocks."""
    g = _Graph((1, wide, size, size))
    y, channels = "x", wide
    for index in range(CHAIN):
        out = narrow if index % 2 == 0 else wide
        y = g.op("Conv", [y, g.he_weight((out, channels, 1, 1), channels)], kernel_shape=[1, 1])
        channels = out
    return Micro(f"conv 1x1 {wide}<->{narrow}ch {size}x{size}", g.finish(y), g.shape)


def matmul_chain(rows: int, width: int) -> Micro:
    """Activations [rows, width] through ``CHAIN`` square weight matrices (a transformer's linears)."""
    g = _Graph((rows, width))
    y = "x"
    for _ in range(CHAIN):
        y = g.op("MatMul", [y, g.he_weight((width, width), width)])
    return Micro(f"matmul {rows}x{width}x{width}", g.finish(y), g.shape)


def _chain_label(op_type: str, shape: Sequence[int], chain: int) -> str:
    """ "Relu 1x64x112x112"; a chain of another length says how long it is ("... x16")."""
    label = f"{op_type} {'x'.join(map(str, shape))}"
    return label if chain == CHAIN else f"{label} x{chain}"


def unary_chain(op_type: str, shape: Sequence[int], chain: int = CHAIN, **attrs: Any) -> Micro:
    g = _Graph(shape)
    y = "x"
    for _ in range(chain):
        y = g.op(op_type, [y], **attrs)
    return Micro(_chain_label(op_type, shape, chain), g.finish(y), g.shape)


def binary_chain(op_type: str, shape: Sequence[int], chain: int = CHAIN) -> Micro:
    """x op c, op c, ...: a second operand of the full shape, like a residual sum."""
    g = _Graph(shape)
    other = g.const(np.full(tuple(shape), 0.5, np.float32))
    y = "x"
    for _ in range(chain):
        y = g.op(op_type, [y, other])
    return Micro(_chain_label(op_type, shape, chain), g.finish(y), g.shape)


def batch_norm_chain(channels: int, size: int) -> Micro:
    g = _Graph((1, channels, size, size))
    y = "x"
    for _ in range(CHAIN):
        scale, bias = g.const(np.ones(channels, np.float32)), g.const(np.zeros(channels, np.float32))
        mean, var = g.const(np.zeros(channels, np.float32)), g.const(np.ones(channels, np.float32))
        y = g.op("BatchNormalization", [y, scale, bias, mean, var])
    return Micro(f"BatchNormalization {channels}ch {size}x{size}", g.finish(y), g.shape)


def layer_norm_chain(rows: int, width: int) -> Micro:
    g = _Graph((rows, width))
    y = "x"
    for _ in range(CHAIN):
        scale, bias = g.const(np.ones(width, np.float32)), g.const(np.zeros(width, np.float32))
        y = g.op("LayerNormalization", [y, scale, bias], axis=-1)
    return Micro(f"LayerNormalization {rows}x{width}", g.finish(y), g.shape)


def max_pool(channels: int, size: int) -> Micro:
    """3x3 stride-2 max pools, each halving the map (a stem's pooling)."""
    g = _Graph((1, channels, size, size))
    y = "x"
    for _ in range(2):
        y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    return Micro(f"MaxPool 3x3 s2 {channels}ch {size}x{size}", g.finish(y), g.shape)


def global_pool(channels: int, size: int) -> Micro:
    g = _Graph((1, channels, size, size))
    y = g.op("GlobalAveragePool", ["x"])
    return Micro(f"GlobalAveragePool {channels}ch {size}x{size}", g.finish(y), g.shape)


def reduce_mean(rows: int, width: int) -> Micro:
    g = _Graph((rows, width))
    y = g.op("ReduceMean", ["x"], axes=[-1], keepdims=1)  # opset 17: axes is still an attribute
    return Micro(f"ReduceMean {rows}x{width}", g.finish(y), g.shape)


def transpose_chain(shape: Sequence[int], perm: Sequence[int]) -> Micro:
    g = _Graph(shape)
    y = "x"
    for _ in range(CHAIN):
        y = g.op("Transpose", [y], perm=list(perm))
    return Micro(f"Transpose {'x'.join(map(str, shape))}", g.finish(y), g.shape)


def concat(channels: int, size: int) -> Micro:
    g = _Graph((1, channels, size, size))
    y = g.op("Concat", ["x", g.const(np.ones((1, channels, size, size), np.float32))], axis=1)
    return Micro(f"Concat 2x{channels}ch {size}x{size}", g.finish(y), g.shape)


def resize(channels: int, size: int) -> Micro:
    g = _Graph((1, channels, size, size))
    scales = g.const(np.array([1, 1, 2, 2], np.float32))
    y = g.op("Resize", ["x", "", scales], mode="nearest")
    return Micro(f"Resize nearest 2x {channels}ch {size}x{size}", g.finish(y), g.shape)


def lstm(seq: int, width: int) -> Micro:
    g = _Graph((seq, 1, width))
    w = g.he_weight((1, 4 * width, width), width)
    r = g.he_weight((1, 4 * width, width), width)
    y = g.op("LSTM", ["x", w, r], hidden_size=width)
    return Micro(f"LSTM seq {seq} hidden {width}", g.finish(y), g.shape)


@dataclass(frozen=True)
class ClassBench:
    op_class: OpClass
    micros: tuple[Micro, ...] = field(default=())


def class_benches() -> tuple[ClassBench, ...]:
    """Per operator class, shapes spanning the sizes networks use (large maps early, deep late)."""
    return (
        ClassBench(
            OpClass.CONV,
            (
                conv_chain(32, 112, 3),
                conv_chain(64, 56, 3),
                conv_chain(256, 14, 3),
                conv_chain(512, 14, 3),  # late-stage width: weights too large to stay cached
                pointwise_pair(256, 64, 56),
                pointwise_pair(1024, 256, 14),
                # Few channels, where blocked kernels reuse little: what narrow_channels fits.
                stem(),
                conv_chain(16, 112, 3),
                pointwise_pair(96, 16, 112),
                # Short output rows, where each kernel call does little work: what narrow_rows fits.
                conv_chain(128, 7, 3),
                pointwise_pair(512, 128, 7),
            ),
        ),
        ClassBench(
            OpClass.DEPTHWISE_CONV,
            (
                conv_chain(96, 112, 3, groups=96, stride=2),
                conv_chain(192, 28, 3, groups=192),
                conv_chain(480, 14, 5, groups=480),
                conv_chain(1152, 7, 3, groups=1152),
            ),
        ),
        ClassBench(
            OpClass.MATMUL,
            (matmul_chain(128, 768), matmul_chain(256, 2048), matmul_chain(64, 256)),
        ),
        ClassBench(
            OpClass.ELEMENTWISE,
            (
                unary_chain("Relu", (1, 64, 112, 112)),
                binary_chain("Add", (1, 256, 28, 28)),
                binary_chain("Mul", (1, 96, 56, 56)),
                unary_chain("Sigmoid", (1, 144, 56, 56)),
                unary_chain("Softmax", (12, 128, 128), axis=-1),
                unary_chain("HardSwish", (1, 64, 56, 56)),
            ),
        ),
        ClassBench(OpClass.POOLING, (max_pool(64, 112), global_pool(1280, 7), global_pool(256, 56))),
        ClassBench(OpClass.NORMALIZATION, (batch_norm_chain(64, 56), layer_norm_chain(128, 768))),
        ClassBench(OpClass.REDUCTION, (reduce_mean(128, 768), reduce_mean(4096, 256))),
        ClassBench(
            OpClass.DATA_MOVEMENT,
            (transpose_chain((128, 12, 64), (1, 0, 2)), concat(128, 28), concat(32, 112)),
        ),
        ClassBench(OpClass.RESAMPLE, (resize(128, 20), resize(64, 80))),
        ClassBench(OpClass.RECURRENT, (lstm(32, 256), lstm(16, 512))),
    )


def grouped_benches() -> tuple[Micro, ...]:
    """Grouped (not depthwise) 3x3 convs with 16 and 32 channels per group (ResNeXt, RegNet)."""
    return (
        conv_chain(64, 56, 3, groups=4),
        conv_chain(160, 28, 3, groups=10),
        conv_chain(96, 56, 3, groups=3),
        conv_chain(384, 14, 3, groups=12),
        conv_chain(256, 7, 3, groups=16),
    )


def fallback_channels(multiple: int) -> int:
    """A channel count that is not a multiple of ``multiple`` (>= 2), near 48."""
    return 48 + multiple // 2


def fallback_benches(channels: int) -> dict[OpClass, tuple[Micro, ...]]:
    """Convs with a channel count the engine's blocked layout does not take."""
    return {
        OpClass.CONV: (conv_chain(channels, 28, 3), pointwise_pair(2 * channels, channels, 28)),
        OpClass.DEPTHWISE_CONV: (conv_chain(channels, 28, 3, groups=channels),),
    }


def layout_probe(channels: int) -> Micro:
    """A small conv chain of ``channels`` channels: does the engine put it in its blocked layout?"""
    return conv_chain(channels, 14, 3)


# --- fusions ------------------------------------------------------------------------------------

#: Operators an engine may run inside the kernel of the operator before them, per producer.
FUSION_CANDIDATES: dict[str, tuple[str, ...]] = {
    "Conv": ("BatchNormalization", "Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Add"),
    "MatMul": ("Add", "Relu"),
    "Gemm": ("Relu", "Sigmoid"),
    "Sigmoid": ("Mul",),  # x * sigmoid(x): SiLU / Swish, one pass when the engine fuses it
}


#: Op types that might stay in the engine's blocked conv layout, probed between two convs.
BLOCKED_CANDIDATES = (
    "Relu",
    "Clip",
    "LeakyRelu",
    "HardSigmoid",
    "HardSwish",
    "Sigmoid",
    "Tanh",
    "Add",
    "Mul",
    "Concat",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Resize",
    "Transpose",
    "Reshape",
    "Split",
)


PROBE_CHANNELS, PROBE_SIZE = 64, 28  # four 16-channel blocks: every ISA's block divides them


def blocked_probe(op_type: str) -> Micro:
    """Conv -> ``op_type`` -> Conv on 64 channels: does the op keep the convs' blocked layout?

    The first conv's output also feeds a residual Add (which the engine fuses into the second
    conv), so an activation cannot fuse into the first conv and hide. A Sigmoid is probed as
    x * sigmoid(x) (SiLU), the form networks use it in outside gates.
    """
    channels = PROBE_CHANNELS
    g = _Graph((1, channels, PROBE_SIZE, PROBE_SIZE))
    first = g.op("Conv", ["x", g.he_weight((channels, channels, 1, 1), channels)], kernel_shape=[1, 1])
    y, residual = _blocked_candidate(g, op_type, first), first
    if op_type in ("GlobalAveragePool", "Resize", "Concat", "Split"):
        residual = ""  # the shape changed: no residual (none of these fuse into a conv anyway)
    width = channels // 2 if op_type == "Split" else 2 * channels if op_type == "Concat" else channels
    y = g.op("Conv", [y, g.he_weight((channels, width, 1, 1), width)], kernel_shape=[1, 1])
    if residual:
        y = g.op("Add", [y, residual])
    return Micro(f"Conv -> {op_type} -> Conv", g.finish(y), g.shape)


def _blocked_candidate(g: _Graph, op_type: str, x: str) -> str:
    window = {"kernel_shape": [3, 3], "pads": [1] * 4}
    if op_type in ("Relu", "Clip", "BatchNormalization", "Add"):
        return _follower(g, op_type, x, x)
    if op_type == "Sigmoid":
        return g.op("Mul", [x, g.op("Sigmoid", [x])])
    if op_type == "Mul":
        return g.op("Mul", [x, x])
    if op_type == "Concat":
        return g.op("Concat", [x, x], axis=1)
    if op_type in ("MaxPool", "AveragePool"):
        return g.op(op_type, [x], **window)
    if op_type == "Resize":
        scales = g.const(np.array([1, 1, 2, 2], np.float32))
        return g.op("Resize", [x, "", scales], mode="nearest")
    if op_type == "Transpose":
        return g.op("Transpose", [x], perm=[0, 1, 3, 2])
    if op_type == "Reshape":
        same = g.const(np.array([1, PROBE_CHANNELS, PROBE_SIZE, PROBE_SIZE], np.int64))
        return g.op("Reshape", [x, same])
    if op_type == "Split":  # two halves; the second is left unused
        halves = g.const(np.array([PROBE_CHANNELS // 2] * 2, np.int64))
        first, second = f"t{len(g.nodes)}", f"t{len(g.nodes)}b"
        g.nodes.append(helper.make_node("Split", [x, halves], [first, second], axis=1))
        return first
    return g.op(op_type, [x])


def _fusion_shape(producer: str) -> tuple[int, ...]:
    return (256, 512) if producer in ("MatMul", "Gemm") else (1, 64, 56, 56)


def _producer(g: _Graph, producer: str, x: str) -> str:
    if producer == "Conv":
        return g.op("Conv", [x, g.he_weight((64, 64, 1, 1), 64)], kernel_shape=[1, 1])
    if producer == "MatMul":
        return g.op("MatMul", [x, g.he_weight((512, 512), 512)])
    return g.op("Gemm", [x, g.he_weight((512, 512), 512), g.const(np.zeros(512, np.float32))])


def fusion_pair(producer: str, follower: str) -> Micro:
    """Two ``producer`` operators, then ``follower`` on the second one's output.

    The first producer makes the graph look like the inside of a network: its output is in the
    engine's internal layout, and it is the residual operand of an Add after a Conv. After a
    MatMul or Gemm an Add's operand is a bias, the form transformers have.
    """
    g = _Graph(_fusion_shape(producer))
    if producer == "Sigmoid":  # the gate multiplies the sigmoid's own input
        return Micro(
            f"{producer} -> {follower}", g.finish(g.op("Mul", ["x", g.op("Sigmoid", ["x"])])), g.shape
        )
    first = _producer(g, producer, "x")
    y = _producer(g, producer, first)
    other = first if producer == "Conv" else g.const(np.full(512, 0.5, np.float32))
    y = _follower(g, follower, y, other)
    return Micro(f"{producer} -> {follower}", g.finish(y), g.shape)


def _follower(g: _Graph, op_type: str, x: str, other: str) -> str:
    """``op_type`` on ``x``; an Add's second operand is ``other`` (a residual branch)."""
    if op_type == "BatchNormalization":
        channels = 64
        ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        return g.op(op_type, [x, g.const(ones), g.const(zeros), g.const(zeros), g.const(ones)])
    if op_type == "Add":
        return g.op("Add", [x, other])
    if op_type == "Clip":
        return g.op("Clip", [x, g.const(np.array(0, np.float32)), g.const(np.array(6, np.float32))])
    return g.op(op_type, [x])
