"""Time a microbenchmark with onnxruntime and cost it with archlint's own analysis.

Both sides of every efficiency figure come from here: the measured seconds, and the FLOPs and
bytes archlint counts for the same graph, so a calibrated figure means exactly what the roofline
that uses it computes.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archlint import onnx_loader, ort_profile, runtime, shapes
from archlint.calibration.micro import Micro
from archlint.model_cost import ModelCost, compute_costs

#: Measured seconds per microbenchmark: enough repeats that a median is stable, and that the
#: fastest run is a clean one, on a machine shared with other processes.
MIN_SECONDS = 0.4
MIN_RUNS = 5


@dataclass(frozen=True)
class Measured:
    micro: Micro
    seconds: float  # median wall-clock of one run
    # The fastest run: other processes only ever slow a run down, so peaks are read off this.
    best_seconds: float
    cost: ModelCost

    @property
    def flops(self) -> int:
        return self.cost.flops

    @property
    def bytes(self) -> int:
        return self.cost.bytes

    @property
    def operators(self) -> int:
        return len(self.cost.nodes)


def measure(
    micro: Micro, threads: int, tick: Callable[[], None] | None = None, min_seconds: float = MIN_SECONDS
) -> Measured:
    session = runtime.make_session(micro.proto, optimization=micro.optimization, threads=threads)
    feeds = runtime.random_inputs(micro.proto, {"x": micro.shape})
    times = runtime.time_runs(session, feeds, runs=MIN_RUNS, warmup=2, min_seconds=min_seconds)
    if tick is not None:
        tick()
    return Measured(micro, statistics.median(times), min(times), cost_of(micro))


def executed_op_types(micro: Micro, threads: int) -> frozenset[str]:
    """The op types of the kernels onnxruntime ran for ``micro``, read from its profiler.

    What the engine fused away never runs as a kernel of its own: this observes fusion directly,
    without timing, so a busy machine cannot blur it.
    """
    with tempfile.TemporaryDirectory(prefix="archlint-calibrate-") as folder:
        session = runtime.make_session(
            micro.proto, optimization=micro.optimization, threads=threads, profile_prefix=f"{folder}/run"
        )
        runtime.run(session, runtime.random_inputs(micro.proto, {"x": micro.shape}))
        kernels = ort_profile.read(Path(session.end_profiling()), warmup=0)
    return frozenset(kernels.op_types.values())


def cost_of(micro: Micro) -> ModelCost:
    return compute_costs(onnx_loader.to_model(shapes.infer(micro.proto), f"<{micro.name}>"))
