"""Matrix products: Gemm, MatMul (with broadcasting and 1-D operands), Einsum, and quantized forms.

Gemm/MatMul FLOPs = 2 * prod(output) * K, where K is the contracted dimension (bias ignored).
Einsum FLOPs = 2 * prod(sizes of all indices) for two or more operands (a multiply-add per point
of the full index space, n-1 multiplies for n operands); one operand: one add per index point.
"""

from __future__ import annotations

import math

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import Handler
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node

_KN = ("K (reduction)", "N (output features)")


def matmul_with(a: int = 0, b: int = 1, compute_dtype: str | None = None) -> Handler:
    def handler(node: Node, ctx: CostContext) -> OpCost:
        a_shape = ctx.shape(node.inputs[a])
        b_shape = ctx.shape(node.inputs[b])
        k = a_shape[-1] if a_shape else 1
        n = b_shape[-1] if len(b_shape) >= 2 else 1
        macs = max(ctx.out_numel(node), 1) * k
        return OpCost(2 * macs, OpClass.MATMUL, (k, n), _KN, compute_dtype=compute_dtype)

    return handler


matmul = matmul_with()


def gemm(node: Node, ctx: CostContext) -> OpCost:
    a_shape = ctx.shape(node.inputs[0])
    b_shape = ctx.shape(node.inputs[1])
    k = a_shape[0] if node.attr("transA", 0) else a_shape[-1]
    n = b_shape[0] if node.attr("transB", 0) else b_shape[-1]
    m = a_shape[-1] if node.attr("transA", 0) else a_shape[0]
    return OpCost(2 * m * n * k, OpClass.MATMUL, (k, n), _KN)


def fused_matmul(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft FusedMatMul: MatMul with transposes and a scale; K follows transA."""
    a_shape = ctx.shape(node.inputs[0])
    b_shape = ctx.shape(node.inputs[1])
    k = a_shape[-2] if node.attr("transA", 0) else a_shape[-1]
    n = b_shape[-2] if node.attr("transB", 0) else b_shape[-1]
    return OpCost(2 * ctx.out_numel(node) * k, OpClass.MATMUL, (k, n), _KN)


def einsum(node: Node, ctx: CostContext) -> OpCost:
    equation = str(node.attr("equation", "")).replace(" ", "")
    operands = [name for name in node.inputs if name]
    lhs = equation.split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for term, name in zip(lhs, operands, strict=False):
        for letter, size in zip(_expand_ellipsis(term, len(ctx.shape(name))), ctx.shape(name), strict=False):
            sizes[letter] = max(sizes.get(letter, 1), size)
    points = math.prod(sizes.values())
    contracted = len(operands) >= 2
    flops = 2 * points * (len(operands) - 1) if contracted else points
    return OpCost(flops, OpClass.MATMUL if contracted else OpClass.REDUCTION)


def _expand_ellipsis(term: str, rank: int) -> list[str]:
    """Give each dimension covered by '...' its own name, aligned from the right as numpy does."""
    if "..." not in term:
        return list(term)
    head, tail = term.split("...")
    hidden = rank - len(head) - len(tail)
    return [*head, *(f"#{i}" for i in range(hidden, 0, -1)), *tail]


def matmul_nbits(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft MatMulNBits: activations (..., K) times a block-quantized (N, K) weight."""
    k = int(node.attr("K", ctx.shape(node.inputs[0])[-1]))
    n = int(node.attr("N", ctx.shape(node.outputs[0])[-1]))
    return OpCost(2 * ctx.out_numel(node) * k, OpClass.MATMUL, (k, n), _KN)
