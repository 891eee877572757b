"""AL501 low-arithmetic-intensity."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import count, percent, seconds, size

from ._graph import in_dtype

# Narrower storage types, preferred first; the first the target computes in is offered.
_NARROWER = {
    "fp64": ("fp32",),
    "fp32": ("fp16", "bf16", "int8"),
    "tf32": ("fp16", "bf16", "int8"),
    "fp16": ("int8",),
    "bf16": ("int8",),
}
_BITS = {"fp64": 64, "fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "int8": 8}
_ADVICE = {
    OpClass.ELEMENTWISE: "fuse it into the operator that writes its input",
    OpClass.NORMALIZATION: "fold it into the conv before it or fuse it with its neighbours",
    OpClass.QUANTIZE: "fuse the (de)quantization into the neighbouring operators",
    OpClass.CONV: "tile it with the conv before or after it so that the tensor between them stays on chip",
    OpClass.DEPTHWISE_CONV: "fuse it with the 1x1 conv after it, or use a regular conv if channels are few",
    OpClass.POOLING: "fuse it into the conv before it",
    OpClass.RESAMPLE: "fuse it into the conv after it",
    OpClass.DATA_MOVEMENT: "remove it: let memory planning write the producers in place, fold layout changes",
}


class LowArithmeticIntensityOptions(RuleOptions):
    min_share: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Report memory-bound operators that take at least this share of the predicted latency.",
    )


class LowArithmeticIntensity(Rule):
    """## What it does
    Finds operators whose arithmetic intensity (FLOPs per byte moved) is below the target's
    ridge point for their dtype, that the roofline predicts to be memory-bound, and that take a
    large share of the predicted latency. The fix depends on the operator's class and always
    offers a narrower storage type, re-costed. Matrix products bound by reading their weights
    (a decode step's matrix-vector products) are AL502's: reported there once, together.

    ## Why is this bad?
    The ridge point `peak / bandwidth` is the intensity an operator needs to keep the arithmetic
    units busy: 9.6 FLOP/B for fp32 and 153 for fp16 tensor cores on the a100, 9.0 on the
    cortex-a76, 10.7 on the cortex-a53, 30 on the xeon-avx512, 91 on the rk3588-npu. Below it
    the operator waits on memory, its time is bytes / bandwidth and FLOP counts say nothing
    about it. A 3x3 depthwise conv on 128 channels at 28x28 does 1.8 MFLOP for 0.77 MiB, 2.2
    FLOP/B; an fp32 Add does 1/12. Compute-rich GPUs and NPUs waste the most on such operators.

    ## Example
    ```python
    nn.Conv2d(128, 128, 3, padding=1, groups=128)  # depthwise: 2.2 FLOP/B in fp32
    ```

    ## Use instead
    Fuse the operator with its neighbours (depthwise + pointwise, conv + activation), batch
    requests where the bytes are weights, or store activations in fp16 / int8: half or a quarter
    of the bytes for the same FLOPs.

    ## Options
    (written from the options model)

    ## References
    - S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance model
      for multicore architectures", CACM 2009.
    - "模型“大小”与推理速度的那些事儿" (OpenPPL talk write-up, 2022-01-06,
      zhuanlan.zhihu.com/p/452245355): the conv and depthwise-conv intensities on the roofline.
    - X. Ding et al., "RepVGG: Making VGG-style ConvNets Great Again", CVPR 2021: depthwise and
      efficient designs measured slower on GPUs than their FLOPs suggest.
    """

    code = "AL501"
    name = "low-arithmetic-intensity"
    summary = "memory-bound operators below the target's ridge point that take a large share of latency"
    severity = severity_by_kind(
        gpu=Severity.WARNING, npu=Severity.WARNING, cpu=Severity.INFO, other=Severity.INFO
    )
    options_type = LowArithmeticIntensityOptions
    options: LowArithmeticIntensityOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for timed in ctx.prediction.nodes:
            node = timed.cost
            ridge = ctx.profile.peak_for(node.compute_dtype) / ctx.profile.memory_bandwidth
            if timed.bound != "memory" or node.intensity >= ridge:
                continue
            if node.op_class is OpClass.MATMUL and 2 * node.weight_bytes > node.bytes:
                continue  # a weight-bound matrix product: AL502 reports them together, once
            if ctx.share(node) >= self.options.min_share:
                yield _finding(ctx, node, ridge)


def _finding(ctx: RuleContext, node: NodeCost, ridge: float) -> Finding:
    spent = ctx.time(node)
    message = (
        f"{node.op_type} {node.name!r} does {node.intensity:.2f} FLOP per byte ({count(node.flops)} FLOPs "
        f"for {size(node.bytes)}), below {ctx.profile.name}'s ridge point of {ridge:.1f} FLOP/B for "
        f"{node.compute_dtype}: memory-bound, {seconds(spent)}, {percent(spent, ctx.latency_s)} of the "
        "predicted latency."
    )
    advice = _ADVICE.get(node.op_class, "fuse it with its neighbours")
    if 2 * node.weight_bytes > node.bytes:
        advice = "batch requests so that its weights are read once per batch (AL502)"
    narrow = _narrower(ctx, node.compute_dtype)
    alternative = in_dtype(ctx, node, narrow) if narrow is not None else None
    if narrow is None or alternative is None:
        # No narrower type to offer: the advice is structural and the roofline cannot price it.
        return Finding(node=node.name, message=message, fix=advice + ".", severity=Severity.INFO)
    narrowed = ctx.time_of([alternative])
    saving = spent - narrowed
    fix = (
        f"{advice}; or store its tensors in {narrow}, {_BITS[node.compute_dtype] // _BITS[narrow]}x fewer "
        f"bytes: {seconds(narrowed)} instead of {seconds(spent)}, saving {seconds(saving)}."
    )
    return Finding(node=node.name, message=message, fix=fix, saving_s=saving)


def _narrower(ctx: RuleContext, dtype: str) -> str | None:
    options = _NARROWER.get(dtype, ())
    return next((d for d in options if d in ctx.profile.peak_flops), options[0] if options else None)
