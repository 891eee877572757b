"""Roofline prediction: per-operator time on a device, and latency.

Per operator and batch size b (weights are read once per batch, everything else scales with b):
  compute_s = FLOPs_padded * b / (peak[dtype] * compute_efficiency)
  memory_s  = (weight_bytes / bandwidth + b * other_bytes / bandwidth') / bandwidth_efficiency
  time_s    = max(compute_s / conv shape, memory_s) / efficiency + overhead * repeats
``efficiency`` is the op type's own figure when the profile has one, else its op class's;
``overhead`` likewise (else ``op_overhead_s``). Views such as Reshape and Flatten alias their
input and pay no overhead unless the profile measured one for them. A matrix-vector product
(one row through a weight matrix) is bound by its bytes: efficiency 1, no small-ops factor.
``bandwidth`` is the main memory's, or the on-chip one when the whole model's weights and live
activations fit on chip (run after run, they stay there); ``bandwidth'`` is the profile's
on-chip bandwidth when it gives one and the operator's activation bytes fit on chip, else the
main memory's too. Weights
an operator reads again within one execution (an LSTM's recurrent weights, every step) stream at
the bandwidth of wherever those weights fit. ``conv shape`` is 1 except for fp32 convs on a profile with a
``conv_shape`` (few channels per group, short output rows, grouped, or a channel count the
layout cannot take); an integer conv of few input channels adds its im2col copying
(``conv_shape.int8_tap_s`` per output position and kernel tap).
An operator the profile's engine fuses into the kernel that produces its input costs nothing;
a pair the engine replaces by a kernel of its own (``fused_kernels``: an Add and the
LayerNormalization reading it as SkipLayerNormalization) is priced as that kernel, with its op
type's figures, and the producer costs nothing;
one that makes the engine copy a tensor into or out of its blocked conv layout pays for the copy
(``blocked_ops``, archlint/analysis/layout.py).
Latency is the sum of the operators' times plus what the engine spends outside them: its fixed
cost per call (``run_overhead_s``), the shape arithmetic the file leaves symbolic
(``shape_op_overhead_s`` per such operator) and the set-up of subgraph runs
(``subgraph_overhead_s`` per If branch or Loop iteration).
FLOPs_padded rounds every channel-like dimension up to the profile's alignment for the dtype: a
30-channel conv on a device that packs channels by 8 pays for 32.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from archlint.analysis.costs.record import OpClass
from archlint.analysis.layout import channel_counts, conversions
from archlint.analysis.model_cost import ModelCost, NodeCost
from archlint.analysis.quantized import quantized_plan
from archlint.targets.profile import ConvShape, HardwareProfile

Bound = Literal["compute", "memory", "overhead", "fused"]

#: ``max_batch`` counts up to this many runs (samples/s at other batches: archlint/analysis/throughput.py).
MAX_BATCH = 1024


@dataclass(frozen=True, slots=True)
class NodeTime:
    """One operator's predicted time on a profile, and what bounds it."""

    cost: NodeCost
    compute_s: float
    memory_s: float
    overhead_s: float
    time_s: float
    bound: Bound
    layout_s: float = 0.0  # part of time_s: converting tensors into or out of a blocked layout


@dataclass(frozen=True)
class Prediction:
    """A model's predicted latency on one hardware profile, operator by operator."""

    profile: HardwareProfile
    nodes: tuple[NodeTime, ...]
    latency_s: float  # at the bound shapes
    # Runs at the bound shapes that fit device memory at once, activations scaled from this
    # binding's (1 when the profile has no memory size): a memory figure rules read without
    # costing the model again. Samples/s comes from archlint/analysis/throughput.py.
    max_batch: int
    fits: bool  # weights plus this binding's activations fit device memory
    # Batch-1 latency with the cheaper branch of every If decided only at run time (latency_s
    # counts the costlier one); equal to latency_s when every If was decided.
    latency_min_s: float = 0.0
    # Parts of latency_s spent outside the operators' kernels (``engine_time``): the call itself,
    # the shape arithmetic on symbolic dims, the set-up of subgraph runs.
    run_s: float = 0.0
    shape_s: float = 0.0
    subgraph_s: float = 0.0

    @property
    def engine_s(self) -> float:
        return self.run_s + self.shape_s + self.subgraph_s


def padded_flops(cost: NodeCost, profile: HardwareProfile) -> float:
    alignment = profile.alignment_for(cost.compute_dtype)
    if alignment <= 1:
        return float(cost.flops)
    factor = math.prod(
        math.ceil(dim / alignment) * alignment / dim for dim in channel_counts(cost, alignment)
    )
    return cost.flops * factor


