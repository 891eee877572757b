"""Convolutions: Conv (1-3D, groups, dilations), ConvTranspose, DeformConv and quantized forms.

Conv:          FLOPs = 2 * N * OC * prod(out spatial) * (IC/G) * prod(kernel)   (bias ignored)
ConvTranspose: FLOPs = 2 * N * IC * prod(in spatial) * (OC/G) * prod(kernel)
Strides, pads and dilations act through the output shape, which shape inference resolves.
"""

from __future__ import annotations

import math

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import Handler
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node


def conv_with(data: int = 0, weight: int = 1, compute_dtype: str | None = None) -> Handler:
    """A Conv handler for operators that put the data and the weight at other input slots."""

    def handler(node: Node, ctx: CostContext) -> OpCost:
        weight_shape = ctx.shape(node.inputs[weight])
        out_shape = ctx.shape(node.outputs[0])
        group = int(node.attr("group", 1))
        in_per_group, kernel = weight_shape[1], math.prod(weight_shape[2:])
        out_channels = weight_shape[0]
        macs = math.prod(out_shape) * in_per_group * kernel
        op_class, padded, roles = conv_class(group, in_per_group, out_channels)
        return OpCost(
            2 * macs,
            op_class,
            padded,
            roles,
            compute_dtype=compute_dtype,
            row_width=row_width(out_shape),
            reduction_length=in_per_group * kernel,
        )

    return handler


def conv_class(
    group: int, in_per_group: int, out_channels: int
) -> tuple[OpClass, tuple[int, ...], tuple[str, ...]]:
    """Depthwise convs vectorise over channels; dense ones pad both IC and OC to the alignment."""
    if group > 1 and in_per_group == 1:
        return OpClass.DEPTHWISE_CONV, (out_channels,), ("channels",)
    if group > 1:
        return OpClass.CONV, (out_channels // group,), ("output channels per group",)
    return OpClass.CONV, (in_per_group, out_channels), ("input channels", "output channels")


def row_width(out_shape: tuple[int, ...]) -> int:
    """Output positions along the innermost spatial axis (N, C, ..., W): one kernel row's work."""
    return out_shape[-1] if len(out_shape) > 2 else 1


conv = conv_with()


def conv_transpose(node: Node, ctx: CostContext) -> OpCost:
    in_shape = ctx.shape(node.inputs[0])
    weight_shape = ctx.shape(node.inputs[1])  # (IC, OC/G, k...)
    group = int(node.attr("group", 1))
    macs = math.prod(in_shape) * weight_shape[1] * math.prod(weight_shape[2:])
    in_channels = weight_shape[0]
    op_class, padded, roles = conv_class(group, in_channels // group, weight_shape[1] * group)
    out_width = row_width(ctx.shape(node.outputs[0]))
    return OpCost(2 * macs, op_class, padded, padded_roles=roles, row_width=out_width)


def deform_conv(node: Node, ctx: CostContext) -> OpCost:
    """Conv MACs plus bilinear sampling of every (output position, input channel, tap): 4 MACs."""
    base = conv(node, ctx)
    out_shape = ctx.shape(node.outputs[0])
    weight_shape = ctx.shape(node.inputs[1])
    group = int(node.attr("group", 1))
    positions = out_shape[0] * math.prod(out_shape[2:])
    sampling_macs = positions * weight_shape[1] * group * math.prod(weight_shape[2:]) * 4
    return base._replace(flops=base.flops + 2 * sampling_macs)


def conv_plus_activation(node: Node, ctx: CostContext) -> OpCost:
    """com.microsoft FusedConv / NhwcConv: a Conv with its bias, residual add and activation."""
    base = conv(node, ctx)
    epilogue = ctx.out_numel(node) * (1 + (1 if node.input(3) else 0))
    return base._replace(flops=base.flops + epilogue)


def causal_conv_with_state(node: Node, ctx: CostContext) -> OpCost:
    """Depthwise causal 1-D conv over (N, C, L) with a (C, 1, K) weight, carrying K-1 state."""
    return conv(node, ctx)
