"""Throughput in samples per second, each batch's latency predicted from the model costed at it.

latency(b) is the roofline latency (archlint/analysis/roofline.py) of the model with its inputs
bound at batch b and every shape, FLOP and byte computed again, not batch-1 times scaled: at b
weights are read once for b samples, operators grow past a profile's small-operator threshold,
and dispatch is paid once per batch. samples/s(b) = b / latency(b) whatever batch the inputs were
given at: a model bound at batch 16 runs 16 samples per run.

The saturated figure is the best samples/s over the batches costed up to the largest batch whose
weights plus peak live activations fit the profile's device memory. That batch is found by
costing the model again, never by extrapolating: a secant step on the memory of the last two
batches costed, each guess costed and checked, until a batch that fits and the next one up that
does not are both known (two costings when activations grow in proportion to the batch, as they
do when every operator treats samples independently), then bisection if the secant stalls. On a
profile with an on-chip bandwidth, samples/s can fall as activations outgrow on-chip memory, so
the powers of LADDER below that batch are costed too; without one, time per sample only falls
as the batch grows and the largest batch that fits is the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from archlint.analysis.model_cost import ModelCost
from archlint.analysis.roofline import predict
from archlint.errors import ArchlintError
from archlint.targets.profile import HardwareProfile

#: The memory search stops here: a model with almost no activations would fit millions of samples.
SEARCH_LIMIT = 2**16
#: Ratio between the batches costed on the way up when the curve can fall (on-chip bandwidth).
LADDER = 4
#: Secant steps before the search falls back to bisection.
SECANT_STEPS = 4

Batch = int | Literal["max"]
CostAt = Callable[[int], ModelCost]


class BatchCosts:
    """A model's costs per batch: the given binding's, and others costed on first request and
    kept, since every target reads the same ones.

    ``reason`` is None while other batches can be costed, else why not (the model fixes its batch,
    or failed to resolve at one: every later request then gets None)."""

    def __init__(self, given: ModelCost, batch: int, cost_at: CostAt, reason: str | None = None) -> None:
        self.batch = batch
        self.given = given
        self.reason = reason
        self._cost_at = cost_at
        self._costs = {batch: given}

    def at(self, batch: int) -> ModelCost | None:
        """The model costed at ``batch``; None when it cannot be (``reason`` says why)."""
        if batch in self._costs:
            return self._costs[batch]
        if self.reason is not None:
            return None
        try:
            cost = self._cost_at(batch)
        except ArchlintError as exc:  # a size the model freezes (a traced Reshape target)
            self.reason = f"the model does not run at batch {batch}: {exc}"
            return None
        self._costs[batch] = cost
        return cost


@dataclass(frozen=True)
class BatchPoint:
    """Latency and memory at one batch size, and whether it fits in device memory."""

    batch: int
    latency_s: float
    memory_bytes: int  # weights plus peak live activations at this batch
    fits: bool  # within device memory (True when the profile gives no memory size)

    @property
    def samples_per_s(self) -> float:
        return self.batch / self.latency_s if self.latency_s > 0 else 0.0


@dataclass(frozen=True)
class Throughput:
    """Samples/s on one profile: at the given batch, at the batches asked for, and saturated."""

    profile: HardwareProfile
    given: BatchPoint  # at the batch the inputs were bound at
    points: tuple[BatchPoint, ...]  # every batch costed for this target, ascending
    curve: tuple[BatchPoint, ...]  # the batches asked for, in the order asked
    saturated: BatchPoint | None  # the best samples/s within device memory, when searched
    largest_batch: int | None  # the largest batch that fits device memory, when searched
    note: str | None  # why there is no saturated figure, or what limited the search


def throughput(costs: BatchCosts, profile: HardwareProfile, batches: Sequence[Batch] = ()) -> Throughput:
    """Samples/s at the given batch, at ``batches`` ("max": the largest that fits), and saturated."""
    points: dict[int, BatchPoint] = {}

    def point(batch: int) -> BatchPoint | None:
        if batch not in points and (cost := costs.at(batch)) is not None:
            points[batch] = _point(batch, cost, profile)
        return points.get(batch)

    given = points[costs.batch] = _point(costs.batch, costs.given, profile)
    memory = profile.device_memory_bytes
    largest = None if memory is None else _largest_fitting(costs, memory, point)
    if largest and profile.on_chip_bandwidth:
        for k in range(math.ceil(math.log(largest, LADDER))):
            point(LADDER**k)
    asked = [largest if b == "max" else b for b in batches]
    curve = tuple(p for b in asked if b and (p := point(b)) is not None)  # "max" of nothing: none
    within = [p for b, p in sorted(points.items()) if p.fits and largest is not None and b <= largest]
    return Throughput(
        profile,
        given,
        tuple(p for _, p in sorted(points.items())),
        curve,
        max(within, key=lambda p: p.samples_per_s) if within else None,
        largest,
        _note(costs, profile, largest),
    )


def _point(batch: int, cost: ModelCost, profile: HardwareProfile) -> BatchPoint:
    memory = profile.device_memory_bytes
    fits = memory is None or cost.peak_memory_bytes <= memory
    return BatchPoint(batch, predict(cost, profile).latency_s, cost.peak_memory_bytes, fits)


def _note(costs: BatchCosts, profile: HardwareProfile, largest: int | None) -> str | None:
    if costs.reason is not None:
        return (
            costs.reason if largest is not None else f"{costs.reason}: throughput at batch {costs.batch} only"
        )
    if profile.device_memory_bytes is None:
        return "the profile gives no device memory size, so no batch fills it"
    if largest == 0:
        return "the weights and one sample's activations exceed device memory"
    if largest is not None and largest >= SEARCH_LIMIT:
        return f"batch {SEARCH_LIMIT} still fits; the search stops there"
    return None


def _largest_fitting(
    costs: BatchCosts, memory: float, point: Callable[[int], BatchPoint | None]
) -> int | None:
    """The largest batch within ``memory`` (0: none; None: the model takes no other batch)."""
    lo, hi = 0, SEARCH_LIMIT + 1  # lo fits (0: no batch known to), hi does not
    tried: list[BatchPoint] = []
    batch, weights = costs.batch, costs.given.weight_bytes
    while (found := point(batch)) is not None:
        tried.append(found)
        if found.fits:
            lo = max(lo, batch)
        else:
            hi = min(hi, batch)
        if hi - lo <= 1:
            return lo
        guess = _secant(tried, memory, weights) if len(tried) <= SECANT_STEPS else (lo + hi) // 2
        batch = min(max(guess, lo + 1), hi - 1)
    return None


def _secant(tried: Sequence[BatchPoint], memory: float, weight_bytes: int) -> int:
    """Where memory reaches ``memory`` on the line through the last two batches costed (one
    batch: through the weights alone at batch 0)."""
    last = tried[-1]
    before = (0, float(weight_bytes)) if len(tried) == 1 else (tried[-2].batch, float(tried[-2].memory_bytes))
    slope = (last.memory_bytes - before[1]) / (last.batch - before[0]) if last.batch != before[0] else 0.0
    if slope <= 0:
        return SEARCH_LIMIT  # memory does not grow with the batch
    return last.batch + math.floor((memory - last.memory_bytes) / slope)