def conv_shape_factor(cost: NodeCost, shape: ConvShape, alignment: int = 1) -> float:
    """The factor ``shape`` puts on an fp32 conv's arithmetic throughput (1 for anything else)."""
    if cost.op_class not in (OpClass.CONV, OpClass.DEPTHWISE_CONV) or cost.compute_dtype != "fp32":
        return 1.0
    factor = 1.0
    if shape.narrow_rows and cost.row_width > 0:
        factor *= cost.row_width / (cost.row_width + shape.narrow_rows)
    if any(c % shape.fallback_multiple for c in channel_counts(cost, alignment)):
        factor *= shape.fallback.get(cost.op_class, 1.0)
    if cost.op_class is OpClass.DEPTHWISE_CONV or not cost.padded_dims:
        return factor  # depthwise convs have a class efficiency of their own
    if int(cost.node.attr("group", 1)) > 1:
        factor *= shape.grouped
    # Few output channels per group leave accumulators idle; a short reduction (an RGB stem's
    # 3 x 3 x 3 taps, a 1x1 conv from few channels) leaves little work per accumulator.
    channels = cost.padded_dims[-1]
    if cost.reduction_length:
        channels = min(channels, cost.reduction_length)
    if shape.narrow_channels and channels > 0:
        factor *= channels / (channels + shape.narrow_channels)
    return factor


def im2col_time(cost: NodeCost, profile: HardwareProfile) -> float:
    """Seconds an integer conv spends copying its input into a matrix, tap by tap (im2col), where
    its input channels fill less than one vector register of bytes; a 1x1 conv copies nothing."""
    tap_s = profile.conv_shape.int8_tap_s
    if not tap_s or cost.compute_dtype != "int8" or cost.op_class is not OpClass.CONV:
        return 0.0
    roles = cost.padded_roles
    if "input channels" not in roles or "output channels" not in roles:
        return 0.0
    channels = cost.padded_dims[roles.index("input channels")]
    outputs = cost.padded_dims[roles.index("output channels")]
    vector = 4 * profile.alignment_for("fp32")
    if channels <= 0 or outputs <= 0 or cost.reduction_length <= channels or channels >= vector:
        return 0.0
    # flops = 2 x output positions x output channels x input channels x taps
    position_taps = cost.flops / (2 * outputs * channels)
    return position_taps * tap_s * (1 - channels / vector)


def weights_resident(model: ModelCost, profile: HardwareProfile, batch: int = 1) -> bool:
    """Whether the model's weights and its largest live activations fit on chip together.

    Then an engine running the model again and again finds every weight where the last run left
    it, and the weights stream at the on-chip bandwidth; otherwise the rest of the model has
    been through the caches since a layer last read its weights.
    """
    capacity = profile.on_chip_memory_bytes
    return bool(capacity) and model.weight_bytes + batch * model.peak_activation_bytes <= (capacity or 0)


