"""AL502 weight-bound-gemm."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.analysis.roofline import node_time
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds, size


class WeightBoundGemmOptions(RuleOptions):
    min_weight_share: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Report matrix products whose weights are more than this share of their bytes.",
    )
    min_share: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="Report only those that take at least this share of the predicted latency.",
    )
    batch: int = Field(8, ge=2, description="The batch size the fix predicts the per-inference time at.")


class WeightBoundGemm(Rule):
    """## What it does
    Finds matrix products (Gemm, MatMul and their fused and quantized forms) with constant
    weights whose weight bytes dominate what the operator moves at the model's batch size, and
    that the roofline predicts to be memory-bound. The finding predicts the time per inference
    at a larger batch and the time with int8 weights.

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
        for timed in ctx.prediction.nodes:
            node = timed.cost
            if node.op_class is not OpClass.MATMUL or timed.bound != "memory" or not node.bytes:
                continue
            weighty = node.weight_bytes / node.bytes > self.options.min_weight_share
            if weighty and ctx.share(node) >= self.options.min_share:
                yield self._finding(ctx, node)

    def _finding(self, ctx: RuleContext, node: NodeCost) -> Finding:
        spent, batch = ctx.time(node), self.options.batch
        activations = node.bytes - node.weight_bytes
        message = (
            f"{node.op_type} {node.name!r} reads {size(node.weight_bytes)} of weights and "
            f"{size(activations)} of activations per inference "
            f"({percent(node.weight_bytes, node.bytes)} weights): "
            f"{node.intensity:.2f} FLOP/B, memory-bound on weight traffic, {seconds(spent)} "
            f"({percent(spent, ctx.latency_s)} of the predicted latency on {ctx.profile.name})."
        )
        batched = node_time(node, ctx.profile, batch=batch).time_s / batch
        fix = (
            f"batch requests: at batch {batch} it takes {seconds(batched)} an inference, not {seconds(spent)}"
        )
        int8 = node.params * node.repeats  # weight-only int8: one byte per parameter read
        if node.weight_bytes <= int8:  # already 8-bit or narrower
            return Finding(node=node.name, message=message, fix=fix + ".", saving_s=0.0)
        saving = ctx.saving(node, bytes_read=node.bytes_read - node.weight_bytes + int8, weight_bytes=int8)
        fix += f"; or store the weights as int8 ({size(int8)}), saving {seconds(saving)} per inference."
        return Finding(node=node.name, message=message, fix=fix, saving_s=saving)
