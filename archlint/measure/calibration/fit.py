"""Turn microbenchmark timings into profile figures. Pure arithmetic: no timing happens here.

Every figure is the plain reading of one or a few measurements:
- a peak is the best rate of the GEMMs (the fastest kernel the engine has for the dtype), and
  bandwidths are copy rates, all from the fastest run of each: on a shared machine, other
  processes only ever slow a run down. Efficiencies compare fastest runs with those peaks; the
  kernel figures use the robust centre of the rounds' medians (measure.robust_centre);
- main-memory bandwidth is the rate of a copy far larger than the caches;
- on-chip bandwidth is the best copy rate among cache-sized copies, and the on-chip capacity the
  largest copy working set still at least halfway (geometrically) between that and main memory;
- dispatch overhead is the slope of time over operator count of chains of tiny operators, and
  the run's own fixed cost the intercept of that line;
- a class's (or op type's) efficiency e and fixed cost f per kernel are the pair under which
  roofline time / e + kernels x f best matches (least squared relative error) the measured time,
  less the run's fixed cost, of its microbenchmarks: large shapes, where the roofline term
  dominates, and chains of small ones, where the fixed cost does. Both are bounded (e in
  [MIN_EFFICIENCY, 1], f in [0, MAX_OVERHEAD_S]); a class with no roofline time (views) fits f only,
  and a class measured on large shapes only keeps the generic dispatch overhead as its f;
- the grouped and fallback factors are the roofline's time over the measured time less the fixed
  costs, both summed over their microbenchmarks, capped at 1;
- a conv's narrow-channel and narrow-row constants c and w are the pair under which the conv
  microbenchmarks' own efficiencies scatter least around their figures (efficiency x
  channels / (channels + c) x width / (width + w), width the output's);
- the grouped-conv and layout-fallback factors are efficiencies measured on top of everything
  before them: the time the roofline with the conv figures predicts over the measured time;
- the channel multiple of the engine's blocked layout is the smallest step above one block whose
  conv the engine still put in that layout (it adds reorder kernels), read from its profiler;
- an op keeps the blocked conv layout when, in a graph of Conv -> op -> Conv, onnxruntime's
  profiler shows only the conversions of the graph's own input and output;
- a producer fuses a follower when, in a graph of producer -> follower, onnxruntime's profiler
  shows no kernel of the follower's op type: it ran inside the producer's kernel.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from archlint.analysis.roofline import node_time, weights_resident
from archlint.measure.calibration.measure import Measured
from archlint.targets.profile import ConvShape, HardwareProfile

MIN_EFFICIENCY = 0.01


def best_rate(runs: Sequence[Measured]) -> float:
    """Highest FLOP/s (OP/s) among the runs."""
    return max(run.flops / run.best_seconds for run in runs)


def copy_bytes(run: Measured) -> int:
    """What a copy microbenchmark reads plus writes."""
    return 2 * run.micro.input_bytes


def copy_rate(run: Measured) -> float:
    return copy_bytes(run) / run.best_seconds


def on_chip(copies: Sequence[Measured], main_memory: float) -> tuple[float, int] | None:
    """(bandwidth, capacity in bytes) of the caches, or None when no copy beat main memory."""
    best = max(copy_rate(run) for run in copies)
    if best <= main_memory * 1.1:
        return None
    threshold = math.sqrt(best * main_memory)
    fitting = [copy_bytes(run) for run in copies if copy_rate(run) >= threshold]
    return best, max(fitting)


def dispatch_overhead(short: Measured, long: Measured) -> float:
    """Seconds per operator: the slope between two chain lengths (fixed per-run costs cancel)."""
    extra_ops = long.operators - short.operators
    return max(0.0, (long.seconds - short.seconds) / extra_ops)


def _roof_and_busy(run: Measured, profile: HardwareProfile) -> tuple[float, float]:
    """(predicted, measured) seconds of ``run``, both less the dispatch overhead."""
    resident = weights_resident(run.cost, profile)
    times = [node_time(node, profile, 1, resident) for node in run.cost.nodes]
    overhead = sum(t.overhead_s for t in times)
    return sum(t.time_s for t in times) - overhead, max(run.seconds - overhead, 0.0)


def efficiency(runs: Sequence[Measured], profile: HardwareProfile) -> float:
    """Roofline time over measured time, summed over ``runs``: the factor ``profile`` is missing.

    Sums, not a mean of ratios: the longer microbenchmarks weigh more, as the larger operators
    of a network dominate its time. Robust centres of the rounds (measure.robust_centre).
    """
    return _summed_ratio([_roof_and_busy(run, profile) for run in runs])


def _summed_ratio(pairs: Sequence[tuple[float, float]]) -> float:
    roof, busy = sum(p for p, _ in pairs), sum(m for _, m in pairs)
    return min(1.0, max(MIN_EFFICIENCY, roof / busy)) if busy > 0 else 1.0


#: Narrow-channel constants tried: 0 (no effect), then 0.5 to 128 channels in steps of ~19 %.
NARROW_GRID = (0.0, *(0.5 * 2 ** (k / 4) for k in range(33)))
#: Narrow-row constants tried: 0, then 0.25 to 32 output positions in steps of ~19 %.
ROWS_GRID = (0.0, *(0.25 * 2 ** (k / 4) for k in range(29)))


#: Relative excess scatter under which two pairs of narrow constants count as equally good.
NARROW_TOLERANCE = 0.05


def narrow_shapes(run_sets: Sequence[Sequence[Measured]], profile: HardwareProfile) -> ConvShape:
    """The narrow-channel and narrow-row constants that best explain the conv runs' spread.

    ``run_sets`` are runs that share one efficiency figure each (dense convs, depthwise convs,
    grouped convs). For each pair of candidates, every set's efficiency is fitted as usual and
    the pair is scored by the squared log ratios of each run's own efficiency to its set's;
    ``profile`` has the peaks and bandwidths only.
    """

    def scatter(channels: float, rows: float) -> float:
        shape = ConvShape(narrow_channels=channels, narrow_rows=rows)
        shaped = replace(profile, conv_shape=shape)
        total = 0.0
        for runs in run_sets:
            pairs = [_roof_and_busy(run, shaped) for run in runs]
            fitted = _summed_ratio(pairs)
            total += sum(math.log(p / m / fitted) ** 2 for p, m in pairs if p > 0 and m > 0)
        return total

    scores = {(c, r): scatter(c, r) for c in NARROW_GRID for r in ROWS_GRID}
    channels, rows = _flat_minimum(scores)
    return ConvShape(narrow_channels=channels, narrow_rows=rows)


Candidate = TypeVar("Candidate", float, tuple[float, float])


def _flat_minimum(scores: Mapping[Candidate, float]) -> Candidate:
    """The smallest candidate within NARROW_TOLERANCE of the least score. The scatter is flat near
    its minimum: candidates that close explain the runs equally well and the data cannot tell them
    apart; taking the smallest keeps noise between calibrations from walking the figure along
    the flat valley."""
    best = min(scores.values())
    return min(candidate for candidate, score in scores.items() if score <= best * (1 + NARROW_TOLERANCE))


#: im2col seconds per output position and tap tried: 0 (none), then 0.05 ns to 12.8 ns in steps of ~19 %.
TAP_GRID = (0.0, *(0.05e-9 * 2 ** (k / 4) for k in range(33)))


def int8_tap_seconds(
    narrow: Sequence[Measured], wide: Sequence[Measured], profile: HardwareProfile, run_base_s: float
) -> float:
    """The integer convs' im2col cost per output position and tap (``conv_shape.int8_tap_s``)
    that best explains the ``narrow`` QLinearConvs (few input channels): for each candidate,
    QLinearConv's efficiency and fixed cost are fitted on the ``wide`` chains (which fill a vector
    and pay little of it), and the candidate is scored by the squared log ratios of the narrow
    convs' predicted to measured times; the smallest within NARROW_TOLERANCE of the best."""

    def scatter(tap_s: float) -> float:
        shaped = replace(profile, conv_shape=replace(profile.conv_shape, int8_tap_s=tap_s))
        figures = kernel_fit(wide, shaped, run_base_s)
        total = 0.0
        for run in narrow:
            roof, kernels = kernel_work(run, shaped)
            predicted = roof / figures.efficiency + kernels * figures.overhead_s
            total += math.log(predicted / _busy(run, run_base_s)) ** 2 if predicted > 0 else 0.0
        return total

    if not narrow or not wide:
        return 0.0
    return _flat_minimum({tap_s: scatter(tap_s) for tap_s in TAP_GRID})


