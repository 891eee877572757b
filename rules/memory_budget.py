"""AL503 memory-budget."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from archlint.analysis.roofline import MAX_BATCH
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import percent, seconds, size

from ._graph import int8_weights


class MemoryBudgetOptions(RuleOptions):
    min_batch: int = Field(
        8, ge=1, description="Report when fewer than this many inferences fit device memory at once."
    )
    min_weight_traffic_share: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Report weights larger than on-chip memory when reading them from main memory takes "
        "at least this share of the predicted latency.",
    )
    max_named: int = Field(3, ge=1, description="How many of the largest activation tensors the fix names.")


class MemoryBudget(Rule):
    """## What it does
    Compares the model's memory with the target's: an error when the peak (weights plus the
    activations live at once at batch 1) exceeds device memory; a warning when fewer than
    `min_batch` inferences fit at once; and a note when the weights exceed on-chip memory and
    reading them from main memory is a large share of the latency. The fix names the largest
    activation tensors, the candidates for lower precision or tiling.

    ## Why is this bad?
    A model that does not fit does not run. One that fits only a small batch cannot fill the
    device: throughput is measured with the device full, at the largest batch that fits, and a
    memory-hungry net serves fewer queries per second than its latency suggests. An operator
    like `x * sigmoid(x)` computed in two steps keeps an extra copy of its input and lowers the
    batch. Edge devices are small: 1 GiB on the cortex-a53 (Raspberry Pi 3) and the
    hisilicon-nnie, 16 GiB on a t4. Weights that do not fit the on-chip memory (512 KiB of L2 on
    the cortex-a53, 1.1 MiB of NPU buffers on the rk3588-npu, 40 MiB of L2 on the a100) are read
    from main memory on every inference.

    ## Example
    A segmentation net keeping full-resolution fp32 skip connections alive to the decoder.

    ## Use instead
    Store activations in fp16 or int8, keep fewer and smaller tensors alive at once (narrower
    skip connections, downsample earlier), tile the high-resolution layers, and quantize the
    weights.

    ## Options
    (written from the options model)

    ## References
    - "FLOPs低,模型速度不一定快" (blog post, 2020-07-04): throughput is measured with the device
      full; a memory-hungry net fits a smaller batch.
    - "模型“大小”与推理速度的那些事儿" (OpenPPL talk write-up, 2022-01-06,
      zhuanlan.zhihu.com/p/452245355): the four measures of a model's size.
    """

    code = "AL503"
    name = "memory-budget"
    summary = "peak memory over the device's, a small batch at a full device, weights off chip"
    severity = severity_by_kind(
        gpu=Severity.WARNING, cpu=Severity.WARNING, npu=Severity.WARNING, other=Severity.WARNING
    )
    options_type = MemoryBudgetOptions
    options: MemoryBudgetOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        device = ctx.profile.device_memory_bytes
        if device is not None and not ctx.prediction.fits:
            yield self._too_big(ctx, device)
        elif device is not None and ctx.prediction.max_batch < self.options.min_batch:
            yield self._small_batch(ctx, device)
        on_chip = ctx.profile.on_chip_memory_bytes
        if on_chip is not None and ctx.cost.weight_bytes > on_chip:
            yield from self._weights_off_chip(ctx, on_chip)

    def _largest(self, ctx: RuleContext) -> str:
        nodes = sorted(ctx.cost.nodes, key=lambda n: -n.activation_bytes)[: self.options.max_named]
        return ", ".join(f"{n.node.outputs[0]!r} of {n.name!r} ({size(n.activation_bytes)})" for n in nodes)

    def _too_big(self, ctx: RuleContext, device: float) -> Finding:
        cost = ctx.cost
        message = (
            f"peak memory {size(cost.peak_memory_bytes)} (weights {size(cost.weight_bytes)} + live "
            f"activations {size(cost.peak_activation_bytes)} at batch 1) exceeds the {size(device)} of "
            f"device memory on {ctx.profile.name}: the model does not fit."
        )
        fix = (
            f"store the largest activations in fp16 or int8 or tile the layers that write them "
            f"({self._largest(ctx)}); int8 weights would take {size(cost.params)}."
        )
        return Finding(node=None, message=message, fix=fix, severity=Severity.ERROR)

    def _small_batch(self, ctx: RuleContext, device: float) -> Finding:
        cost, batch = ctx.cost, ctx.prediction.max_batch
        # The samples/s this batch gives needs the model costed at it: `archlint analyze` does that.
        message = (
            f"only {batch} inference{'s' if batch > 1 else ''} fit the {size(device)} of device memory on "
            f"{ctx.profile.name} at once (weights {size(cost.weight_bytes)}, then "
            f"{size(cost.peak_activation_bytes)} of live activations per inference); `archlint analyze "
            "--batches max` predicts the samples/s there."
        )
        # Activations scale with the batch, weights do not: halving the former is what grows it.
        halved = min(int((device - cost.weight_bytes) // max(cost.peak_activation_bytes // 2, 1)), MAX_BATCH)
        fix = (
            f"store the largest activations in fp16 ({self._largest(ctx)}): "
            f"halved activations fit a batch of {halved}."
        )
        return Finding(node=None, message=message, fix=fix)

    def _weights_off_chip(self, ctx: RuleContext, on_chip: float) -> Iterator[Finding]:
        weighted = [n for n in ctx.cost.nodes if n.weight_bytes]
        # What streaming the weights costs: each operator re-costed as if its weights were on chip.
        traffic = sum(n.weight_bytes for n in weighted) / ctx.profile.memory_bandwidth
        if ctx.latency_s <= 0 or traffic / ctx.latency_s < self.options.min_weight_traffic_share:
            return
        pairs = [(n, int8_weights(ctx, n)) for n in weighted if n.weight_bytes > n.params * n.repeats]
        known = [(n, alt) for n, alt in pairs if alt is not None]
        saving = ctx.saving_by([n for n, _ in known], [alt for _, alt in known]) or 0.0
        fits = "fits" if ctx.cost.params <= on_chip else "still exceeds it"
        message = (
            f"the {size(ctx.cost.weight_bytes)} of weights exceed the {size(on_chip)} of on-chip memory on "
            f"{ctx.profile.name}, so every inference reads them from main memory: {seconds(traffic)}, "
            f"{percent(traffic, ctx.latency_s)} of the predicted latency."
        )
        fix = (
            f"store the weights as int8 ({size(ctx.cost.params)}, which {fits}), saving {seconds(saving)} "
            "of weight traffic; or share or prune weights."
        )
        touched = tuple(n.name for n in weighted)
        yield Finding(None, message, fix, saving, Severity.INFO, touched=touched)
