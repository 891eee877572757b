"""Time a microbenchmark with onnxruntime and cost it with archlint's own analysis.

Both sides of every efficiency figure come from here: the measured seconds, and the FLOPs and
bytes archlint counts for the same graph, so a calibrated figure means exactly what the roofline
that uses it computes.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archlint.analysis.model_cost import ModelCost, compute_costs
from archlint.api import resolve_model
from archlint.measure import ort_profile, runtime
from archlint.measure.calibration.micro import Micro

#: Every microbenchmark is timed in this many rounds, each round running all of them once in
#: turn: on a shared machine other processes come in bursts of seconds, and rounds spread a
#: burst over all the figures instead of letting it land on one.
ROUNDS = 6
#: Measured seconds per microbenchmark and round (at least one run): over all rounds, enough
#: repeats that the median is stable and that the fastest run is a clean one.
SLICE_SECONDS = 0.15


#: A round whose median lies further than this many MADs from the median of all rounds is an
#: outlier (a burst of another process's load) and is left out of the centre.
OUTLIER_MADS = 3.0


def robust_centre(values: Sequence[float]) -> float:
    """The mean of the values within ``OUTLIER_MADS`` median absolute deviations of their median."""
    middle = statistics.median(values)
    mad = statistics.median(abs(v - middle) for v in values)
    kept = [v for v in values if abs(v - middle) <= OUTLIER_MADS * mad] if mad > 0 else [middle]
    return statistics.fmean(kept)


def relative_mad(values: Sequence[float]) -> float:
    """Median absolute deviation over the median: a figure's spread between repeats."""
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values) / middle if middle else 0.0


@dataclass(frozen=True)
class Measured:
    micro: Micro
    # One run's wall-clock: the robust centre of the rounds' fastest runs (outlier rounds left out).
    seconds: float
    # The fastest run: other processes only ever slow a run down, so peaks are read off this.
    best_seconds: float
    cost: ModelCost
    rounds: tuple[float, ...] = ()  # the fastest run of each round, in round order

    @property
    def flops(self) -> int:
        return self.cost.flops

    @property
    def bytes(self) -> int:
        return self.cost.bytes

    @property
    def operators(self) -> int:
        return len(self.cost.nodes)


@dataclass(frozen=True)
class Timed:
    """A microbenchmark to time, and for how long per round."""

    micro: Micro
    slice_seconds: float = SLICE_SECONDS


def measure(
    benches: Sequence[Timed],
    threads: int,
    rounds: int = ROUNDS,
    tick: Callable[[], None] | None = None,
) -> list[Measured]:
    """Time every bench in ``rounds`` interleaved rounds; one result per bench, in order.

    All sessions are built (and warmed up) first, so a round is nothing but timed runs.
    """
    sessions: list[tuple[Any, dict[str, runtime.Array]]] = []
    for bench in benches:
        session = runtime.make_session(
            bench.micro.proto, optimization=bench.micro.optimization, threads=threads
        )
        feeds = runtime.random_inputs(bench.micro.proto, {"x": bench.micro.shape})
        runtime.time_runs(session, feeds, runs=0, warmup=2)
        sessions.append((session, feeds))
    times: list[list[float]] = [[] for _ in benches]
    medians: list[list[float]] = [[] for _ in benches]
    for _ in range(rounds):
        for bench, (session, feeds), collected, per_round in zip(
            benches, sessions, times, medians, strict=True
        ):
            runs = runtime.time_runs(session, feeds, runs=1, warmup=0, min_seconds=bench.slice_seconds)
            collected += runs
            # The round's fastest run: within a round, other processes only ever slow a run
            # down; across rounds, the robust centre leaves out rounds that load spoiled whole.
            per_round.append(min(runs))
            if tick is not None:
                tick()
    return [
        Measured(bench.micro, robust_centre(per_round), min(runs), cost_of(bench.micro), tuple(per_round))
        for bench, runs, per_round in zip(benches, times, medians, strict=True)
    ]


def round_view(runs: Sequence[Measured], index: int) -> list[Measured]:
    """``runs`` as round ``index`` alone measured them: each figure refitted per round shows its spread."""
    return [replace(run, seconds=run.rounds[index], best_seconds=run.rounds[index]) for run in runs]


def executed_kernels(micro: Micro, threads: int) -> Counter[str]:
    """How many kernels of each op type onnxruntime ran for ``micro``, read from its profiler.

    What the engine fused away never runs as a kernel of its own, and the layout conversions it
    adds do: this observes both directly, without timing, so a busy machine cannot blur it.
    """
    with tempfile.TemporaryDirectory(prefix="archlint-calibrate-") as folder:
        session = runtime.make_session(
            micro.proto, optimization=micro.optimization, threads=threads, profile_prefix=f"{folder}/run"
        )
        runtime.run(session, runtime.random_inputs(micro.proto, {"x": micro.shape}))
        kernels = ort_profile.read(Path(session.end_profiling()), warmup=0)
    return Counter(kernels.op_types.values())


def executed_op_types(micro: Micro, threads: int) -> frozenset[str]:
    return frozenset(executed_kernels(micro, threads))


def cost_of(micro: Micro) -> ModelCost:
    """archlint's cost of ``micro`` at the shape it is timed at (its file may declare symbolic dims)."""
    return compute_costs(resolve_model(micro.proto, f"<{micro.name}>", {"x": micro.shape}))
