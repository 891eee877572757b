"""Gemm, MatMul, Einsum, LSTM/GRU/RNN and attention against closed forms."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from onnx import TensorProto, helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value, weight

Cost = Callable[..., ModelCost]


def test_gemm_with_transposed_weight(cost_of: Cost) -> None:
    node = helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1)
    proto = model(
        [node],
        [value("a", [8, 512])],
        [value("y", None)],
        [weight("w", (1000, 512)), weight("c", (1000,))],
    )
    (gemm,) = cost_of(proto).nodes
    assert gemm.flops == 2 * 8 * 1000 * 512
    assert gemm.params == 1000 * 512 + 1000
    assert gemm.padded_dims == (512, 1000)


def test_batched_matmul_broadcasts(cost_of: Cost) -> None:
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    proto = model([node], [value("a", [2, 12, 128, 64]), value("b", [2, 12, 64, 128])], [value("y", None)])
    (matmul,) = cost_of(proto).nodes
    assert matmul.flops == 2 * 2 * 12 * 128 * 128 * 64
    assert matmul.params == 0  # both operands are activations


def test_matmul_with_vector_operand(cost_of: Cost) -> None:
    node = helper.make_node("MatMul", ["a", "w"], ["y"])
    proto = model([node], [value("a", [4, 256])], [value("y", None)], [weight("w", (256,))])
    assert cost_of(proto).nodes[0].flops == 2 * 4 * 256


def test_einsum_contraction_and_ellipsis(cost_of: Cost) -> None:
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="...ij,...jk->...ik")
    proto = model([node], [value("a", [3, 5, 7]), value("b", [3, 7, 11])], [value("y", None)])
    assert cost_of(proto).nodes[0].flops == 2 * 3 * 5 * 7 * 11


@pytest.mark.parametrize(("op", "gates", "pointwise"), [("LSTM", 4, 17), ("GRU", 3, 13), ("RNN", 1, 3)])
def test_recurrent_counts_every_step_and_direction(
    cost_of: Cost, op: str, gates: int, pointwise: int
) -> None:
    seq, batch, inputs, hidden, dirs = 10, 2, 32, 64, 2
    node = helper.make_node(op, ["x", "W", "R"], ["", "h"], hidden_size=hidden, direction="bidirectional")
    inits = [
        weight("W", (dirs, gates * hidden, inputs)),
        weight("R", (dirs, gates * hidden, hidden)),
    ]
    proto = model([node], [value("x", [seq, batch, inputs])], [value("h", None)], inits)
    (rnn,) = cost_of(proto).nodes
    per_row = 2 * gates * hidden * (inputs + hidden) + pointwise * hidden
    assert rnn.flops == dirs * seq * batch * per_row
    assert rnn.params == dirs * gates * hidden * (inputs + hidden)
    # Every step after the first reads the recurrent weights R again; W is read once.
    recurrent_bytes = 4 * dirs * gates * hidden * hidden
    assert rnn.reread_bytes == (seq - 1) * recurrent_bytes
    assert rnn.bytes_read == rnn.weight_bytes + rnn.reread_bytes + 4 * seq * batch * inputs


def test_onnx_attention_4d(cost_of: Cost) -> None:
    b, heads, s, d = 1, 8, 128, 64
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"])
    shape = [b, heads, s, d]
    proto = model(
        [node],
        [value("q", shape), value("k", shape), value("v", shape)],
        [value("y", None)],
        opset=23,
    )
    (attention,) = cost_of(proto).nodes
    assert attention.flops == 2 * (2 * b * heads * s * s * d) + 5 * b * heads * s * s


def test_microsoft_attention_includes_the_qkv_projection(cost_of: Cost) -> None:
    b, s, hidden, heads = 1, 64, 256, 4
    node = helper.make_node("Attention", ["x", "w", "bias"], ["y"], domain="com.microsoft", num_heads=heads)
    inits = [weight("w", (hidden, 3 * hidden)), weight("bias", (3 * hidden,))]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, s, hidden])
    proto = model([node], [value("x", [b, s, hidden])], [y], inits, extra_opsets={"com.microsoft": 1})
    (attention,) = cost_of(proto).nodes
    projection = 2 * b * s * hidden * 3 * hidden
    assert attention.flops == projection + 2 * (2 * b * s * s * hidden) + 5 * b * heads * s * s


def test_depthwise_is_classified_and_padded_by_channels(cost_of: Cost) -> None:
    from tests.builders import conv_model

    (node,) = cost_of(conv_model(30, 30, 16, 3, group=30)).nodes
    assert node.op_class.value == "depthwise_conv"
    assert node.padded_dims == (30,)


def test_elementwise_add_intensity_is_one_twelfth(cost_of: Cost) -> None:
    node = helper.make_node("Add", ["a", "b"], ["y"])
    proto = model([node], [value("a", [1, 64, 56, 56]), value("b", [1, 64, 56, 56])], [value("y", None)])
    assert cost_of(proto).nodes[0].intensity == pytest.approx(1 / 12)


def test_views_move_no_bytes(cost_of: Cost) -> None:
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    proto = model(nodes, [value("x", [1, 64, 7, 7])], [value("y", None)], [shape])
    reshape, relu = cost_of(proto).nodes
    assert reshape.bytes == 0
    assert relu.bytes == 2 * 64 * 49 * 4
    assert reshape.params == 0  # an int64 shape is metadata, not a weight


def test_gather_from_an_embedding_reads_only_the_rows(cost_of: Cost) -> None:
    table = weight("table", (30000, 128))
    node = helper.make_node("Gather", ["table", "ids"], ["y"])
    proto = model([node], [value("ids", [1, 16], TensorProto.INT64)], [value("y", None)], [table])
    (gather,) = cost_of(proto).nodes
    assert gather.params == 30000 * 128
    assert gather.bytes == 16 * 8 + 2 * 16 * 128 * 4  # ids, rows read, rows written
