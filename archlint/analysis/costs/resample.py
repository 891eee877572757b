"""Resampling: Resize/Upsample, GridSample, AffineGrid, and DFT-family signal ops.

Resize per output element: nearest 0 (a copy), linear 2 * 2^k, cubic 2 * 4^k, where k is the
number of axes whose size changes (each tap is a multiply-add).
DFT: 5 * n * log2(n) per complex transform (radix-2 FFT count); a real input counts half.
"""

from __future__ import annotations

import math

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import log2_at_least_1
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node

_TAPS_PER_AXIS = {
    "nearest": 1,
    "linear": 2,
    "bilinear": 2,
    "trilinear": 2,
    "cubic": 4,
    "bicubic": 4,
}


def resize(node: Node, ctx: CostContext) -> OpCost:
    mode = str(node.attr("mode", "nearest")).lower()
    if mode == "nearest":
        return OpCost(0, OpClass.RESAMPLE)
    in_shape, out_shape = ctx.shape(node.inputs[0]), ctx.shape(node.outputs[0])
    resized_axes = sum(1 for a, b in zip(in_shape, out_shape, strict=False) if a != b)
    taps = _TAPS_PER_AXIS.get(mode, 2) ** max(resized_axes, 1)
    return OpCost(ctx.out_numel(node) * taps * 2, OpClass.RESAMPLE)


def grid_sample(node: Node, ctx: CostContext) -> OpCost:
    mode = str(node.attr("mode", "linear")).lower()
    spatial = len(ctx.shape(node.outputs[0])) - 2
    taps = _TAPS_PER_AXIS.get(mode, 2) ** spatial
    return OpCost(ctx.out_numel(node) * taps * 2, OpClass.RESAMPLE)


def affine_grid(node: Node, ctx: CostContext) -> OpCost:
    """Each output coordinate is a dot product of a theta row with (x, y[, z], 1)."""
    out = ctx.shape(node.outputs[0])
    return OpCost(math.prod(out) * 2 * out[-1], OpClass.RESAMPLE)


def dft(node: Node, ctx: CostContext) -> OpCost:
    in_shape = ctx.shape(node.inputs[0])
    axis = int(node.attr("axis", -2 if len(in_shape) > 1 else 0))
    length = in_shape[axis]
    transforms = math.prod(in_shape[:-1]) // max(length, 1)
    flops = transforms * 5 * length * log2_at_least_1(length)
    if in_shape[-1] == 1:  # real input
        flops /= 2
    return OpCost(round(flops), OpClass.SIGNAL)


def stft(node: Node, ctx: CostContext) -> OpCost:
    out = ctx.shape(node.outputs[0])  # (batch, frames, bins, 2)
    frame = ctx.shape(node.inputs[2])[0] if node.input(2) else 2 * (out[2] - 1)
    transforms = out[0] * out[1]
    return OpCost(round(transforms * 5 * frame * log2_at_least_1(frame) / 2), OpClass.SIGNAL)


def determinant(node: Node, ctx: CostContext) -> OpCost:
    """LU factorization: 2/3 n^3 FLOPs per matrix."""
    in_shape = ctx.shape(node.inputs[0])
    n = in_shape[-1]
    return OpCost(math.prod(in_shape[:-2]) * (2 * n**3) // 3, OpClass.OTHER)


def non_max_suppression(node: Node, ctx: CostContext) -> OpCost:
    """Pairwise IoU of the boxes of every class and batch: ~10 operations per pair."""
    batch, boxes, _ = ctx.shape(node.inputs[0])
    classes = ctx.shape(node.inputs[1])[1]
    return OpCost(batch * classes * boxes * boxes * 10, OpClass.OTHER)


def top_k(node: Node, ctx: CostContext) -> OpCost:
    """A heap of k: log2(k) comparisons per input element."""
    k = ctx.shape(node.outputs[0])[int(node.attr("axis", -1))]
    return OpCost(round(ctx.numel(node.inputs[0]) * log2_at_least_1(k)), OpClass.REDUCTION)
