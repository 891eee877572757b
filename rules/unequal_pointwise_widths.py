"""AL304 unequal-pointwise-widths."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

from pydantic import Field

from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import seconds

from ._graph import next_through_pass_through, resized, sole_producer_through_pass_through, task_fixed


class UnequalPointwiseWidthsOptions(RuleOptions):
    min_excess_traffic: float = Field(
        0.1,
        ge=0,
        description="Report when the conv's memory access cost is at least this share above the "
        "equal-width minimum for its FLOPs.",
    )


class UnequalPointwiseWidths(Rule):
    """## What it does
    Finds 1x1 convolutions (stride 1, one group) whose input and output widths differ enough
    that an equal-width 1x1 conv with the same FLOPs would move noticeably less data, and that
    are not compute-bound on the target, so the extra traffic costs time. Warning where the conv
    is memory-bound, info where its launch dominates. A width belongs to a tensor: equal widths
    change the layer that writes the conv's input and the one that reads its output too, so the
    saving re-costs all three; where a width is shared further (a residual stream, a second
    reader, a depthwise layer) the change cannot be priced alone and nothing is reported.

    ## Why is this bad?
    ShuffleNet V2's guideline G1: a 1x1 conv from c1 to c2 channels on h x w positions does
    B = hw * c1 * c2 multiply-adds and has a memory access cost (elements read and written)
    MAC = hw(c1 + c2) + c1 * c2. For a fixed B, MAC >= 2 * sqrt(hw * B) + B / hw, with equality
    when c1 = c2. A ResNet bottleneck's 256 -> 64 reduction on 56x56 has MAC = 3136 * 320 +
    16384 = 1,019,904 elements; 128 -> 128 has the same B and MAC = 819,200, 20% less. Where
    the conv is memory-bound (a 64 -> 16 1x1 conv on 56x56 does 6.4 FLOP/B in fp32, below the
    a100's 9.6 and the cortex-a76's 9.0) its time follows MAC, not FLOPs.

    ## Example
    ```python
    nn.Conv2d(64, 16, 1)  # MAC 24.9% above the equal-width minimum at 56x56
    ```

    ## Use instead
    ```python
    nn.Conv2d(32, 32, 1)  # same FLOPs; ShuffleNet V2 keeps its 1x1 convs at equal widths
    ```

    ## Options
    (written from the options model)

    ## References
    - N. Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
      ECCV 2018, guideline G1 (equal channel width minimizes memory access cost).
    """

    code = "AL304"
    name = "unequal-pointwise-widths"
    summary = "1x1 convolutions whose unequal input and output widths add memory traffic"
    severity = severity_by_kind(gpu=Severity.INFO, cpu=Severity.INFO, npu=Severity.INFO, other=Severity.INFO)
    options_type = UnequalPointwiseWidthsOptions
    options: UnequalPointwiseWidthsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for node in ctx.cost.nodes:
            widths = _pointwise_widths(ctx, node)
            if widths is None:
                continue
            hw, c1, c2 = widths
            mac = hw * (c1 + c2) + c1 * c2
            least = 2 * hw * math.sqrt(c1 * c2) + c1 * c2  # = 2 sqrt(hw B) + B / hw
            if mac / least - 1 < self.options.min_excess_traffic:
                continue
            saving, layers = _equal_width_saving(ctx, node, c1, c2)
            if saving <= 0:
                continue
            found = replace(_finding(ctx, node, widths, (mac, least), saving), touched=layers)
            # Equal widths change both sides: a side the task fixes (a head's outputs, an
            # input's channels) rules the advice out.
            fixed = task_fixed(ctx, node)
            yield replace(found, exempt="; ".join(dict.fromkeys(fixed.values()))) if fixed else found


def _pointwise_widths(ctx: RuleContext, node: NodeCost) -> tuple[int, int, int] | None:
    """(positions hw, input width c1, output width c2) of a stride-1, one-group 1x1 conv."""
    if node.op_type != "Conv" or int(node.node.attr("group", 1)) != 1:
        return None
    names = (node.node.input(0), node.node.input(1), node.node.outputs[0])
    tensors = [ctx.cost.model.graph.tensor(name) if name else None for name in names]
    shapes = [t.static_shape if t is not None else None for t in tensors]
    if any(shape is None or len(shape) < 3 for shape in shapes):
        return None
    x, w, y = (shape or () for shape in shapes)
    if any(k != 1 for k in w[2:]) or x[2:] != y[2:]:  # a 1x1 kernel that keeps the spatial size
        return None
    return y[0] * math.prod(y[2:]), x[1], y[1]


_DENSE = ("input channels", "output channels")


def _equal_width_saving(ctx: RuleContext, node: NodeCost, c1: int, c2: int) -> tuple[float, tuple[str, ...]]:
    """The conv at width sqrt(c1 * c2) in and out, with the dense layers on either side that
    write its input and read its output re-costed at that width too (the widths are tensors'
    and change on both sides); (0, ()) when a width is shared further (a residual stream, a
    second reader, a depthwise layer) and the change cannot be priced here."""
    producer = sole_producer_through_pass_through(ctx, node)
    consumer = next_through_pass_through(ctx, node)
    if (
        producer is None
        or consumer is None
        or producer.padded_roles != _DENSE
        or consumer.padded_roles != _DENSE
    ):
        return 0.0, ()
    width = round(math.sqrt(c1 * c2))
    changed = [
        resized(ctx, producer, {"output channels": width}),
        resized(ctx, node, {"input channels": width, "output channels": width}),
        resized(ctx, consumer, {"input channels": width}),
    ]
    if any(alt is None for alt in changed):
        return 0.0, ()
    layers = [producer, node, consumer]
    saving = ctx.saving_by(layers, [alt for alt in changed if alt is not None]) or 0.0
    return saving, tuple(n.name for n in layers)


def _finding(
    ctx: RuleContext, node: NodeCost, widths: tuple[int, int, int], macs: tuple[int, float], saving: float
) -> Finding:
    hw, c1, c2 = widths
    mac, least = macs
    width = math.sqrt(c1 * c2)
    bound = ctx.timed(node).bound
    message = (
        f"Conv {node.name!r} is a 1x1 conv from {c1} to {c2} channels on hw = {hw:,} positions: its "
        f"memory access cost MAC = hw(c1 + c2) + c1*c2 = {mac:,} elements is {100 * (mac / least - 1):.1f}% "
        f"above the 2*sqrt(hw*B) + B/hw = {least:,.0f} of equal widths for the same "
        f"B = hw*c1*c2 = {hw * c1 * c2:,} multiply-adds (ShuffleNet V2 G1); it is {bound}-bound on "
        f"{ctx.profile.name}."
    )
    fix = (
        f"where the design allows, keep the 1x1 conv's widths equal: {width:.0f} -> {width:.0f} has the "
        f"same FLOPs and {100 * (1 - least / mac):.1f}% less traffic, saving {seconds(saving)}."
    )
    severity = Severity.WARNING if bound == "memory" else None
    return Finding(node=node.name, message=message, fix=fix, saving_s=saving, severity=severity)