def node_time(
    cost: NodeCost, profile: HardwareProfile, batch: int = 1, weights_on_chip: bool = False
) -> NodeTime:
    compute_s = (
        padded_flops(cost, profile)
        * batch
        / (profile.peak_for(cost.compute_dtype) * profile.compute_efficiency)
    )
    activations = batch * (cost.bytes - cost.weight_bytes - cost.reread_bytes)
    # Weights come from main memory (a layer's weights were last read a whole inference ago, and
    # the rest of the model has been through the caches since) unless the whole model stays on
    # chip (weights_resident). Activations were just written and stream from on-chip memory when
    # they fit there; so do weights read again right away.
    weight_bandwidth = (
        profile.bandwidth_for(cost.weight_bytes) if weights_on_chip else profile.memory_bandwidth
    )
    memory_s = (
        cost.weight_bytes / weight_bandwidth
        + cost.reread_bytes / profile.bandwidth_for(cost.reread_set_bytes)
        + activations / profile.bandwidth_for(activations)
    ) / profile.bandwidth_efficiency
    # A matrix-vector product (one row through a weight matrix: LLM decode) reads every weight
    # once for one multiply-add: it streams at the bandwidth, and the small-ops and class
    # efficiencies, which describe how well a kernel fills the arithmetic units, do not apply.
    efficiency = (
        1.0
        if is_matrix_vector(cost)
        else profile.efficiency_for(cost.op_class, cost.flops // cost.repeats, cost.op_type)
    )
    # A conv's shape costs arithmetic throughput (idle accumulators, short rows); a conv bound by
    # its memory traffic (a 1x1 conv on a 1x1 map streams its weights once) does not feel it.
    shape = conv_shape_factor(cost, profile.conv_shape, profile.alignment_for(cost.compute_dtype))
    roof_s = max(compute_s / shape, memory_s) / efficiency + im2col_time(cost, profile)
    # A view is an alias the engine records without launching a kernel: no dispatch cost, unless
    # the profile measured one for views.
    overhead_s = _overhead(cost, profile) * cost.repeats
    bound: Bound = "compute" if compute_s / shape >= memory_s else "memory"
    if overhead_s > roof_s:
        bound = "overhead"
    return NodeTime(cost, compute_s, memory_s, overhead_s, roof_s + overhead_s, bound)


def is_matrix_vector(cost: NodeCost) -> bool:
    """A MatMul/Gemm that uses each element of its (k x n) operand once: a single row in all.

    Its FLOPs per execution are then 2 k n; the arithmetic intensity is at most one multiply-add
    per element read, far below any device's ridge point, so it is bound by the bytes it reads.
    """
    if cost.op_class is not OpClass.MATMUL or len(cost.padded_dims) != 2 or cost.weight_bytes == 0:
        return False
    k, n = cost.padded_dims
    return 0 < cost.flops // cost.repeats <= 2 * k * n


def _overhead(cost: NodeCost, profile: HardwareProfile) -> float:
    if cost.op_class is not OpClass.VIEW:
        return profile.overhead_for(cost.op_class, cost.op_type)
    own = profile.op_types.get(cost.op_type)
    if own is not None and own.overhead_s is not None:
        return own.overhead_s
    return profile.class_overhead_s.get(OpClass.VIEW, 0.0)


def fused_time(time: NodeTime) -> NodeTime:
    """The same operator run inside its producer's kernel: no time, no dispatch of its own."""
    return NodeTime(time.cost, time.compute_s, time.memory_s, 0.0, 0.0, "fused")


def fused_nodes(model: ModelCost, profile: HardwareProfile) -> frozenset[int]:
    """Indexes into ``model.nodes`` of the operators the profile's engine fuses away.

    A node fuses when one of its inputs is the only-consumed output of a producer listed in
    ``profile.fusion`` (or of a node already fused into one), and its op type is listed for that
    producer: Conv -> BatchNormalization -> Relu is one kernel when both follow Conv.
    """
    if not profile.fusion:
        return frozenset()
    readers = _readers(model)
    root_of: dict[str, str] = {}  # tensor -> op type of the kernel that writes it
    fused: set[int] = set()
    for index, cost in enumerate(model.nodes):
        root = next(
            (
                root_of[name]
                for name in cost.node.inputs
                if name in root_of
                and readers.get(name) == 1
                and cost.op_type in profile.fusion.get(root_of[name], ())
            ),
            None,
        )
        if root is not None:
            fused.add(index)
        elif cost.op_type in profile.fusion:
            root = cost.op_type
        if root is not None and cost.node.outputs:
            root_of[cost.node.outputs[0]] = root
    return frozenset(fused)


def fused_kernels(
    model: ModelCost, profile: HardwareProfile, fused: frozenset[int] = frozenset()
) -> dict[int, tuple[int, str]]:
    """Operators the engine runs, with their producer, as one kernel of its own
    (``profile.fused_kernels``): index of the second operator -> (index of the producer, kernel).

    The producer's output must be read by that operator alone, and neither may already be fused
    into another kernel."""
    if not profile.fused_kernels:
        return {}
    readers = _readers(model)
    outputs = set(model.model.graph.outputs)
    producer_of = {cost.node.outputs[0]: i for i, cost in enumerate(model.nodes) if cost.node.outputs}
    pairs: dict[int, tuple[int, str]] = {}
    taken: set[int] = set()
    for index, cost in enumerate(model.nodes):
        by_producer = profile.fused_kernels.get(cost.op_type)
        if not by_producer or index in fused:
            continue
        for name in cost.node.inputs:
            producer = producer_of.get(name)
            if producer is None or producer in fused or producer in taken:
                continue
            kernel = by_producer.get(model.nodes[producer].op_type)
            if kernel and readers.get(name) == 1 and name not in outputs:
                pairs[index] = (producer, kernel)
                taken.update((index, producer))
                break
    return pairs


def _readers(model: ModelCost) -> Counter[str]:
    """How many operators read each tensor."""
    return Counter(name for cost in model.nodes for name in cost.node.inputs)


def _merged(producer: NodeCost, consumer: NodeCost, kernel: str) -> NodeCost:
    """The two operators as one ``kernel``: their work, without the tensor passed between them."""
    passed = producer.bytes_written
    return dataclasses.replace(
        consumer,
        node=dataclasses.replace(consumer.node, op_type=kernel),
        flops=producer.flops + consumer.flops,
        bytes_read=producer.bytes_read + max(consumer.bytes_read - passed, 0),
        weight_bytes=producer.weight_bytes + consumer.weight_bytes,
        params=producer.params + consumer.params,
    )


def with_dequantized_weights(
    time: NodeTime, dequantizes: tuple[NodeCost, ...], profile: HardwareProfile, resident: bool
) -> NodeTime:
    """``time`` plus the engine converting the operator's stored integer weights to float."""
    seconds = sum(node_time(dq, profile, 1, resident).time_s for dq in dequantizes)
    return dataclasses.replace(time, time_s=time.time_s + seconds)


def with_conversions(time: NodeTime, profile: HardwareProfile, sizes: list[int]) -> NodeTime:
    """``time`` plus the engine's copies of ``sizes`` bytes between layouts (each read and written)."""
    efficiency = profile.efficiency.get(OpClass.DATA_MOVEMENT, 1.0) * profile.bandwidth_efficiency
    seconds = sum(2 * size / profile.bandwidth_for(2 * size) / efficiency for size in sizes)
    seconds += profile.op_overhead_s * len(sizes)
    return dataclasses.replace(time, time_s=time.time_s + seconds, layout_s=seconds)


def node_times(model: ModelCost, profile: HardwareProfile, batch: int = 1) -> tuple[NodeTime, ...]:
    quantized = quantized_plan(model, profile)
    # The graph as the engine runs it: a QDQ group's op as its integer kernel, for the fusions
    # and layouts below as for its own price; each time still reports the model's own node.
    engine = dataclasses.replace(model, nodes=quantized.costs(model)) if quantized.kernels else model
    fused = fused_nodes(engine, profile) - quantized.absorbed
    silent = fused | quantized.absorbed  # no kernel of their own
    kernels = fused_kernels(engine, profile, silent)
    absorbed = {producer for producer, _ in kernels.values()} | quantized.absorbed
    converted = conversions(engine, profile, silent)
    resident = weights_resident(model, profile, batch)
    times = []
    for index, cost in enumerate(model.nodes):
        if index in kernels:
            producer, kernel = kernels[index]
            merged = _merged(engine.nodes[producer], engine.nodes[index], kernel)
            time = dataclasses.replace(node_time(merged, profile, batch, resident), cost=cost)
        elif index in quantized.kernels:
            time = dataclasses.replace(node_time(engine.nodes[index], profile, batch, resident), cost=cost)
        else:
            time = node_time(cost, profile, batch, resident)
        if index in fused or index in absorbed:
            time = fused_time(time)
        elif index in quantized.dequantized:
            time = with_dequantized_weights(time, quantized.dequantized[index], profile, resident)
        if index in converted:
            time = with_conversions(time, profile, [size * batch for size in converted[index]])
        times.append(time)
    return tuple(times)


def max_batch(model: ModelCost, profile: HardwareProfile) -> int:
    """Largest batch whose weights + activations fit device memory (activations scale with b)."""
    if profile.device_memory_bytes is None:
        return 1
    free = profile.device_memory_bytes - model.weight_bytes
    per_sample = max(model.peak_activation_bytes, 1)
    return int(max(0, min(free // per_sample, MAX_BATCH)))


def predict(model: ModelCost, profile: HardwareProfile) -> Prediction:
    nodes = node_times(model, profile)
    engine = engine_time(model, profile)
    latency = sum(n.time_s for n in nodes) + sum(engine)
    batch = max_batch(model, profile)
    slack = _branch_slack(model, nodes, profile)
    return Prediction(profile, nodes, latency, batch, batch >= 1, latency - slack, *engine)


def engine_time(model: ModelCost, profile: HardwareProfile) -> tuple[float, float, float]:
    """Seconds per inference the engine spends outside the operators' kernels: the call itself,
    the shape arithmetic the file leaves symbolic, and setting up subgraph runs."""
    return (
        profile.run_overhead_s,
        len(model.symbolic_shape_nodes) * profile.shape_op_overhead_s,
        model.subgraph_runs * profile.subgraph_overhead_s,
    )


def _branch_slack(model: ModelCost, nodes: tuple[NodeTime, ...], profile: HardwareProfile) -> float:
    """How much faster the model runs when every undecided If takes its cheaper branch."""
    if not model.undecided:
        return 0.0
    times = {id(t.cost): t.time_s for t in nodes}
    slack = 0.0
    for decision in model.undecided:
        kept = sum(times.get(id(n), 0.0) for n in decision.kept_nodes)
        # The other branch as the engine would run it: fused where the profile says so.
        branch = dataclasses.replace(model, nodes=decision.other_nodes)
        fused = fused_nodes(branch, profile)
        other = sum(node_time(n, profile).time_s for i, n in enumerate(branch.nodes) if i not in fused)
        slack += max(kept - other, 0.0)
    return slack
