"""AL101 channel-alignment."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

from pydantic import Field

from archlint.analysis.model_cost import NodeCost
from archlint.analysis.roofline import padded_flops
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import count, seconds

from ._graph import channel_dims, resized, task_fixed, width_setting


class ChannelAlignmentOptions(RuleOptions):
    min_padding_share: float = Field(
        0.02,
        ge=0,
        lt=1,
        description="Report only when padding is at least this share of the operator's FLOPs.",
    )


class ChannelAlignment(Rule):
    """## What it does
    Finds convolutions, matrix products and attention heads whose channel counts (Conv input
    and output channels, GEMM K and N, the attention head width) are not a multiple of the
    channel block the target's engines use for the operator's dtype.

    ## Why is this bad?
    Inference engines pack channels in blocks and round every channel count up: N8CHW for fp16
    on Arm and for x86 AVX2, N16CHW for AVX-512, multiples of 8 (fp16) or 16 (int8) for NVIDIA
    tensor cores, 16 output channels on HiSilicon NNIE. A 30-channel conv runs as a 32-channel
    one (or 48 with 16-blocks): the padding is computed in full and wasted. The numbers in the
    finding are the target profile's `channel_alignment` and the FLOPs the padding costs.
    Channels the data fixes (the 3 RGB channels of an image input, the number of classes of a
    classifier's output) are not the designer's choice and are not reported.

    ## Example
    ```python
    nn.Conv2d(64, 30, 3, padding=1)  # 30 output channels: padded to 32 on GPUs and AVX-512 CPUs
    ```

    ## Use instead
    ```python
    nn.Conv2d(64, 32, 3, padding=1)  # the padding becomes useful capacity at the same cost
    ```
    or round down (`24`) to save the time the padding costs.

    ## Options
    (written from the options model)

    ## References
    - NVIDIA, Deep Learning Performance Guide: channels as multiples of 8 (fp16) / 16 (int8)
      for tensor-core convolutions and GEMMs.
    - Inference-engine layouts N4CHW / N8CHW / N16CHW: "模型“大小”与推理速度的那些事儿" (OpenPPL
      talk write-up, 2022-01-06, zhuanlan.zhihu.com/p/452245355).
    """

    code = "AL101"
    name = "channel-alignment"
    summary = "channel counts that are not a multiple of the target's channel block"
    severity = severity_by_kind(
        gpu=Severity.WARNING, npu=Severity.WARNING, cpu=Severity.INFO, other=Severity.INFO
    )
    options_type = ChannelAlignmentOptions
    fix_applicability = "unsafe"
    options: ChannelAlignmentOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for node in ctx.cost.nodes:
            alignment = ctx.profile.alignment_for(node.compute_dtype)
            if alignment <= 1 or not node.padded_dims or node.flops == 0:
                continue
            unaligned = [(role, dim) for role, dim in channel_dims(node) if dim > 0 and dim % alignment]
            if not unaligned:
                continue  # the walk to the model's inputs and outputs only for layers it concerns
            fixed = task_fixed(ctx, node)
            chosen = [(role, dim) for role, dim in unaligned if role not in fixed]
            padded_share = 1 - math.prod(dim / _round_up(dim, alignment) for _, dim in chosen or unaligned)
            if padded_share < self.options.min_padding_share:
                continue
            if chosen:
                yield _finding(ctx, node, chosen, alignment, padded_share)
            else:
                exempt = "; ".join(dict.fromkeys(fixed[role] for role, _ in unaligned))
                yield replace(_finding(ctx, node, unaligned, alignment, padded_share), exempt=exempt)


def _round_up(dim: int, alignment: int) -> int:
    return math.ceil(dim / alignment) * alignment


def _finding(
    ctx: RuleContext, node: NodeCost, unaligned: list[tuple[str, int]], alignment: int, padded_share: float
) -> Finding:
    described = ", ".join(f"{dim} {role}" for role, dim in unaligned)
    up = ", ".join(width_setting(ctx, role, _round_up(dim, alignment)) for role, dim in unaligned)
    runs = padded_flops(node, ctx.profile)
    message = (
        f"{node.op_type} {node.name!r} has {described}; {ctx.profile.name} packs {node.compute_dtype} "
        f"channels in blocks of {alignment}, so {count(runs * padded_share)} of the {count(runs)} "
        f"FLOPs it runs ({100 * padded_share:.1f}%) are padding."
    )
    down = {role: (dim // alignment) * alignment for role, dim in unaligned}
    smaller = resized(ctx, node, down) if all(down.values()) else None
    saving = ctx.saving_by([node], [smaller]) if smaller is not None else None
    if saving is not None and saving > 0:
        fix = (
            f"round down to {', '.join(width_setting(ctx, role, dim) for role, dim in down.items())} to save "
            f"{seconds(saving)}; or use {up}: the padding becomes useful capacity at the same predicted time."
        )
        return Finding(node=node.name, message=message, fix=fix, saving_s=saving)
    # Rounding up costs the same time and rounding down saves none: capacity, not time.
    fix = f"use {up}: the padding becomes useful capacity at the same predicted time."
    return Finding(node=node.name, message=message, fix=fix, severity=Severity.INFO)
