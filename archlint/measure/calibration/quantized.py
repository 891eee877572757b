"""Probes for what the engine makes of a QDQ model, read from onnxruntime's profiler, not timed.

``group_probe(op)`` is one DequantizeLinear -> op -> QuantizeLinear group on a [1, 16, 8, 8]
uint8 tensor (int8 weights, an int32 bias, the Q keeping the DQ's scale): the engine either ran
one kernel of another op type for it (QLinearConv for Conv), or the op itself without the DQ and
Q (a Reshape on the 8-bit tensor), or the float op between its DQ and Q (not fused).
``weight_probe()`` is a float Conv reading an int8 weight through a DequantizeLinear: whether
that DequantizeLinear still runs as a kernel says whether the engine folds it at load time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto

from archlint.measure.calibration.micro import Micro, _Graph

SHAPE = (1, 16, 8, 8)

#: Op types quantizers wrap in DequantizeLinear -> op -> QuantizeLinear.
CANDIDATES = (
    "Conv",
    "MatMul",
    "Gemm",
    "Add",
    "Mul",
    "Concat",
    "AveragePool",
    "GlobalAveragePool",
    "MaxPool",
    "Sigmoid",
    "LeakyRelu",
    "Softmax",
    "Resize",
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Gather",
    "GatherElements",
    "Slice",
    "Expand",
    "Tile",
    "Where",
)


def group_probe(op_type: str) -> Micro:
    g = _Graph(SHAPE, TensorProto.UINT8)
    scale, zero = g.const(np.array(0.05, np.float32)), g.const(np.array(128, np.uint8))
    x = g.op("DequantizeLinear", ["x", scale, zero])

    def dequantized(values: np.ndarray) -> str:  # a constant operand, quantized as a QDQ model stores it
        if values.dtype == np.int32:
            return g.op("DequantizeLinear", [g.const(values), g.const(np.array(0.0025, np.float32))])
        if values.dtype == np.int8:
            w_zero = g.const(np.array(0, np.int8))
            return g.op("DequantizeLinear", [g.const(values), g.const(np.array(0.05, np.float32)), w_zero])
        return g.op("DequantizeLinear", [g.const(values), scale, zero])

    rng = np.random.default_rng(11)

    def int8(*shape: int) -> np.ndarray:
        return rng.integers(-64, 64, shape, dtype=np.int8)

    def uint8(*shape: int) -> np.ndarray:
        return rng.integers(100, 160, shape, dtype=np.uint8)

    def ints(*values: int) -> str:
        return g.const(np.array(values, np.int64))

    build: dict[str, Callable[[], str]] = {
        "Conv": lambda: g.op(
            "Conv", [x, dequantized(int8(16, 16, 3, 3)), dequantized(np.zeros(16, np.int32))], pads=[1] * 4
        ),
        "MatMul": lambda: g.op("MatMul", [x, dequantized(int8(8, 8))]),
        "Gemm": lambda: g.op("Gemm", [g.op("Reshape", [x, ints(16, 64)]), dequantized(int8(64, 8))]),
        "Add": lambda: g.op("Add", [x, dequantized(uint8(*SHAPE))]),
        "Mul": lambda: g.op("Mul", [x, dequantized(uint8(*SHAPE))]),
        "Concat": lambda: g.op("Concat", [x, dequantized(uint8(*SHAPE))], axis=1),
        "AveragePool": lambda: g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2]),
        "GlobalAveragePool": lambda: g.op("GlobalAveragePool", [x]),
        "MaxPool": lambda: g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]),
        "Sigmoid": lambda: g.op("Sigmoid", [x]),
        "LeakyRelu": lambda: g.op("LeakyRelu", [x], alpha=0.1),
        "Softmax": lambda: g.op("Softmax", [x], axis=-1),
        "Resize": lambda: g.op(
            "Resize", [x, "", g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest"
        ),
        "Reshape": lambda: g.op("Reshape", [x, ints(1, -1)]),
        "Transpose": lambda: g.op("Transpose", [x], perm=[0, 2, 3, 1]),
        "Flatten": lambda: g.op("Flatten", [x]),
        "Squeeze": lambda: g.op("Squeeze", [x, ints(0)]),
        "Unsqueeze": lambda: g.op("Unsqueeze", [x, ints(0)]),
        "Gather": lambda: g.op("Gather", [x, ints(0, 2)], axis=1),
        "GatherElements": lambda: g.op(
            "GatherElements", [x, g.const(np.zeros((1, 16, 8, 2), np.int64))], axis=3
        ),
        "Slice": lambda: g.op("Slice", [x, ints(0), ints(4), ints(2)]),
        "Expand": lambda: g.op("Expand", [x, ints(2, 16, 8, 8)]),
        "Tile": lambda: g.op("Tile", [x, ints(1, 1, 2, 2)]),
        "Where": lambda: g.op(
            "Where", [g.const(np.arange(64).reshape(8, 8) % 2 == 0), x, dequantized(uint8(*SHAPE))]
        ),
    }
    result = build[op_type]()
    y = g.op("QuantizeLinear", [result, scale, zero])
    return Micro(f"DequantizeLinear -> {op_type} -> QuantizeLinear", g.finish(y, TensorProto.UINT8), g.shape)


def weight_probe() -> Micro:
    g = _Graph((1, 16, 8, 8))
    rng = np.random.default_rng(12)
    w = g.op(
        "DequantizeLinear",
        [
            g.const(rng.integers(-64, 64, (16, 16, 3, 3), dtype=np.int8)),
            g.const(np.array(0.05, np.float32)),
            g.const(np.array(0, np.int8)),
        ],
    )
    y = g.op("Conv", ["x", w], pads=[1] * 4)
    return Micro("Conv of a DequantizeLinear weight", g.finish(y), g.shape)
