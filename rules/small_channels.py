"""AL102 small-channels."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds

from ._graph import (
    INPUT_ROLES,
    OUTPUT_ROLES,
    conv_alternative,
    conv_weight,
    designer_chosen,
    next_through_pass_through,
    producer_through_pass_through,
    resized,
    static_shape,
)

# Within this share of today's time a wider layer counts as "no more predicted time".
_SAME_TIME = 0.01
_SPOKEN = {"K (reduction)": "input features (K)", "N (output features)": "output features (N)"}
# Dense convs and matrix products: grouped and depthwise convs have rules of their own.
_DENSE_ROLES = frozenset({("input channels", "output channels"), ("K (reduction)", "N (output features)")})


class SmallChannelsOptions(RuleOptions):
    min_channels: int = Field(
        16,
        ge=2,
        description="Report dense convs and matrix products with fewer input or output channels than this.",
    )


class SmallChannels(Rule):
    """## What it does
    Finds dense convolutions and matrix products with very few input or output channels (GEMM
    K or N), fewer than `min_channels`, on GPU and NPU targets. Channels the data fixes (the 3
    RGB channels of an image input, the classes of a classifier's output) are not reported, and
    a thin tensor is reported once, at the layer that makes it. When the thin layer feeds a
    dense layer of the same kind (a bottleneck), the rule re-costs the two merged into one;
    otherwise it re-costs the layer widened to `min_channels`.

    ## Why is this bad?
    Tensor cores and NPU MAC arrays compute on tiles many channels wide: NVIDIA tensor cores
    want channel multiples of 8 (fp16) or 16 (int8), HiSilicon NNIE 16 output channels, the
    RK3588 NPU blocks of 8 (fp16) or 16 (int8). A layer with 4 or 8 channels fills a fraction
    of each tile, and with so few channels it moves almost as many bytes as it does FLOPs: a
    1x1 conv from C to c channels does at most c/2 FLOP per fp32 byte, far below the ridge
    point of these devices (9.6 FLOP/B for fp32 on an A100, 156 on NNIE). Such layers save
    FLOPs, not time. The finding gives the channel count, the target's channel block and the
    share of lanes that carry data, the intensity against the ridge point, the fraction of peak
    the layer reaches and its share of the predicted latency. CPUs are not checked: their
    vector units are only 4 to 16 lanes wide.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(64, 8, 1), nn.ReLU(), nn.Conv2d(8, 64, 3, padding=1))  # 8-channel bottleneck
    ```

    ## Use instead
    ```python
    nn.Conv2d(64, 64, 3, padding=1)  # one compute-dense layer in place of two thin ones
    ```
    or widen the thin layer to 16 channels; early in a network, a regular conv in place of a
    depthwise-separable pair (MobileDets).

    ## Options
    (written from the options model)

    ## References
    - NVIDIA, Deep Learning Performance Guide: channel counts and tensor-core tile
      quantization for convolutions and GEMMs.
    - Xiong et al., "MobileDets: Searching for Object Detection Architectures for Mobile
      Accelerators", CVPR 2021 (regular convs in low-channel early layers).
    """

    code = "AL102"
    name = "small-channels"
    summary = "convs and matrix products too thin to fill tensor-core or NPU tiles"
    severity = severity_by_kind(gpu=Severity.WARNING, npu=Severity.WARNING)
    options_type = SmallChannelsOptions
    options: SmallChannelsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for node in ctx.cost.nodes:
            thin = self._thin(ctx, node)
            producer = producer_through_pass_through(ctx, node)
            if producer is not None and any(role in OUTPUT_ROLES for role, _ in self._thin(ctx, producer)):
                thin = [(role, dim) for role, dim in thin if role not in INPUT_ROLES]  # reported there
            found = self._finding(ctx, node, thin) if thin else None
            if found is not None:
                yield found

    def _thin(self, ctx: RuleContext, node: NodeCost) -> list[tuple[str, int]]:
        """The designer-chosen channel counts of a dense conv or GEMM below ``min_channels``, when
        they cost something on the target: padded lanes, or an intensity below the ridge point."""
        if node.padded_roles not in _DENSE_ROLES or node.flops == 0:
            return []
        if all(dim >= self.options.min_channels for dim in node.padded_dims):
            return []  # wide enough: no need to walk to the model's inputs and outputs
        thin = [(r, d) for r, d in designer_chosen(ctx, node) if d < self.options.min_channels]
        hurts = _lanes(ctx, node, thin) < 1 or node.intensity < _ridge(ctx, node)
        return thin if hurts else []

    def _finding(self, ctx: RuleContext, node: NodeCost, thin: list[tuple[str, int]]) -> Finding | None:
        message = self._message(ctx, node, thin)
        thin_out = next((dim for role, dim in thin if role in OUTPUT_ROLES), None)
        merge = _merge_fix(ctx, node, thin_out) if thin_out is not None else None
        if merge is not None:
            touched = (node.name, merge[2])
            return Finding(node=node.name, message=message, fix=merge[0], saving_s=merge[1], touched=touched)
        return self._widened(ctx, node, thin)

    def _message(self, ctx: RuleContext, node: NodeCost, thin: list[tuple[str, int]]) -> str:
        profile, dtype = ctx.profile, node.compute_dtype
        lanes, ridge = _lanes(ctx, node, thin), _ridge(ctx, node)
        utilization = node.flops / ctx.time(node) / profile.peak_for(dtype) if ctx.time(node) else 0.0
        channels = ", ".join(f"{dim} {_SPOKEN.get(role, role)}" for role, dim in thin)
        packing = (
            f"{profile.name} packs {dtype} channels in blocks of {profile.alignment_for(dtype)}, so "
            f"{lanes:.0%} of the lanes carry data and "
            if lanes < 1
            else ""
        )
        side = "below" if node.intensity < ridge else "above"
        return (
            f"{node.op_type} {node.name!r} has {channels} (fewer than {self.options.min_channels}): "
            f"{packing}it does {node.intensity:.1f} FLOP/B, {side} the {dtype} ridge point of {ridge:.1f}; "
            f"it uses {utilization:.1%} of the {dtype} peak and takes "
            f"{percent(ctx.time(node), ctx.latency_s)} of the predicted latency on {profile.name}."
        )

    def _widened(self, ctx: RuleContext, node: NodeCost, thin: list[tuple[str, int]]) -> Finding | None:
        """Widening the thin dims to a full block: reported when it costs no more predicted time
        (capacity for free); a wider layer that is slower is no fix."""
        width = _round_up(self.options.min_channels, ctx.profile.alignment_for(node.compute_dtype))
        widened = resized(ctx, node, dict.fromkeys((role for role, _ in thin), width))
        if widened is None:
            return None
        now_s, then_s = ctx.time(node), ctx.time_of([widened])
        if then_s > now_s * (1 + _SAME_TIME):
            return None
        fix = f"widen it to {width} channels: {seconds(then_s)} against {seconds(now_s)} now, no more time"
        producer = producer_through_pass_through(ctx, node)
        if producer is not None and producer.op_class is OpClass.DEPTHWISE_CONV:
            fix += ", or use one regular conv in place of the depthwise-separable pair before it (AL201)"
        message = self._message(ctx, node, thin)
        return Finding(node=node.name, message=message, fix=fix + ".", severity=Severity.INFO)


def _lanes(ctx: RuleContext, node: NodeCost, thin: list[tuple[str, int]]) -> float:
    """Share of the channel lanes that carry data once the thin counts are padded to the block."""
    alignment = ctx.profile.alignment_for(node.compute_dtype)
    return math.prod(d / _round_up(d, alignment) for _, d in thin)


def _ridge(ctx: RuleContext, node: NodeCost) -> float:
    return ctx.profile.peak_for(node.compute_dtype) / ctx.profile.memory_bandwidth


def _round_up(dim: int, alignment: int) -> int:
    return math.ceil(dim / alignment) * alignment


def _merge_fix(ctx: RuleContext, node: NodeCost, thin_out: int) -> tuple[str, float, str] | None:
    """Merging a bottleneck into the layer after it, with the time saved, when that is faster."""
    merged = _merged(ctx, node)
    if merged is None:
        return None
    partner, cost = merged
    pair_s, merged_s = ctx.time(node) + ctx.time(partner), ctx.time_of([cost])
    if merged_s >= pair_s:
        return None
    fix = (
        f"merge it with {partner.name!r} into one {node.op_type} {cost.padded_dims[0]} -> "
        f"{cost.padded_dims[1]} (no {thin_out}-channel bottleneck): predicted {seconds(merged_s)} "
        f"instead of {seconds(pair_s)} for the pair."
    )
    return fix, pair_s - merged_s, partner.name


def _merged(ctx: RuleContext, node: NodeCost) -> tuple[NodeCost, NodeCost] | None:
    """The dense layer after a thin one, and the single layer that replaces both: the first's
    input channels to the second's outputs, with the larger of their kernels."""
    partner = next_through_pass_through(ctx, node)
    if partner is None or partner.padded_roles != node.padded_roles or partner.repeats != node.repeats:
        return None
    area = _merged_kernel_area(ctx, node, partner)
    out_shape = static_shape(ctx, partner.node.outputs[0])
    if area is None or out_shape is None or not node.weight_bytes:
        return None
    if node.op_class is OpClass.MATMUL:
        merged = resized(ctx, node, {"N (output features)": partner.padded_dims[1]})
        return (partner, merged) if merged is not None else None
    first, second = conv_weight(ctx, node), conv_weight(ctx, partner)
    in_shape = static_shape(ctx, node.node.input(0))
    if first is None or second is None or in_shape is None:
        return None
    wide = node if math.prod(first[0][2:]) >= math.prod(second[0][2:]) else partner
    kernel = (first if wide is node else second)[0][2:]
    weight = (out_shape[1], in_shape[1], *kernel)
    merged = conv_alternative(ctx, wide, weight, out_shape, 1, in_shape)
    return (partner, merged) if merged is not None else None


def _merged_kernel_area(ctx: RuleContext, node: NodeCost, partner: NodeCost) -> int | None:
    """1 for two matrix products; for two convs, the larger kernel when the other one is 1x1."""
    if node.op_class is OpClass.MATMUL:
        weights = [n.node.input(1) for n in (node, partner)]
        constant = all(w not in ctx.producers and w not in ctx.cost.model.graph.inputs for w in weights)
        return 1 if constant and partner.weight_bytes else None
    first, second = conv_weight(ctx, node), conv_weight(ctx, partner)
    if first is None or second is None or len(first[0]) != len(second[0]):
        return None
    areas = sorted(math.prod(w[0][2:]) for w in (first, second))
    return areas[1] if areas[0] == 1 else None
