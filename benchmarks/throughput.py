"""Predicted vs measured throughput (queries per second) as the batch grows.

    python benchmarks/throughput.py --profile host.yaml [--threads 1]

archlint predicts a batch's latency from the batch-1 analysis: weights are read once per batch,
activations scale with it, and an operator whose bytes outgrow the on-chip memory falls back to
main-memory bandwidth. Here the zoo's CNNs, whose graphs take any batch, are re-declared with a
symbolic batch, measured with onnxruntime at several batch sizes, and set against archlint's
prediction at the same sizes; the predicted curve then continues to the largest batch that fits
the profile's device memory, which is where models should be compared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import onnx
from _zoo import ZOO, ensure_zoo

from archlint.analysis.roofline import batch_latency, max_batch
from archlint.api import analyze
from archlint.measure import runtime
from archlint.targets.profile import HardwareProfile, load_profile

MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0")
MEASURED_BATCHES = (1, 4, 16, 64)


@dataclass(frozen=True)
class Point:
    batch: int
    predicted_qps: float
    measured_qps: float | None


def with_symbolic_batch(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose input batch is the symbol N; inferred shapes are dropped, to be re-inferred."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    copy.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    del copy.graph.value_info[:]
    for output in copy.graph.output:
        output.type.tensor_type.ClearField("shape")
    return copy


def curve(name: str, profile: HardwareProfile, threads: int, runs: int) -> tuple[list[Point], int]:
    spec = next(s for s in ZOO if s.name == name)
    path = ensure_zoo(spec)
    cost = analyze(path, [profile]).cost
    proto = with_symbolic_batch(onnx.load(str(path)))
    session = runtime.make_session(proto, optimization="all", threads=threads)
    image = tuple(d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:])
    fullest = max_batch(cost, profile)
    batches = sorted({*MEASURED_BATCHES, *(2**k for k in range(11) if 2**k <= fullest), fullest})
    points = []
    for batch in batches:
        measured = None
        if batch in MEASURED_BATCHES:
            feeds = runtime.random_inputs(proto, {proto.graph.input[0].name: (batch, *image)})
            # The fastest run, the estimator calibration uses (see accuracy.py).
            seconds = min(runtime.time_runs(session, feeds, runs=runs, warmup=1))
            measured = batch / seconds
        points.append(Point(batch, batch / batch_latency(cost, profile, batch), measured))
    return points, fullest


def render(curves: dict[str, tuple[list[Point], int]], profile: HardwareProfile) -> str:
    memory = f"{profile.device_memory_bytes / 2**30:.1f} GiB" if profile.device_memory_bytes else "?"
    out = [
        f"Measured at batch {', '.join(map(str, MEASURED_BATCHES))}; the predicted curve continues to "
        f"the largest batch whose weights and activations fit the profile's device memory ({memory}; "
        f"archlint caps the search at 1024), shown as the last row of each model.",
        "",
        "| model | batch | predicted QPS | measured QPS | error |",
        "|---|---|---|---|---|",
    ]
    errors = []
    for name, (points, fullest) in curves.items():
        for p in points:
            if p.measured_qps is None and p.batch != fullest:
                continue
            measured = f"{p.measured_qps:.1f}" if p.measured_qps else "-"
            error = ""
            if p.measured_qps:
                errors.append(abs(p.predicted_qps / p.measured_qps - 1))
                error = f"{p.predicted_qps / p.measured_qps - 1:+.0%}"
            label = f"{p.batch} (full device)" if p.batch == fullest else str(p.batch)
            out.append(f"| {name} | {label} | {p.predicted_qps:.1f} | {measured} | {error} |")
    out += [
        "",
        f"Median |error| over the {len(errors)} measured points: {statistics.median(errors):.0%}.",
        "",
        "Ranking by throughput (best first):",
        "",
    ]
    for label, pick in (
        ("measured, batch 1", lambda ps: ps[0].measured_qps or 0.0),
        ("measured, largest measured batch", lambda ps: [p for p in ps if p.measured_qps][-1].measured_qps),
        ("predicted, batch 1", lambda ps: ps[0].predicted_qps),
        ("predicted, full device", lambda ps: ps[-1].predicted_qps),
    ):
        order = sorted(curves, key=lambda n: -(pick(curves[n][0]) or 0.0))
        out.append(f"- {label}: {' > '.join(order)}")
    return "\n".join(out)


def section(profile: HardwareProfile, threads: int, runs: int = 5) -> str:
    curves = {}
    for name in MODELS:
        curves[name] = curve(name, profile, threads, runs)
        print(f"  throughput: {name} done", file=sys.stderr)
    return render(curves, profile)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="a calibrated profile (archlint calibrate -o F)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(section(load_profile(args.profile), args.threads, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
