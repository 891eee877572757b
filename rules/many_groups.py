"""AL202 many-groups."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds

from ._graph import conv_alternative, conv_weight, static_shape


class ManyGroupsOptions(RuleOptions):
    min_groups: int = Field(4, ge=2, description="Report grouped convs with at least this many groups.")
    max_slowdown: float = Field(
        0.25,
        ge=0,
        description=(
            "Report only when some lower group count is predicted at most this much slower "
            "(0.25: 25%), i.e. when grouping buys little time on the target."
        ),
    )


class ManyGroups(Rule):
    """## What it does
    Finds grouped convolutions (not depthwise ones) with many groups, and re-costs each with
    fewer groups on the target: FLOPs and weights grow with the channels per group, the
    activations it reads and writes stay. It reports the conv when a lower group count is
    predicted to take at most `max_slowdown` more time, i.e. when the FLOPs that grouping
    removed were not what bounds the conv on this target.

    ## Why is this bad?
    ShuffleNetV2's guideline G2: at a fixed FLOP count, more groups mean more memory traffic.
    A conv with G groups does 1/G of the FLOPs of the dense one but reads and writes the same
    activations, so its arithmetic intensity falls about G-fold. On GPUs and NPUs, whose ridge
    points are high (9.6 FLOP/B for fp32 on an A100, about 90 on the RK3588 NPU), the grouped
    conv becomes memory- or launch-bound and the FLOP cut saves little time while it costs
    accuracy (fewer connections per output). Compute-poor CPUs gain more from the cut, so
    there the conv is usually not reported. Groups whose channels are fewer than the target's
    channel block are also padded, so part of the FLOP cut never happens. The finding gives
    the groups, the channels per group, the intensity against the ridge point, the share of
    predicted latency, and the predicted time with fewer groups.

    ## Example
    ```python
    nn.Conv2d(256, 256, 1, groups=8)  # 32 channels per group, memory-bound on GPUs
    ```

    ## Use instead
    ```python
    nn.Conv2d(256, 256, 1, groups=2)  # 4x the connections for little more predicted time
    ```
    and spend the capacity elsewhere (a narrower stage, fewer blocks), or keep the groups and
    make the layer narrower.

    ## Options
    (written from the options model)

    ## References
    - Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
      ECCV 2018, guideline G2 (excessive group convolution increases memory access cost).
    - Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for
      Mobile Devices", CVPR 2018 (grouped 1x1 convs).
    """

    code = "AL202"
    name = "many-groups"
    summary = "grouped convs whose many groups cut FLOPs but not time"
    severity = severity_by_kind(
        gpu=Severity.WARNING, npu=Severity.WARNING, cpu=Severity.INFO, other=Severity.INFO
    )
    options_type = ManyGroupsOptions
    options: ManyGroupsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for node in ctx.cost.nodes:
            groups = int(node.node.attr("group", 1))
            weight = conv_weight(ctx, node)
            if node.op_class is not OpClass.CONV or groups < self.options.min_groups or weight is None:
                continue
            limit_s = ctx.time(node) * (1 + self.options.max_slowdown)
            for fewer in _divisors_below(groups):
                regrouped = _regrouped(ctx, node, weight[0], groups, fewer)
                if regrouped is not None and ctx.time_of([regrouped]) <= limit_s:
                    yield _finding(ctx, node, weight[0], groups, fewer, regrouped)
                    break


def _divisors_below(groups: int) -> list[int]:
    """Group counts that keep every group whole, fewest first (the most connections); found in
    square-root time, since ``group`` is an attribute a model file may set to anything."""
    small = [d for d in range(1, math.isqrt(groups) + 1) if groups % d == 0]
    return sorted({*small, *(groups // d for d in small)} - {groups})


def _regrouped(
    ctx: RuleContext, node: NodeCost, weight: tuple[int, ...], groups: int, fewer: int
) -> NodeCost | None:
    """The conv with ``fewer`` groups, each taking ``groups // fewer`` times the input channels."""
    out = static_shape(ctx, node.node.outputs[0])
    if out is None:
        return None
    out_channels, per_group, *kernel = weight
    return conv_alternative(ctx, node, (out_channels, per_group * groups // fewer, *kernel), out, fewer)


def _finding(
    ctx: RuleContext, node: NodeCost, weight: tuple[int, ...], groups: int, fewer: int, regrouped: NodeCost
) -> Finding:
    profile = ctx.profile
    ridge = profile.peak_for(node.compute_dtype) / profile.memory_bandwidth
    in_channels, out_channels = weight[1] * groups, weight[0]
    now_s, then_s = ctx.time(node), ctx.time_of([regrouped])
    message = (
        f"{node.op_type} {node.name!r} has {groups} groups of {weight[1]} input channels "
        f"({in_channels} -> {out_channels}): it does {node.intensity:.1f} FLOP/B against the "
        f"{node.compute_dtype} ridge point of {ridge:.1f} on {profile.name}, is "
        f"{ctx.timed(node).bound}-bound and takes {percent(now_s, ctx.latency_s)} of the predicted "
        f"latency. With {fewer} group{'s' if fewer > 1 else ''} it would do {groups // fewer}x the FLOPs at "
        f"{regrouped.intensity:.1f} FLOP/B in a predicted {seconds(then_s)}, against {seconds(now_s)} now."
    )
    change = f"{seconds(then_s - now_s)} more" if then_s > now_s else "no more predicted time"
    fix = (
        f"use {fewer} group{'s' if fewer > 1 else ''} ({in_channels // fewer} input channels per group): "
        f"{groups // fewer}x the connections for {change}; spend the capacity elsewhere (a narrower "
        "stage, fewer blocks) or narrow this layer instead."
    )
    if then_s < now_s:
        return Finding(node=node.name, message=message, fix=fix, saving_s=now_s - then_s)
    # Not faster, only more capacity for the time: worth knowing, not a warning.
    return Finding(node=node.name, message=message, fix=fix, severity=Severity.INFO)