def blocked_multiple(block: int, converted: Mapping[int, bool]) -> int:
    """The channel multiple the engine's blocked layout takes, from whether a conv of each
    channel count in ``converted`` ran in it; 1 when every count does or there is no layout."""
    if block <= 1 or not converted.get(2 * block, False):
        return 1
    step = 1
    while step < block and not converted.get(block + step, False):
        step *= 2
    return step


def fusions(executed: Mapping[tuple[str, str], frozenset[str]]) -> dict[str, tuple[str, ...]]:
    """Per producer op type, the follower op types that never ran as kernels of their own."""
    fused: dict[str, list[str]] = {}
    for (producer, follower), op_types in executed.items():
        if follower not in op_types:
            fused.setdefault(producer, []).append(follower)
    return {producer: tuple(sorted(names)) for producer, names in sorted(fused.items())}


def fused_kernels(executed: Mapping[tuple[str, str], Counter[str]]) -> dict[str, dict[str, str]]:
    """Per follower op type and producer op type, the one kernel of another type the pair ran as."""
    found: dict[str, dict[str, str]] = {}
    for (producer, follower), kernels in sorted(executed.items()):
        others = [op for op in kernels if op not in (producer, follower)]
        if producer not in kernels and follower not in kernels and len(others) == 1:
            found.setdefault(follower, {})[producer] = others[0]
    return found


