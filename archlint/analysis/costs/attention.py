"""Scaled dot-product attention: ONNX Attention (opset 23) and com.microsoft's attention ops.

With S query positions, L key positions (past included), Dq/Dv the summed head widths:
  QK^T:   2 * B * S * L * Dq      AV: 2 * B * S * L * Dv      softmax: 5 * B * heads * S * L
Both products are read off tensor sizes, so the same formula covers 3-D (B, S, heads*D) and 4-D
(B, heads, S, D) layouts: prod(Q) * L and prod(output) * L.
"""

from __future__ import annotations

import math

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.record import OpClass, OpCost, UnknownShapeError
from archlint.model.graph import Node

SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide


def _sdpa_flops(query_elems: int, out_elems: int, heads_times_queries: int, keys: int) -> int:
    return 2 * query_elems * keys + 2 * out_elems * keys + SOFTMAX_FLOPS * heads_times_queries * keys


def _total_keys(node: Node, ctx: CostContext, present_index: int, key_len: int) -> int:
    """Key length with the KV cache: read off the present-key output when the op has one."""
    if len(node.outputs) > present_index and node.outputs[present_index]:
        try:
            return ctx.shape(node.outputs[present_index])[-2]
        except UnknownShapeError:
            return key_len
    return key_len


def onnx_attention(node: Node, ctx: CostContext) -> OpCost:
    q_shape, k_shape = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    if len(q_shape) == 4:  # (B, heads, S, D)
        heads, head_dim, key_len = q_shape[1], q_shape[3], k_shape[2]
    else:  # (B, S, heads*D)
        heads = int(node.attr("q_num_heads", 1))
        head_dim, key_len = q_shape[2] // heads, k_shape[1]
    keys = _total_keys(node, ctx, 1, key_len)
    queries = math.prod(q_shape) // head_dim
    flops = _sdpa_flops(math.prod(q_shape), ctx.out_numel(node), queries, keys)
    return OpCost(flops, OpClass.ATTENTION, (head_dim,), ("head dim",))


def ms_attention(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft Attention: input (B, S, Din) @ weights (Din, Dq+Dk+Dv), then attention."""
    batch, seq, d_in = ctx.shape(node.inputs[0])
    projection = 2 * batch * seq * d_in * ctx.shape(node.inputs[1])[1]
    heads = int(node.attr("num_heads", 1))
    out = ctx.shape(node.outputs[0])
    keys = _total_keys(node, ctx, 1, seq)
    flops = projection + _sdpa_flops(math.prod(out), math.prod(out), batch * heads * seq, keys)
    return OpCost(flops, OpClass.ATTENTION, (out[-1] // heads,), ("head dim",))


def ms_multihead_attention(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft MultiHeadAttention / GroupQueryAttention / PackedAttention (no projections)."""
    out = ctx.shape(node.outputs[0])  # (B, S, heads*Dv)
    heads = int(node.attr("num_heads", 1))
    batch, seq = out[0], out[1]
    key_len = seq
    if node.input(1):
        k_shape = ctx.shape(node.inputs[1])
        key_len = k_shape[2] if len(k_shape) == 4 else k_shape[1]
    keys = _total_keys(node, ctx, 1, key_len)
    flops = _sdpa_flops(math.prod(out), math.prod(out), batch * heads * seq, keys)
    return OpCost(flops, OpClass.ATTENTION, (out[-1] // heads,), ("head dim",))


def linear_attention(node: Node, ctx: CostContext) -> OpCost:
    """Linear attention (3-D packed): per token and head, a state update k^T v and a read q S,
    each Dk * Dv multiply-adds."""
    q_shape = ctx.shape(node.inputs[0])
    out = ctx.out_numel(node)
    head_dim = q_shape[-1] // int(node.attr("q_num_heads", 1))
    return OpCost(4 * out * head_dim, OpClass.ATTENTION, (head_dim,), ("head dim",))
