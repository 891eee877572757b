"""Normalizations, Softmax and LRN, in operations per element at inference.

BatchNormalization: 2 (engines fold it into one scale and one shift per channel).
LayerNorm/GroupNorm/InstanceNorm: 7 (mean, subtract, square, variance sum, scale by 1/std,
gamma, beta). RMSNorm: 4 (square, sum, scale by 1/rms, gamma). Softmax: 5 (max, subtract, exp,
sum, divide). LRN: 2 per window element plus 3 (square-sum, then bias, power, divide).
"""

from __future__ import annotations

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import Handler
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node

LAYER_NORM_FLOPS = 7
RMS_NORM_FLOPS = 4


def per_element(flops: int, op_class: OpClass = OpClass.NORMALIZATION) -> Handler:
    def handler(node: Node, ctx: CostContext) -> OpCost:
        return OpCost(ctx.numel(node.inputs[0]) * flops, op_class)

    return handler


def lrn(node: Node, ctx: CostContext) -> OpCost:
    size = int(node.attr("size", 5))
    return OpCost(ctx.numel(node.inputs[0]) * (2 * size + 3), OpClass.NORMALIZATION)


def skip_layer_norm(norm_flops: int) -> Handler:
    """com.microsoft Skip(Simplified)LayerNormalization: residual add (+ bias) then the norm."""

    def handler(node: Node, ctx: CostContext) -> OpCost:
        adds = 1 + (1 if node.input(4 if norm_flops == LAYER_NORM_FLOPS else 3) else 0)
        return OpCost(ctx.numel(node.inputs[0]) * (norm_flops + adds), OpClass.NORMALIZATION)

    return handler


def embed_layer_norm(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft EmbedLayerNormalization: 2-3 embedding gathers, their sum, a LayerNorm."""
    out = ctx.out_numel(node)
    return OpCost(out * (2 + LAYER_NORM_FLOPS), OpClass.NORMALIZATION)
