"""com.microsoft operators from onnxruntime-optimized and quantized exports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
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


def _ms(op: str, inputs: list[str], outputs: list[str], **attrs: object) -> object:
    return helper.make_node(op, inputs, outputs, domain="com.microsoft", **attrs)


def test_an_optimized_bert_layer_resolves_without_declared_shapes(cost_of: Cost) -> None:
    """onnx's inference skips contrib ops: archlint's own shape functions carry the shapes."""
    batch, seq, hidden, heads, vocab = 2, 16, 64, 4, 100
    f32 = lambda name, *shape: numpy_helper.from_array(np.full(shape, 0.01, np.float32), name)  # noqa: E731
    nodes = [
        _ms(
            "EmbedLayerNormalization", ["ids", "", "words", "positions", "", "gamma", "beta"], ["emb", "mask"]
        ),
        _ms("Attention", ["emb", "qkv_w", "qkv_b", "mask"], ["ctx"], num_heads=heads),
        _ms("SkipLayerNormalization", ["ctx", "emb", "gamma", "beta"], ["norm"]),
        helper.make_node("MatMul", ["norm", "ffn_w"], ["ffn"]),
        _ms("FastGelu", ["ffn"], ["act"]),
        _ms("QuickGelu", ["act"], ["y"]),
    ]
    inits = [
        f32("words", vocab, hidden),
        f32("positions", 64, hidden),
        f32("gamma", hidden),
        f32("beta", hidden),
        f32("qkv_w", hidden, 3 * hidden),
        f32("qkv_b", 3 * hidden),
        f32("ffn_w", hidden, 4 * hidden),
    ]
    proto = model(
        nodes, [value("ids", [batch, seq], TensorProto.INT32)], [value("y", None)], inits, extra_opsets=MS
    )
    cost = cost_of(proto)
    assert not cost.unknown_ops
    tensors = cost.model.graph.tensors
    assert tensors["ctx"].shape == tensors["norm"].shape == (batch, seq, hidden)
    assert tensors["mask"].shape == (batch,)
    assert tensors["y"].shape == (batch, seq, 4 * hidden)
    attention = next(n for n in cost.nodes if n.op_type == "Attention")
    assert attention.flops >= 2 * batch * seq * hidden * 3 * hidden  # the QKV projection at least


def test_qoperator_convs_and_adds_resolve_and_cost(cost_of: Cost) -> None:
    u8 = lambda name, *shape: numpy_helper.from_array(np.zeros(shape, np.uint8), name)  # noqa: E731
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.uint8), "z")
    nodes = [
        helper.make_node("QLinearConv", ["x", "s", "z", "w", "s", "z", "s", "z"], ["c"], pads=[1, 1, 1, 1]),
        _ms("QLinearAdd", ["c", "s", "z", "c", "s", "z", "s", "z"], ["sum"]),
        _ms("QLinearGlobalAveragePool", ["sum", "s", "z", "s", "z"], ["pooled"]),
        _ms("QLinearConcat", ["s", "z", "pooled", "s", "z", "pooled", "s", "z"], ["y"], axis=1),
    ]
    proto = model(
        nodes,
        [value("x", [1, 8, 16, 16], TensorProto.UINT8)],
        [value("y", None)],
        [u8("w", 16, 8, 3, 3), scale, zero],
        extra_opsets=MS,
    )
    cost = cost_of(proto)
    assert not cost.unknown_ops
    assert cost.model.graph.tensors["y"].shape == (1, 32, 1, 1)
    conv = next(n for n in cost.nodes if n.op_type == "QLinearConv")
    assert conv.flops == 2 * 16 * 16 * 16 * 8 * 9


def test_dynamic_quantize_lstm_reads_its_transposed_weights(cost_of: Cost) -> None:
    steps, batch, inputs, hidden = 10, 1, 32, 64
    i8 = lambda name, *shape: numpy_helper.from_array(np.zeros(shape, np.int8), name)  # noqa: E731
    f32 = lambda name, *shape: numpy_helper.from_array(np.ones(shape, np.float32), name)  # noqa: E731
    node = _ms(
        "DynamicQuantizeLSTM",
        ["x", "W", "R", "", "", "", "", "", "ws", "wz", "rs", "rz"],
        ["y", "h", "c"],
        hidden_size=hidden,
    )
    inits = [i8("W", 1, inputs, 4 * hidden), i8("R", 1, hidden, 4 * hidden)]
    inits += [f32("ws", 1), i8("wz", 1), f32("rs", 1), i8("rz", 1)]
    proto = model([node], [value("x", [steps, batch, inputs])], [value("y", None)], inits, extra_opsets=MS)
    cost = cost_of(proto)
    assert not cost.unknown_ops
    (lstm,) = cost.nodes
    assert lstm.flops == steps * batch * (2 * 4 * hidden * (inputs + hidden) + 17 * hidden)
    assert lstm.compute_dtype == "int8"
    assert cost.model.graph.tensors["y"].shape == (steps, 1, batch, hidden)


def test_simplified_layer_norm_in_the_default_domain_resolves_and_costs(cost_of: Cost) -> None:
    """onnxruntime's optimizer writes T5's RMS norm as SimplifiedLayerNormalization, domain ''."""
    gamma = numpy_helper.from_array(np.ones(64, np.float32), "gamma")
    nodes = [
        helper.make_node("SimplifiedLayerNormalization", ["x", "gamma"], ["n"], axis=-1, epsilon=1e-6),
        helper.make_node("MatMul", ["n", "w"], ["y"]),
    ]
    w = numpy_helper.from_array(np.ones((64, 32), np.float32), "w")
    cost = cost_of(model(nodes, [value("x", [2, 8, 64])], [value("y", None)], [gamma, w], opset=14))
    assert not cost.unknown_ops
    assert cost.model.graph.tensors["y"].shape == (2, 8, 32)
