"""AL201 depthwise-on-accelerator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, severity_by_kind
from archlint.units import count, percent, seconds

from ._graph import conv_alternative, conv_ints, conv_weight, next_through_pass_through, static_shape


@dataclass(frozen=True)
class _Dense:
    """A regular conv that does the work of ``replaces`` (the depthwise conv, maybe its 1x1)."""

    replaces: tuple[NodeCost, ...]
    shape: str  # "3x3 conv 32 -> 64, stride 2"
    cost: NodeCost


class DepthwiseOnAccelerator(Rule):
    """## What it does
    Finds depthwise convolutions on GPU and NPU targets and compares each with the regular conv
    that could do its job: when a 1x1 conv follows (through BatchNorm and activations, as in
    every depthwise-separable block), one regular conv with the depthwise kernel from the block's
    input to the 1x1's output channels; otherwise a regular conv of the same shape. The
    alternative is re-costed on the target's roofline; the saving compares it with the convs it
    replaces alone, leaving out the BatchNorm and activation between them that would also go.
    Where the regular conv is predicted no faster, nothing is reported: keeping the depthwise
    conv is then the right call on that target.

    ## Why is this bad?
    A depthwise conv has no data reuse across channels, so it behaves like an elementwise op:
    about 2 FLOP per byte for a 3x3 kernel in fp32, far below the ridge point of GPUs and NPUs
    (9.6 FLOP/B for fp32 on an A100, over 150 for fp16 tensor cores; about 90 on the RK3588
    NPU). It cuts FLOPs about 10x while bytes stay flat, which helps on compute-poor CPUs and
    does little where compute is plentiful; each depthwise-separable block also pays two kernel
    launches where a regular conv pays one. MobileDets found regular convs beat depthwise-
    separable ones on accelerators in the low-channel early layers, and some NPUs run depthwise
    blocks poorly unless the vendor optimized them. The finding gives the depthwise conv's share
    of the predicted latency, its intensity against the target's ridge point, and the predicted
    time of the regular alternative. CPUs are not checked: there the FLOP cut pays.

    ## Example
    ```python
    nn.Sequential(  # depthwise-separable: ~9x fewer FLOPs, but two memory-bound kernels
        nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 1),
    )
    ```

    ## Use instead
    ```python
    nn.Conv2d(32, 64, 3, padding=1)  # one compute-dense kernel on GPUs and NPUs
    ```
    Where the regular conv is predicted slower, the finding stays (when depthwise convs take a
    large share of the latency) and the fix is to cut their bytes instead: fewer channels or a
    lower resolution in the depthwise stages, or fp16/int8 activations.

    ## Options
    (written from the options model)

    ## References
    - Xiong et al., "MobileDets: Searching for Object Detection Architectures for Mobile
      Accelerators", CVPR 2021 (regular convs in place of depthwise-separable ones).
    - Radosavovic et al., "Designing Network Design Spaces" (RegNet), CVPR 2020: activations,
      not FLOPs, track GPU time.
    - Williams, Waterman and Patterson, "Roofline: An Insightful Visual Performance Model",
      CACM 2009.
    """

    code = "AL201"
    name = "depthwise-on-accelerator"
    summary = "depthwise convs that leave a GPU's or NPU's arithmetic units idle"
    severity = severity_by_kind(gpu=Severity.WARNING, npu=Severity.WARNING)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        depthwise = [n for n in ctx.cost.nodes if n.op_class is OpClass.DEPTHWISE_CONV and n.flops]
        total_s = sum(ctx.time(n) for n in depthwise)
        for node in depthwise:
            dense = _dense_alternative(ctx, node)
            if dense is None:
                continue
            before_s = sum(ctx.time(n) for n in dense.replaces)
            after_s = ctx.time_of([dense.cost])
            if after_s < before_s:
                yield _finding(ctx, node, dense, len(depthwise), total_s, before_s, after_s)


def _dense_alternative(ctx: RuleContext, node: NodeCost) -> _Dense | None:
    weight = conv_weight(ctx, node)
    x_shape = static_shape(ctx, node.node.input(0))
    y_shape = static_shape(ctx, node.node.outputs[0])
    if weight is None or x_shape is None or y_shape is None:
        return None
    (_, _, *kernel), _ = weight
    pointwise = next_through_pass_through(ctx, node)
    out_shape, groups = _pointwise_output(ctx, pointwise, y_shape)
    replaces = (node,) if out_shape is None or pointwise is None else (node, pointwise)
    out_shape = out_shape or y_shape
    in_channels, out_channels = x_shape[1], out_shape[1]
    if in_channels % groups:
        groups = 1
    per_group = in_channels // groups
    cost = conv_alternative(ctx, node, (out_channels, per_group, *kernel), out_shape, groups)
    if cost is None:
        return None
    strides = conv_ints(node, "strides", len(kernel))
    shape = f"{'x'.join(map(str, kernel))} conv {in_channels} -> {out_channels}"
    shape += f" with {groups} groups" if groups > 1 else ""
    shape += f", stride {'x'.join(map(str, strides))}" if any(s > 1 for s in strides) else ""
    return _Dense(replaces, shape, cost)


def _pointwise_output(
    ctx: RuleContext, reader: NodeCost | None, depthwise_out: tuple[int, ...]
) -> tuple[tuple[int, ...] | None, int]:
    """Output shape and groups of a 1x1 stride-1 conv that reads the depthwise output as is."""
    weight = conv_weight(ctx, reader) if reader is not None else None
    if reader is None or weight is None or reader.op_class is not OpClass.CONV or reader.repeats != 1:
        return None, 1
    kernel, groups = weight[0][2:], int(reader.node.attr("group", 1))
    out_shape = static_shape(ctx, reader.node.outputs[0])
    strides = conv_ints(reader, "strides", len(kernel))
    same_grid = out_shape is not None and out_shape[2:] == depthwise_out[2:]
    same_channels = weight[0][1] * groups == depthwise_out[1]  # no view in between regrouped them
    if any(k != 1 for k in kernel) or any(s != 1 for s in strides) or not (same_grid and same_channels):
        return None, 1
    return out_shape, groups


def _finding(
    ctx: RuleContext,
    node: NodeCost,
    dense: _Dense,
    depthwise_count: int,
    total_s: float,
    before_s: float,
    after_s: float,
) -> Finding:
    profile = ctx.profile
    ridge = profile.peak_for(node.compute_dtype) / profile.memory_bandwidth
    channels = node.padded_dims[0] if node.padded_dims else 0
    names = " and the 1x1 conv ".join(repr(n.name) for n in dense.replaces)
    message = (
        f"Depthwise {node.op_type} {node.name!r} ({channels} channels) takes "
        f"{percent(ctx.time(node), ctx.latency_s)} of the predicted latency on {profile.name} (all "
        f"{depthwise_count} depthwise convs: {percent(total_s, ctx.latency_s)}); it does "
        f"{node.intensity:.1f} FLOP/B against the {node.compute_dtype} ridge point of {ridge:.1f} and is "
        f"{ctx.timed(node).bound}-bound. A regular {dense.shape} in place of {names} does "
        f"{count(dense.cost.flops)} FLOPs at {dense.cost.intensity:.1f} FLOP/B in a predicted "
        f"{seconds(after_s)}, against {seconds(before_s)} now."
    )
    fix = f"replace {names} with one regular {dense.shape}."
    touched = tuple(n.name for n in dense.replaces)
    return Finding(node=node.name, message=message, fix=fix, saving_s=before_s - after_s, touched=touched)
