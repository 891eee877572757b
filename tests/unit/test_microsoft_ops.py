"""com.microsoft operators from onnxruntime-optimized and quantized exports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from archlint.model_cost import ModelCost
from tests.builders import model, value

Cost = Callable[..., ModelCost]
MS = {"com.microsoft": 1}


def test_fused_matmul_with_transposed_b(cost_of: Cost) -> None:
    node = helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain="com.microsoft", transB=1, alpha=0.5)
    proto = model(
        [node],
        [value("a", [2, 8, 64]), value("b", [2, 32, 64])],
        [value("y", [2, 8, 32])],
        extra_opsets=MS,
    )
    (fused,) = cost_of(proto).nodes
    assert fused.flops == 2 * 2 * 8 * 32 * 64
    assert fused.padded_dims == (64, 32)


def test_matmul_nbits_reads_packed_int4_weights(cost_of: Cost) -> None:
    k, n, block = 256, 128, 32
    packed = numpy_helper.from_array(np.zeros((n, k // block, block // 2), dtype=np.uint8), "w4")
    scales = numpy_helper.from_array(np.ones((n * k // block,), dtype=np.float32), "scales")
    node = helper.make_node(
        "MatMulNBits",
        ["a", "w4", "scales"],
        ["y"],
        domain="com.microsoft",
        K=k,
        N=n,
        bits=4,
        block_size=block,
    )
    proto = model(
        [node],
        [value("a", [1, 16, k])],
        [value("y", [1, 16, n])],
        [packed, scales],
        extra_opsets=MS,
    )
    (mm,) = cost_of(proto).nodes
    assert mm.flops == 2 * 16 * n * k
    assert mm.params == n * k // 2 + n * k // block  # packed bytes and scales, as stored
    assert mm.weight_bytes == n * k // 2 + 4 * n * k // block  # int4: half a byte per weight


def test_group_query_attention_counts_the_kv_cache(cost_of: Cost) -> None:
    batch, seq, past, heads, kv_heads, head = 1, 1, 511, 32, 8, 128
    present = past + seq
    node = helper.make_node(
        "GroupQueryAttention",
        ["q", "k", "v", "past_k", "past_v", "seqlens", "total"],
        ["y", "present_k", "present_v"],
        domain="com.microsoft",
        num_heads=heads,
        kv_num_heads=kv_heads,
    )
    inputs = [
        value("q", [batch, seq, heads * head]),
        value("k", [batch, seq, kv_heads * head]),
        value("v", [batch, seq, kv_heads * head]),
        value("past_k", [batch, kv_heads, past, head]),
        value("past_v", [batch, kv_heads, past, head]),
        value("seqlens", [batch], TensorProto.INT32),
        value("total", [], TensorProto.INT32),
    ]
    outputs = [
        value("y", [batch, seq, heads * head]),
        value("present_k", [batch, kv_heads, present, head]),
        value("present_v", [batch, kv_heads, present, head]),
    ]
    (gqa,) = cost_of(model([node], inputs, outputs, extra_opsets=MS)).nodes
    d = heads * head
    assert gqa.flops == 2 * batch * seq * present * d * 2 + 5 * batch * heads * seq * present
    # decoding one token streams the whole KV cache: ~1 FLOP/B, far below any GPU's ridge (>= 9.6)
    assert gqa.intensity < 2.0


def test_qlinear_add_and_qgemm(cost_of: Cost) -> None:
    s = numpy_helper.from_array(np.array(0.1, dtype=np.float32), "s")
    z = numpy_helper.from_array(np.array(0, dtype=np.uint8), "z")
    b = numpy_helper.from_array(np.ones((64, 32), dtype=np.uint8), "b")
    nodes = [
        helper.make_node(
            "QLinearAdd", ["a", "s", "z", "a", "s", "z", "s", "z"], ["sum"], domain="com.microsoft"
        ),
        helper.make_node(
            "QGemm", ["sum", "s", "z", "b", "s", "z", "", "s", "z"], ["y"], domain="com.microsoft"
        ),
    ]
    inputs = [value("a", [4, 64], TensorProto.UINT8)]
    outputs = [value("y", [4, 32], TensorProto.UINT8)]
    proto = model(nodes, inputs, outputs, [s, z, b], extra_opsets=MS)
    proto.graph.value_info.append(value("sum", [4, 64], TensorProto.UINT8))
    add, gemm = cost_of(proto).nodes
    assert add.flops == 3 * 4 * 64
    assert gemm.flops == 2 * 4 * 32 * 64
    assert gemm.compute_dtype == "int8"
