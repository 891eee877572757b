"""AL301 fragmented-graph."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds

from ._graph import fusable_chains


class FragmentedGraphOptions(RuleOptions):
    max_overhead_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Report when per-operator dispatch cost is above this share of the predicted latency.",
    )
    max_named: int = Field(5, ge=1, description="How many fusable operators the fix names.")


class FragmentedGraph(Rule):
    """## What it does
    Adds up the fixed cost every operator pays to run (kernel launch, node dispatch) and reports
    the model when that sum is a large share of its predicted batch-1 latency. The finding
    counts the operators, those that take longer to launch than to compute, and names the
    pointwise operators that could run inside the operator before them.

    ## Why is this bad?
    Each operator execution costs time besides its arithmetic and memory traffic: a CUDA kernel
    launch (about 4 µs, the `op_overhead_s` of the a100, h100 and t4 profiles), or an engine's
    node dispatch, graph walk, memory-pool allocation and thread-pool wake-up on a CPU (about
    1 µs on the xeon-avx512 and cortex-a76 profiles, 4 µs on the cortex-a53). A ReLU on a
    1x64x56x56 fp32 tensor moves 1.6 MB, 0.8 µs at the A100's 2.04 TB/s: its launch costs five
    times its work. In small models and deep graphs of small operators these costs dominate the
    latency, whatever the FLOP count. NPUs that run a compiled graph as one job (the rk3588-npu
    and hisilicon-nnie profiles) pay no per-operator cost, so the share there is zero.

    ## Example
    ```python
    y = x * torch.clamp(x + 3, 0, 6) / 6  # hard-swish as Add, Clip, Div, Mul: four launches
    y = (y - y.mean(-1, keepdim=True)) / torch.sqrt(y.var(-1, keepdim=True) + 1e-5)  # seven more
    ```

    ## Use instead
    ```python
    y = F.hardswish(x)  # one HardSwish (opset 14)
    y = F.layer_norm(y, y.shape[-1:])  # one LayerNormalization (opset 17)
    ```
    then simplify the exported graph (`onnxslim model.onnx model.onnx` or onnxsim) so that
    constants fold and BatchNormalization and bias adds merge into the operators before them.

    ## Options
    (written from the options model)

    ## References
    - N. Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
      ECCV 2018, guideline G3 (network fragmentation reduces the degree of parallelism).
    - V. Volkov and J. Demmel, "Benchmarking GPUs to tune dense linear algebra", SC08 (kernel
      launch cost).
    - onnxslim, https://github.com/inisis/OnnxSlim; onnx-simplifier,
      https://github.com/daquexian/onnx-simplifier.
    """

    code = "AL301"
    name = "fragmented-graph"
    summary = "many small operators whose per-operator dispatch cost is a large share of latency"
    severity = severity_by_kind(
        gpu=Severity.WARNING, cpu=Severity.WARNING, npu=Severity.INFO, other=Severity.INFO
    )
    options_type = FragmentedGraphOptions
    options: FragmentedGraphOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        overhead = sum(t.overhead_s for t in ctx.prediction.nodes)
        if ctx.latency_s <= 0 or overhead / ctx.latency_s <= self.options.max_overhead_share:
            return
        launches = sum(t.cost.repeats for t in ctx.prediction.nodes if t.overhead_s > 0)
        bound = sum(t.bound == "overhead" for t in ctx.prediction.nodes)
        message = (
            f"{launches} operator executions each pay {seconds(ctx.profile.op_overhead_s)} of dispatch "
            f"cost on {ctx.profile.name}: {seconds(overhead)}, {percent(overhead, ctx.latency_s)} of the "
            f"predicted {seconds(ctx.latency_s)} latency; {bound} of them take longer to launch than "
            "to run."
        )
        # Fused into the op before it, an operator keeps its arithmetic but is never launched;
        # those the target's engine fuses already pay no launch.
        chained = (node for chain in fusable_chains(ctx) for node in chain[1:])
        fusable = [node for node in chained if ctx.timed(node).overhead_s > 0]
        saving = sum(ctx.timed(node).overhead_s for node in fusable)
        touched = tuple(n.name for n in fusable)
        yield Finding(None, message, self._fix(fusable, saving), saving, touched=touched)

    def _fix(self, fusable: list[NodeCost], saving: float) -> str:
        merge = (
            "merge small operators (onnxslim or onnxsim) and use fused operators where the engine has them"
        )
        if not fusable:
            return merge + "."
        named = ", ".join(repr(n.name) for n in fusable[: self.options.max_named])
        more = (
            f" and {len(fusable) - self.options.max_named} more"
            if len(fusable) > self.options.max_named
            else ""
        )
        return (
            f"fuse the {len(fusable)} pointwise operators that alone read the output of the operator "
            f"before them ({named}{more}) into it, saving {seconds(saving)} of launches; {merge}."
        )