def quantized_kernels(executed: Mapping[str, Counter[str]]) -> dict[str, str]:
    """Per op type, what the engine ran for its DequantizeLinear -> op -> QuantizeLinear group
    when neither the DQ nor the Q ran: the op itself (on the 8-bit tensor), else the one kernel
    of another op type (QLinearConv), the Transposes of a channels-last layout aside."""
    found: dict[str, str] = {}
    for op, kernels in sorted(executed.items()):
        if kernels["DequantizeLinear"] or kernels["QuantizeLinear"]:
            continue  # the float op between its DQ and Q: no integer kernel
        others = [k for k in kernels if k not in ("Transpose", "Reshape")]
        if op in kernels:
            found[op] = op
        elif len(others) == 1:
            found[op] = others[0]
    return found


def blocked_ops(probed: Mapping[str, Counter[str]]) -> tuple[str, ...]:
    """The op types whose Conv -> op -> Conv graph needed no conversions of its own: only the
    graph's input was converted into the blocked layout and only its output out of it."""
    kept = (op for op, kernels in probed.items() if kernels["ReorderInput"] == kernels["ReorderOutput"] == 1)
    return tuple(sorted(kept))


#: Bounds of a fixed cost per kernel: a kernel call costs more than nothing and less than 100 µs.
MAX_OVERHEAD_S = 1e-4


@dataclass(frozen=True)
class KernelFit:
    efficiency: float
    overhead_s: float


def kernel_work(run: Measured, profile: HardwareProfile) -> tuple[float, int]:
    """(roofline seconds at efficiency 1 and no fixed cost, kernel executions) of ``run``."""
    bare = replace(profile, efficiency={}, op_types={}, class_overhead_s={}, op_overhead_s=0.0)
    resident = weights_resident(run.cost, bare)
    roof = sum(node_time(n, bare, 1, resident).time_s for n in run.cost.nodes)
    return roof, sum(n.repeats for n in run.cost.nodes)


def kernel_fit(
    runs: Sequence[Measured], profile: HardwareProfile, run_base_s: float, overhead_s: float | None = None
) -> KernelFit:
    """Efficiency and fixed cost per kernel that best explain ``runs`` (see the module's text).

    With ``overhead_s`` the fixed cost is not fitted but fixed there: runs of large kernels alone
    cannot tell a fixed cost from a slightly lower efficiency.
    """
    rows = []
    for run in runs:
        roof, kernels = kernel_work(run, profile)
        busy = _busy(run, run_base_s)
        rows.append((roof / busy, kernels / busy))
    f_bounds = (0.0, MAX_OVERHEAD_S) if overhead_s is None else (overhead_s, overhead_s)
    slope, overhead = _bounded_line(rows, (1.0, 1 / MIN_EFFICIENCY), f_bounds)
    return KernelFit(round(1 / slope, 3), overhead)


def _busy(run: Measured, run_base_s: float) -> float:
    """``run``'s time in its kernels: less the run's own fixed cost, never below 5% of it."""
    return max(run.seconds - run_base_s, run.seconds * 0.05)


def _bounded_line(
    rows: Sequence[tuple[float, float]], a_bounds: tuple[float, float], f_bounds: tuple[float, float]
) -> tuple[float, float]:
    """(a, f) minimizing sum (a x + f y - 1)^2 over ``rows`` (x, y) within the bounds.

    Two unknowns: the unconstrained solution when it lies inside the box, else the best of the
    one-unknown solutions on the box's edges.
    """

    def loss(a: float, f: float) -> float:
        return sum((a * x + f * y - 1) ** 2 for x, y in rows)

    def clamp(value: float, bounds: tuple[float, float]) -> float:
        return min(max(value, bounds[0]), bounds[1])

    sxx = sum(x * x for x, _ in rows)
    syy = sum(y * y for _, y in rows)
    sxy = sum(x * y for x, y in rows)
    sx, sy = sum(x for x, _ in rows), sum(y for _, y in rows)
    candidates = []
    det = sxx * syy - sxy * sxy
    if det > 1e-12 * max(sxx * syy, 1e-300):
        a, f = (sx * syy - sy * sxy) / det, (sy * sxx - sx * sxy) / det
        if a_bounds[0] <= a <= a_bounds[1] and f_bounds[0] <= f <= f_bounds[1]:
            candidates.append((a, f))
    for a in a_bounds:
        f = clamp((sy - a * sxy) / syy, f_bounds) if syy > 0 else f_bounds[0]
        candidates.append((a, f))
    for f in f_bounds:
        a = clamp((sx - f * sxy) / sxx, a_bounds) if sxx > 0 else a_bounds[0]
        candidates.append((a, f))
    return min(candidates, key=lambda af: loss(*af))
