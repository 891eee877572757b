"""Pooling: one operation per window element (LpPool: 2, a power and an add)."""

from __future__ import annotations

import math

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node


def window_pool(node: Node, ctx: CostContext) -> OpCost:
    kernel = math.prod(node.attr("kernel_shape", [1]))
    per_window = 2 if node.op_type.endswith("LpPool") else 1
    return OpCost(ctx.out_numel(node) * kernel * per_window, OpClass.POOLING)


def global_pool(node: Node, ctx: CostContext) -> OpCost:
    per_element = 2 if node.op_type.endswith("LpPool") else 1
    return OpCost(ctx.numel(node.inputs[0]) * per_element, OpClass.POOLING)


def max_roi_pool(node: Node, ctx: CostContext) -> OpCost:
    """Region sizes depend on the boxes: counted as if each ROI spans the whole feature map."""
    in_shape = ctx.shape(node.inputs[0])
    pooled = math.prod(node.attr("pooled_shape", [1, 1]))
    region = max(math.prod(in_shape[2:]) // max(pooled, 1), 1)
    return OpCost(ctx.out_numel(node) * region, OpClass.POOLING)


def roi_align(node: Node, ctx: CostContext) -> OpCost:
    """Each output averages sampling_ratio^2 bilinear samples (4 taps, 2 FLOPs each)."""
    ratio = int(node.attr("sampling_ratio", 0)) or 2  # 0 means adaptive; 2 is the usual outcome
    return OpCost(ctx.out_numel(node) * ratio * ratio * 8, OpClass.POOLING)
