"""Roofline prediction: per-operator time on a device, latency, and throughput at a full device.

Per operator and batch size b (weights are read once per batch, everything else scales with b):
  compute_s = FLOPs_padded * b / (peak[dtype] * compute_efficiency)
  memory_s  = (weight_bytes + b * other_bytes) / (bandwidth * bandwidth_efficiency)
  time_s    = max(compute_s, memory_s) / efficiency[op class] + op_overhead_s * repeats
(views such as Reshape and Flatten alias their input and pay no overhead).
FLOPs_padded rounds every channel-like dimension up to the profile's alignment for the dtype: a
30-channel conv on a device that packs channels by 8 pays for 32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from archlint.costs.record import OpClass
from archlint.model_cost import ModelCost, NodeCost
from archlint.profiles import HardwareProfile

Bound = Literal["compute", "memory", "overhead"]

#: Throughput is searched up to this batch; past it, predicted QPS is flat on every profile.
MAX_BATCH = 1024


@dataclass(frozen=True, slots=True)
class NodeTime:
    cost: NodeCost
    compute_s: float
    memory_s: float
    overhead_s: float
    time_s: float
    bound: Bound


@dataclass(frozen=True)
class Prediction:
    profile: HardwareProfile
    nodes: tuple[NodeTime, ...]
    latency_s: float  # batch 1
    max_batch: int  # largest batch that fits device memory (1 when the profile has no memory size)
    throughput_qps: float  # at max_batch
    fits: bool  # weights plus batch-1 activations fit device memory


def padded_flops(cost: NodeCost, profile: HardwareProfile) -> float:
    alignment = profile.alignment_for(cost.compute_dtype)
    factor = 1.0
    for dim in cost.padded_dims:
        if dim > 0 and alignment > 1:
            factor *= math.ceil(dim / alignment) * alignment / dim
    return cost.flops * factor


def node_time(cost: NodeCost, profile: HardwareProfile, batch: int = 1) -> NodeTime:
    compute_s = (
        padded_flops(cost, profile)
        * batch
        / (profile.peak_for(cost.compute_dtype) * profile.compute_efficiency)
    )
    moved = cost.weight_bytes + batch * (cost.bytes - cost.weight_bytes)
    memory_s = moved / (profile.memory_bandwidth * profile.bandwidth_efficiency)
    roof_s = max(compute_s, memory_s) / profile.efficiency_for(cost.op_class, cost.flops // cost.repeats)
    # A view is an alias the engine records without launching a kernel: no dispatch cost.
    overhead_s = 0.0 if cost.op_class is OpClass.VIEW else profile.op_overhead_s * cost.repeats
    bound: Bound = "compute" if compute_s >= memory_s else "memory"
    if overhead_s > roof_s:
        bound = "overhead"
    return NodeTime(cost, compute_s, memory_s, overhead_s, roof_s + overhead_s, bound)


def batch_latency(model: ModelCost, profile: HardwareProfile, batch: int) -> float:
    return sum(node_time(n, profile, batch).time_s for n in model.nodes)


def max_batch(model: ModelCost, profile: HardwareProfile) -> int:
    """Largest batch whose weights + activations fit device memory (activations scale with b)."""
    if profile.device_memory_bytes is None:
        return 1
    free = profile.device_memory_bytes - model.weight_bytes
    per_sample = max(model.peak_activation_bytes, 1)
    return int(max(0, min(free // per_sample, MAX_BATCH)))


def predict(model: ModelCost, profile: HardwareProfile) -> Prediction:
    nodes = tuple(node_time(n, profile) for n in model.nodes)
    latency = sum(n.time_s for n in nodes)
    batch = max_batch(model, profile)
    fits = batch >= 1
    batched = latency if batch == 1 else batch_latency(model, profile, batch)
    throughput = batch / batched if fits and batched > 0 else 0.0
    return Prediction(profile, nodes, latency, batch, throughput, fits)
