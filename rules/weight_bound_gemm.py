"""AL502 weight-bound-gemm."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.analysis.roofline import node_time
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import count, percent, seconds, size

from ._graph import int8_weights


class WeightBoundGemmOptions(RuleOptions):
    min_weight_share: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Report matrix products whose weights are more than this share of their bytes.",
    )
    min_share: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Report only when together they take at least this share of the predicted latency.",
    )
    batch: int = Field(8, ge=2, description="The batch size the fix predicts the per-inference time at.")


class WeightBoundGemm(Rule):
    """## What it does
    Finds matrix products (Gemm, MatMul and their fused and quantized forms) with constant
    weights whose weight bytes dominate what the operator moves at the model's batch size, and
    that the roofline predicts to be memory-bound: the matrix-vector products of a language
    model's decode step, a classifier's fully connected layers at batch 1. They are one
    pattern, reported once for the whole model: their share of the latency, the batch at which
    they turn compute-bound, the key/value cache the step reads (model inputs named `past...`
    or `...cache...`), the time per inference at a larger batch, and the time with int8 weights
    (each product re-costed with int8 weights by the cost table).

    ## Why is this bad?
    At batch 1 a fully connected layer with K inputs and N outputs does 2KN FLOPs and reads KN
    weights: 0.5 FLOP per byte in fp32 whatever its size, 1/19 of the a100's fp32 ridge point
    (9.6 FLOP/B); 1 FLOP/B in fp16, 1/153 of its tensor-core ridge. The layer runs at the speed
    of memory, reading every weight for one inference. The weights do not grow with the
    batch, so batching B requests reads them once for B inferences and divides their cost by B;
    int8 weights (weight-only quantization) read a quarter of the fp32 bytes.

    ## Example
    ```python
    nn.Linear(4096, 4096)  # batch 1: 64 MiB of fp32 weights read for 33.5 MFLOP
    ```

    ## Use instead
    Serve with dynamic batching (Triton, TorchServe, onnxruntime with a batch dimension), or
    store the weights as int8 (`onnxruntime.quantization.quantize_dynamic`) or 4-bit
    (com.microsoft MatMulNBits).

    ## Options
    (written from the options model)

    ## References
    - S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance model
      for multicore architectures", CACM 2009.
    - NVIDIA, Deep Learning Performance Guide, "Matrix Multiplication Background" (GEMV is
      memory-bound).
    - "FLOPs低,模型速度不一定快" (blog post, 2020-07-04): serving cost is throughput with the
      device full, at the largest batch that fits.
    """

    code = "AL502"
    name = "weight-bound-gemm"
    summary = "matrix products whose time is reading their weights once per inference"
    severity = severity_by_kind(
        gpu=Severity.WARNING, npu=Severity.WARNING, cpu=Severity.WARNING, other=Severity.INFO
    )
    options_type = WeightBoundGemmOptions
    options: WeightBoundGemmOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        bound = [
            t.cost
            for t in ctx.prediction.nodes
            if t.cost.op_class is OpClass.MATMUL
            and t.memory_s > t.compute_s  # memory-bound, whether or not a launch outlasts it
            and t.cost.bytes
            and t.cost.weight_bytes / t.cost.bytes > self.options.min_weight_share
        ]
        spent = sum(ctx.time(n) for n in bound)
        if bound and ctx.latency_s and spent / ctx.latency_s >= self.options.min_share:
            yield self._finding(ctx, bound, spent)

    def _finding(self, ctx: RuleContext, nodes: list[NodeCost], spent: float) -> Finding:
        weights = sum(n.weight_bytes for n in nodes)
        flops = sum(n.flops for n in nodes)
        activations = sum(n.bytes - n.weight_bytes for n in nodes)
        named = ", ".join(repr(n.name) for n in nodes[:3]) + (
            f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
        )
        message = (
            f"{len(nodes)} matrix product{'s' * (len(nodes) > 1)} ({named}) read {size(weights)} of weights "
            f"for {count(flops)} FLOPs per inference ({flops / max(weights + activations, 1):.2f} FLOP/B): "
            f"memory-bound on weight traffic, {seconds(spent)}, {percent(spent, ctx.latency_s)} of the "
            f"predicted latency on {ctx.profile.name}."
            f"{_turning_batch(ctx, nodes, flops, weights, activations)}{_cache(ctx)}"
        )
        batch = self.options.batch
        batched = sum(node_time(n, ctx.profile, batch=batch).time_s for n in nodes) / batch
        fix = f"batch requests: at batch {batch} they take {seconds(batched)} an inference"
        fix += f", not {seconds(spent)}"
        touched = tuple(n.name for n in nodes)
        narrowed = [int8_weights(ctx, n) for n in nodes]
        if any(alt is None for alt in narrowed) or all(n.weight_bytes <= n.params * n.repeats for n in nodes):
            # Already 8-bit or narrower: batching is the fix, and it buys throughput, not latency.
            return Finding(None, message, fix + ".", severity=Severity.INFO, touched=touched)
        saving = ctx.saving_by(nodes, [alt for alt in narrowed if alt is not None])
        fix += f"; or store the weights as int8 ({size(sum(n.params * n.repeats for n in nodes))})"
        fix += f", saving {seconds(saving or 0.0)} per inference."
        return Finding(None, message, fix, saving, touched=touched)


def _turning_batch(
    ctx: RuleContext, nodes: list[NodeCost], flops: int, weights: int, activations: int
) -> str:
    """The batch at which the products' arithmetic (``flops`` per inference) catches up with their
    traffic (``weights`` read once per batch, ``activations`` per inference)."""
    compute = max(nodes, key=lambda n: n.flops).compute_dtype
    ridge = ctx.profile.peak_for(compute) / ctx.profile.memory_bandwidth
    # batch b: b * flops / (weights + b * activations) = ridge
    if flops <= ridge * activations:
        return " They stay memory-bound at any batch (their activations alone are below the ridge point)."
    turning = math.ceil(ridge * weights / (flops - ridge * activations))
    return f" They turn compute-bound at batch {turning:,} ({compute} ridge point {ridge:.0f} FLOP/B)."


def _cache(ctx: RuleContext) -> str:
    """The key/value cache a decode step reads: model inputs that carry past keys and values."""
    graph = ctx.cost.model.graph
    cached = [
        t for name in graph.inputs if (t := graph.tensor(name)) is not None and _is_cache(name) and t.nbytes
    ]
    if not cached:
        return ""
    total = sum(t.nbytes or 0 for t in cached)
    return f" The step also reads a {size(total)} key/value cache ({len(cached)} inputs)."


def _is_cache(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("past") or "cache" in lowered
