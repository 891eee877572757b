"""Quantized operators: integer MACs at the int8 rate, bytes by the stored dtype."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value

Cost = Callable[..., ModelCost]


def _scalar(name: str, v: float | int, dtype: type) -> object:
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


def test_qlinearconv_counts_uint8_bytes_and_int8_compute(cost_of: Cost) -> None:
    ic, oc, size = 16, 32, 14
    w = numpy_helper.from_array(np.ones((oc, ic, 3, 3), dtype=np.int8), "w")
    bias = numpy_helper.from_array(np.zeros(oc, dtype=np.int32), "bias")
    params = [
        _scalar("xs", 0.1, np.float32),
        _scalar("xz", 0, np.uint8),
        _scalar("ws", 0.1, np.float32),
        _scalar("wz", 0, np.int8),
        _scalar("ys", 0.1, np.float32),
        _scalar("yz", 0, np.uint8),
    ]
    node = helper.make_node(
        "QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"], ["y"], pads=[1] * 4
    )
    y = value("y", None, TensorProto.UINT8)
    proto = model([node], [value("x", [1, ic, size, size], TensorProto.UINT8)], [y], [w, bias, *params])
    (conv,) = cost_of(proto).nodes
    assert conv.flops == 2 * oc * size * size * ic * 9
    assert conv.compute_dtype == "int8"
    assert conv.params == oc * ic * 9 + oc  # scales and zero points are metadata
    activations = ic * size * size + oc * size * size  # one byte each
    assert conv.bytes == activations + oc * ic * 9 + 4 * oc + 3 * 4 + 3 * 1


def test_qlinear_matmul_and_matmul_integer(cost_of: Cost) -> None:
    a_scale, a_zero = _scalar("as", 0.1, np.float32), _scalar("az", 0, np.uint8)
    b = numpy_helper.from_array(np.ones((64, 32), dtype=np.uint8), "b")
    b2 = numpy_helper.from_array(np.ones((32, 16), dtype=np.uint8), "b2")
    nodes = [
        helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "as", "az", "as", "az"], ["q"]),
        helper.make_node("MatMulInteger", ["q", "b2"], ["i32"]),
    ]
    out = value("i32", None, TensorProto.INT32)
    cost = cost_of(model(nodes, [value("a", [4, 64], TensorProto.UINT8)], [out], [b, b2, a_scale, a_zero]))
    qmm, mmi = cost.nodes
    assert qmm.flops == 2 * 4 * 32 * 64
    assert mmi.flops == 2 * 4 * 16 * 32
    assert qmm.compute_dtype == mmi.compute_dtype == "int8"
    assert mmi.bytes == 4 * 32 + 32 * 16 + 4 * 16 * 4  # uint8 in, uint8 weight, int32 out


def test_dynamic_quantize_and_qdq_weights(cost_of: Cost) -> None:
    """A QDQ weight: int8 stored, DequantizeLinear folded, held at 1 byte per element."""
    w8 = numpy_helper.from_array(np.ones((64, 32), dtype=np.int8), "w8")
    scale = _scalar("ws", 0.05, np.float32)
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w8", "ws"], ["w"]),
        helper.make_node("MatMul", ["xd", "w"], ["y"]),
    ]
    cost = cost_of(model(nodes, [value("x", [8, 64])], [value("y", None)], [w8, scale]))
    ops = [n.op_type for n in cost.nodes]
    assert ops == ["DynamicQuantizeLinear", "DequantizeLinear", "MatMul"]
    matmul = cost.nodes[-1]
    assert matmul.params == 64 * 32
    assert matmul.weight_bytes == 64 * 32  # int8 storage, not fp32
    assert cost.nodes[0].flops == 5 * 8 * 64
