"""AL302 elementwise-heavy."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.analysis.whatif import fused_kernel
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds

from ._graph import fusable_chains

_HEAVY = frozenset({OpClass.ELEMENTWISE, OpClass.NORMALIZATION})


class ElementwiseHeavyOptions(RuleOptions):
    min_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Report when elementwise and normalization operators take more than this share of "
        "the predicted latency.",
    )
    max_chains: int = Field(
        3, ge=1, description="How many fusable chains the fix names, largest saving first."
    )


class ElementwiseHeavy(Rule):
    """## What it does
    Adds up the predicted time of the elementwise and normalization operators that are not
    compute-bound (activations, bias and residual adds, scales, BatchNormalization) and reports
    the model when they take a large share of its latency. The fix names the chains that could
    run as one kernel: pointwise operators that each read the previous one's output as its only
    reader, or that follow a Conv or matrix product as its epilogue.

    ## Why is this bad?
    An elementwise operator reads and writes a whole tensor for one to a few FLOPs per element:
    an fp32 ReLU does 1 FLOP per 8 bytes, an Add 1 per 12, far below every target's ridge point
    (9.6 FLOP/B for fp32 on the a100, 10.7 on the cortex-a53, 30 on the xeon-avx512). Its time
    is its memory traffic plus a launch, however few FLOPs it counts. ShuffleNet V2 (guideline
    G4) measured elementwise operators taking a considerable share of time, most of all on GPUs,
    and about 20% speed-up on both GPU and ARM from removing ReLU and the shortcut from ResNet's
    bottleneck. Fused, a Conv -> BatchNormalization -> ReLU chain writes its output once and
    never reads it back; unfused it is written three times and read twice more.

    ## Example
    ```python
    y = torch.relu(bn(conv(x)) + x)  # Conv, BatchNormalization, Add, Relu: 3 extra round trips
    ```

    ## Use instead
    An engine or export that fuses the chain (onnxruntime and TensorRT fuse Conv + Add + ReLU;
    fold BatchNormalization into the conv first), or fewer elementwise operators in the design:
    ShuffleNet V2 applies ReLU on one branch only and replaces the residual Add by a Concat.

    ## Options
    (written from the options model)

    ## References
    - N. Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
      ECCV 2018, guideline G4 (element-wise operations are non-negligible).
    - S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance model
      for multicore architectures", CACM 2009.
    """

    code = "AL302"
    name = "elementwise-heavy"
    summary = "elementwise and normalization operators that take a large share of latency"
    severity = severity_by_kind(
        gpu=Severity.WARNING, cpu=Severity.WARNING, npu=Severity.INFO, other=Severity.INFO
    )
    options_type = ElementwiseHeavyOptions
    options: ElementwiseHeavyOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        heavy = [t for t in ctx.prediction.nodes if t.cost.op_class in _HEAVY and t.bound != "compute"]
        spent = sum(t.time_s for t in heavy)
        if ctx.latency_s <= 0 or spent / ctx.latency_s <= self.options.min_share:
            return
        flops, moved = sum(t.cost.flops for t in heavy), sum(t.cost.bytes for t in heavy)
        dtype = max(heavy, key=lambda t: t.time_s).cost.compute_dtype
        ridge = ctx.profile.peak_for(dtype) / ctx.profile.memory_bandwidth
        message = (
            f"{len(heavy)} elementwise and normalization operators take {seconds(spent)}, "
            f"{percent(spent, ctx.latency_s)} of the predicted {seconds(ctx.latency_s)} "
            f"on {ctx.profile.name}: "
            f"together they do {flops / moved if moved else 0:.3f} FLOP per byte moved, against a ridge "
            f"point of {ridge:.1f} FLOP/B for {dtype}."
        )
        chains = sorted(((_fusion_saving(ctx, c), c) for c in fusable_chains(ctx)), key=lambda p: -p[0])
        saving = sum(s for s, _ in chains)
        touched = tuple(n.name for _, chain in chains for n in chain)
        yield Finding(None, message, self._fix(chains, saving), saving, touched=touched)

    def _fix(self, chains: list[tuple[float, tuple[NodeCost, ...]]], saving: float) -> str:
        if not chains:
            return "use fused operators or fewer elementwise operators in the design (ShuffleNet V2 G4)."
        shown = chains[: self.options.max_chains]
        named = "; ".join(f"{' -> '.join(n.name for n in c)} ({seconds(s)})" for s, c in shown)
        more = f" and {len(chains) - len(shown)} more" if len(chains) > len(shown) else ""
        return (
            f"fuse each chain into one kernel, so the tensors between its operators are never written "
            f"and read back: {named}{more}; {seconds(saving)} in all."
        )


def _fusion_saving(ctx: RuleContext, chain: tuple[NodeCost, ...]) -> float:
    """Time the chain saves run as one kernel: every operator's work, no intermediate tensors."""
    return max(0.0, ctx.saving_by(chain, [fused_kernel(chain)]) or 0.0)
