"""Factories for operator families whose cost follows one formula with a per-op constant.

FLOP constants are operation counts per element as an engine would execute them (a compare, a
select, an exp each count 1); they are conventions documented in docs/cost-model.md, and matter
little: these operators are memory-bound on every profile archlint ships.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.errors import ShapeError
from archlint.model.graph import Node

Handler = Callable[[Node, CostContext], OpCost]


def pointwise(flops_per_element: float = 1.0, op_class: OpClass = OpClass.ELEMENTWISE) -> Handler:
    """One result per output element, ``flops_per_element`` operations each."""

    def handler(node: Node, ctx: CostContext) -> OpCost:
        return OpCost(round(ctx.out_numel(node) * flops_per_element), op_class)

    return handler


def variadic(node: Node, ctx: CostContext) -> OpCost:
    """Sum/Max/Min/Mean of n inputs: n-1 combining operations per output element (Mean: +1)."""
    present = [i for i in node.inputs if i]
    ops = max(len(present) - 1, 1) + (1 if node.op_type == "Mean" else 0)
    return OpCost(ctx.out_numel(node) * ops, OpClass.ELEMENTWISE)


def reduction(flops_per_input: int = 1) -> Handler:
    """Every input element is combined once (twice when it is first squared, abs'd or exp'd)."""

    def handler(node: Node, ctx: CostContext) -> OpCost:
        return OpCost(ctx.numel(node.inputs[0]) * flops_per_input, OpClass.REDUCTION)

    return handler


def movement(node: Node, ctx: CostContext) -> OpCost:
    """Copies, gathers, scatters, pads: no arithmetic, the bytes are the cost."""
    return OpCost(0, OpClass.DATA_MOVEMENT)


def view(node: Node, ctx: CostContext) -> OpCost:
    """Operators engines run as aliases of their input (Reshape, Squeeze, Identity...).

    An alias keeps its element count; when the resolved shapes say otherwise, the model cannot
    run at the bound input shapes (typically an exporter froze a traced size into a Reshape).
    """
    if node.inputs and node.inputs[0] and node.outputs and node.op_type != "Dropout":
        source, target = ctx.numel(node.inputs[0]), ctx.numel(node.outputs[0])
        if source != target:
            raise ShapeError(
                f"node {node.name!r} ({node.op_type}) cannot turn {ctx.shape(node.inputs[0])} into "
                f"{ctx.shape(node.outputs[0])}: the model does not run with these input shapes "
                "(did the exporter freeze a traced size?)"
            )
    return OpCost(0, OpClass.VIEW, bytes_read=0)


def partial_read(node: Node, ctx: CostContext) -> OpCost:
    """Gather/Slice-like: only the selected elements (about one per output) are read."""
    read = sum(ctx.nbytes(name) for name in node.inputs[1:] if name)
    data = ctx.dtype(node.inputs[0])
    element_bytes = data.nbytes(ctx.out_numel(node)) if data is not None else 0
    return OpCost(0, OpClass.DATA_MOVEMENT, bytes_read=read + element_bytes)


def gather_dequantize(node: Node, ctx: CostContext) -> OpCost:
    """GatherBlockQuantized: gather quantized rows, then scale each element (and subtract its
    zero point): two operations per output element, reading only the rows gathered."""
    out = ctx.out_numel(node)
    data = ctx.dtype(node.inputs[0])
    scales = ctx.dtype(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    row_bytes = data.nbytes(out) if data is not None else 0
    scale_bytes = scales.nbytes(out // max(int(node.attr("block_size", 128)), 1)) if scales is not None else 0
    indices = ctx.nbytes(node.inputs[1])
    return OpCost(2 * out, OpClass.QUANTIZE, bytes_read=row_bytes + scale_bytes + indices)


def shape_only(node: Node, ctx: CostContext) -> OpCost:
    """Shape/Size read metadata, not data."""
    return OpCost(0, OpClass.VIEW, bytes_read=0)


def log2_at_least_1(value: int) -> float:
    return max(math.log2(value), 1.0) if value > 1 else 1.0
