"""How much slower is archlint's analysis than merely loading a model and inferring its shapes?

The floor is ``onnx.load`` + ``onnx.shape_inference.infer_shapes``: any tool that reports per-tensor
shapes pays at least that. archlint also binds inputs, converts the graph, costs every operator
and predicts a roofline time; the target is that all of this costs at most 2x the floor.

Both are timed in the same process and interleaved (floor, archlint, floor, ...), so drift on a
shared machine hits both sides alike; medians are reported because the noise is one-sided.
Models above the target are profiled with cProfile afterwards, outside the timed runs.

    python benchmarks/speed.py [--repeats 5] [--only resnet50,vgg11] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import _models
import onnx

from archlint.api import analyze
from archlint.targets.profile import HardwareProfile
from archlint.targets.registry import resolve

TARGET_RATIO = 2.0


@dataclass(frozen=True)
class Row:
    name: str
    size_mb: float
    nodes: int
    floor_s: float
    archlint_s: float

    @property
    def ratio(self) -> float:
        return self.archlint_s / self.floor_s


def archlint_run(spec: _models.ModelSpec, profile: HardwareProfile) -> Callable[[], object]:
    def run() -> object:
        return analyze(spec.path, targets=[profile], inputs=spec.inputs, dims=spec.dims)

    return run


def floor_run(path: str) -> Callable[[], object]:
    def run() -> object:
        return onnx.shape_inference.infer_shapes(onnx.load(path))

    return run


def timed(fn: Callable[[], object]) -> float:
    gc.collect()  # garbage left by the previous run must not be billed to this one
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(spec: _models.ModelSpec, profile: HardwareProfile, repeats: int) -> Row:
    path = str(spec.path)
    run_floor, run_archlint = floor_run(path), archlint_run(spec, profile)
    for warm_up in (run_floor, run_archlint):  # page cache, lazy imports, first-call caches
        warm_up()
    floors, archlints = [], []
    for _ in range(repeats):
        floors.append(timed(run_floor))
        archlints.append(timed(run_archlint))
    nodes = len(onnx.load(path, load_external_data=False).graph.node)
    size_mb = spec.path.stat().st_size / 2**20
    return Row(spec.name, size_mb, nodes, statistics.median(floors), statistics.median(archlints))


def print_table(rows: Sequence[Row]) -> None:
    header = f"{'model':<22}{'size MB':>9}{'nodes':>7}{'floor s':>10}{'archlint s':>12}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "  <-- over target" if r.ratio > TARGET_RATIO else ""
        print(
            f"{r.name:<22}{r.size_mb:>9.2f}{r.nodes:>7}{r.floor_s:>10.4f}{r.archlint_s:>12.4f}{r.ratio:>8.2f}{flag}"
        )
    ratios = [r.ratio for r in rows]
    worst = max(rows, key=lambda r: r.ratio)
    print("-" * len(header))
    meeting = sum(x <= TARGET_RATIO for x in ratios)
    print(
        f"median ratio {statistics.median(ratios):.2f}; worst {worst.ratio:.2f} ({worst.name}); "
        f"target <= {TARGET_RATIO:.1f}: {meeting}/{len(ratios)} models meet it"
    )


def phase_times(spec: _models.ModelSpec, profile: HardwareProfile) -> dict[str, float]:
    """One analyze() split into its stages, through the same api functions analyze() calls.

    cProfile's per-call overhead inflates exactly the many-small-calls code that makes a model
    slow, so the split of wall time between stages is measured without it.
    """
    from archlint.analysis.model_cost import compute_costs
    from archlint.analysis.roofline import predict
    from archlint.api import resolve_model
    from archlint.model import onnx_loader

    marks = [time.perf_counter()]
    proto = onnx_loader.read_proto(spec.path)
    marks.append(time.perf_counter())
    model = resolve_model(proto, spec.path, spec.inputs, spec.dims)
    marks.append(time.perf_counter())
    cost = compute_costs(model)
    marks.append(time.perf_counter())
    predict(cost, profile)
    marks.append(time.perf_counter())
    stages = (
        "read_proto",
        "resolve_model (bind, infer, fold, convert)",
        "compute_costs",
        "predict (roofline)",
    )
    return {stage: end - start for stage, start, end in zip(stages, marks, marks[1:], strict=False)}


def print_phases(spec: _models.ModelSpec, profile: HardwareProfile, repeats: int) -> None:
    gc.collect()
    runs = [phase_times(spec, profile) for _ in range(repeats)]
    medians = {stage: statistics.median([r[stage] for r in runs]) for stage in runs[0]}
    total = sum(medians.values())
    print(f"\n== analyze({spec.name}) by stage, median of {repeats}, no profiler ==")
    for stage, seconds in medians.items():
        print(f"{stage:<28}{seconds:>9.4f} s{100 * seconds / total:>6.0f}%")


def print_profile(spec: _models.ModelSpec, profile: HardwareProfile, top: int = 15) -> None:
    """Where analyze() spends its time: self time first (the hot loops), then cumulative."""
    profiler = cProfile.Profile()
    profiler.runcall(archlint_run(spec, profile))
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        body = out.getvalue()
        # pstats opens with a summary and blank lines; keep from the column header on.
        print(f"\n== cProfile of analyze({spec.name}), top {top} by {order} ==")
        print(body[body.index("   ncalls") :].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs per model after one warm-up (default 5)"
    )
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--no-profile", action="store_true", help="skip cProfile of models over target")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    specs = [s for s in _models.SPEED_MODELS if wanted is None or s.name in wanted]
    for spec in specs:
        _models.ensure(spec)
    profile = resolve(str(_models.write_profile()))
    rows = [measure(spec, profile, args.repeats) for spec in specs]
    print(f"archlint analyze vs onnx.load + infer_shapes; median of {args.repeats} runs after 1 warm-up\n")
    print_table(rows)
    if not args.no_profile:
        for row, spec in zip(rows, specs, strict=True):
            if row.ratio > TARGET_RATIO:
                print_phases(spec, profile, args.repeats)
                print_profile(spec, profile)


if __name__ == "__main__":
    main()
