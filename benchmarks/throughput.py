"""Predicted vs measured throughput (samples per second) as the batch grows.

    python benchmarks/throughput.py --profile host.yaml [--threads 1]
    python benchmarks/throughput.py --profile p40 --models resnet50,efficientnet_b3 --size 224 \\
        --no-measure --batches 1,2,4,8,16,32,64,128,256,512,1024,max [--save DIR]

archlint predicts a batch's latency from the model costed again at that batch (shapes, FLOPs and
bytes re-inferred; archlint/analysis/throughput.py). Here the zoo's CNNs, whose graphs take any
batch, are re-declared with a symbolic batch, measured with onnxruntime at several batch sizes,
and set against archlint's prediction at the same sizes; each model's last row is the saturated
figure, the best predicted samples/s up to the largest batch that fits the profile's device
memory, which is where models should be compared. ``--no-measure`` prints the predicted curves
only, for a device this machine does not have.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import onnx
from _zoo import ZOO, ensure_zoo

from archlint.analysis.model_cost import compute_costs
from archlint.analysis.throughput import Batch, BatchPoint, Throughput, throughput
from archlint.api import batch_costs, resolve_model
from archlint.measure import runtime
from archlint.targets.profile import HardwareProfile, load_profile
from archlint.targets.registry import resolve

MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0")
MEASURED_BATCHES = (1, 4, 16, 64)


@dataclass(frozen=True)
class Curve:
    name: str
    size: int  # input height and width
    predicted: Throughput
    measured: dict[int, float]  # batch -> samples/s


def with_symbolic_batch(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose input batch is the symbol N; inferred shapes are dropped, to be re-inferred."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    copy.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    del copy.graph.value_info[:]
    for output in copy.graph.output:
        output.type.tensor_type.ClearField("shape")
    return copy


def symbolic_zoo_model(name: str) -> tuple[Path, onnx.ModelProto]:
    """The zoo model's file, and its graph with a symbolic batch."""
    path = ensure_zoo(next(s for s in ZOO if s.name == name))
    return path, with_symbolic_batch(onnx.load(str(path)))


def predict(
    name: str, profile: HardwareProfile, batches: Sequence[Batch], size: int | None
) -> tuple[Throughput, onnx.ModelProto, tuple[int, ...]]:
    path, proto = symbolic_zoo_model(name)
    declared = proto.graph.input[0].type.tensor_type.shape.dim
    image = tuple(d.dim_value for d in declared[1:])
    if size is not None:
        image = (*image[:-2], size, size)
    inputs = {proto.graph.input[0].name: (1, *image)}
    cost = compute_costs(resolve_model(proto, path, inputs))
    return throughput(batch_costs(proto, path, cost, inputs), profile, batches), proto, image


def curve(
    name: str,
    profile: HardwareProfile,
    threads: int,
    runs: int,
    batches: Sequence[Batch] = (*MEASURED_BATCHES, "max"),
    size: int | None = None,
    measure: bool = True,
) -> Curve:
    predicted, proto, image = predict(name, profile, batches, size)
    measured: dict[int, float] = {}
    if measure:
        session = runtime.make_session(proto, optimization="all", threads=threads)
        for batch in MEASURED_BATCHES:
            feeds = runtime.random_inputs(proto, {proto.graph.input[0].name: (batch, *image)})
            # The fastest run, the estimator calibration uses (see accuracy.py).
            seconds = min(runtime.time_runs(session, feeds, runs=runs, warmup=1))
            measured[batch] = batch / seconds
    return Curve(name, image[-1], predicted, measured)


def _saturated_label(t: Throughput) -> str:
    if t.saturated is None:
        return f"- ({t.note})"
    fullest = ", the largest that fits" if t.saturated.batch == t.largest_batch else ""
    return f"{t.saturated.batch} (saturated{fullest})"


def render(curves: Sequence[Curve], profile: HardwareProfile) -> str:
    memory = f"{profile.device_memory_bytes / 2**30:.1f} GiB" if profile.device_memory_bytes else "?"
    out = [
        f"Measured at batch {', '.join(map(str, MEASURED_BATCHES))}; each model's last row is the "
        f"best predicted samples/s up to the largest batch whose weights and activations fit the "
        f"profile's device memory ({memory}), every batch costed again at its own shapes.",
        "",
        "| model | batch | predicted samples/s | measured samples/s | error |",
        "|---|---|---|---|---|",
    ]
    errors = []
    for c in curves:
        for point in c.predicted.curve:
            if point.batch not in c.measured:
                continue
            measured = c.measured[point.batch]
            errors.append(abs(point.samples_per_s / measured - 1))
            error = f"{point.samples_per_s / measured - 1:+.0%}"
            out.append(f"| {c.name} | {point.batch} | {point.samples_per_s:.1f} | {measured:.1f} | {error} |")
        best = c.predicted.saturated
        rate = f"{best.samples_per_s:.1f}" if best else "-"
        out.append(f"| {c.name} | {_saturated_label(c.predicted)} | {rate} | - |  |")
    out += [
        "",
        f"Median |error| over the {len(errors)} measured points: {statistics.median(errors):.0%}.",
        "",
        "Ranking by throughput (best first):",
        "",
    ]
    for label, pick in (
        ("measured, batch 1", lambda c: c.measured.get(1, 0.0)),
        ("measured, largest measured batch", lambda c: c.measured[max(c.measured)] if c.measured else 0.0),
        ("predicted, batch 1", lambda c: _at(c.predicted, 1)),
        (
            "predicted, saturated",
            lambda c: c.predicted.saturated.samples_per_s if c.predicted.saturated else 0.0,
        ),
    ):
        order = sorted(curves, key=lambda c: -pick(c))
        out.append(f"- {label}: {' > '.join(c.name for c in order)}")
    return "\n".join(out)


def _at(t: Throughput, batch: int) -> float:
    return next((p.samples_per_s for p in t.points if p.batch == batch), 0.0)


def render_predicted(curves: Sequence[Curve], profile: HardwareProfile) -> str:
    """The predicted curves side by side, then batch 16 and saturated per model and their ratio."""
    names = [f"{c.name} {c.size}x{c.size}" for c in curves]
    out = [
        f"Predicted on {profile.name} (device memory {profile.device_memory_bytes or 0:.4g} B); "
        "samples/s, each batch costed at its own shapes; memory is weights plus peak live activations.",
        "",
        "| batch | " + " | ".join(f"{n} samples/s | {n} memory" for n in names) + " |",
        "|---|" + "---|---|" * len(curves),
    ]
    batches = sorted({p.batch for c in curves for p in c.predicted.curve})
    for batch in batches:
        cells = []
        for c in curves:
            found: BatchPoint | None = next((p for p in c.predicted.points if p.batch == batch), None)
            if found is None:
                cells += ["-", "-"]
            else:
                fits = "" if found.fits else " (does not fit)"
                cells += [f"{found.samples_per_s:.1f}", f"{found.memory_bytes / 2**30:.2f} GiB{fits}"]
        out.append(f"| {batch} | " + " | ".join(cells) + " |")
    out += [
        "",
        "| model | batch 16 | saturated | at batch | largest batch that fits |",
        "|---|---|---|---|---|",
    ]
    for name, c in zip(names, curves, strict=True):
        best = c.predicted.saturated
        out.append(
            f"| {name} | {_at(c.predicted, 16):.1f} | {best.samples_per_s if best else 0:.1f} | "
            f"{best.batch if best else '-'} | {c.predicted.largest_batch} |"
        )
    if len(curves) == 2 and all(c.predicted.saturated for c in curves):
        first, second = (c.predicted for c in curves)
        assert first.saturated is not None and second.saturated is not None
        out += [
            "",
            f"{curves[0].name} / {curves[1].name}: {_at(first, 16) / _at(second, 16):.2f}x at batch 16, "
            f"{first.saturated.samples_per_s / second.saturated.samples_per_s:.2f}x saturated.",
        ]
    monotone = {c.name: _monotone(c.predicted.curve) for c in curves}
    out += [
        "",
        "Monotone (samples/s never falls as the batch grows): "
        + ", ".join(f"{name} {'yes' if ok else 'no'}" for name, ok in monotone.items())
        + ".",
    ]
    return "\n".join(out)


def _monotone(points: Sequence[BatchPoint]) -> bool:
    ordered = sorted(points, key=lambda p: p.batch)
    return all(a.samples_per_s <= b.samples_per_s for a, b in pairwise(ordered))


def section(profile: HardwareProfile, threads: int, runs: int = 5) -> str:
    curves = []
    for name in MODELS:
        curves.append(curve(name, profile, threads, runs))
        print(f"  throughput: {name} done", file=sys.stderr)
    return render(curves, profile)


def _profile(text: str) -> HardwareProfile:
    return load_profile(text) if text.endswith((".yaml", ".yml")) else resolve(text)


def main(argv: Sequence[str] | None = None) -> int:
    from archlint.commands.analyze import parse_batches

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="a profile name or .yaml (archlint calibrate -o F)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS), help="zoo models, comma-joined")
    parser.add_argument("--size", type=int, help="input height and width (default: the zoo model's)")
    parser.add_argument(
        "--batches", help="predicted batches, e.g. 1,16,64,max (default: the measured ones, max)"
    )
    parser.add_argument("--no-measure", action="store_true", help="predicted curves only, no onnxruntime")
    parser.add_argument("--save", metavar="DIR", help="also write each model with its symbolic batch to DIR")
    args = parser.parse_args(argv)
    profile = _profile(args.profile)
    for name in args.models.split(",") if args.save else ():
        onnx.save(symbolic_zoo_model(name)[1], str(Path(args.save) / f"{name}_nbatch.onnx"))
    batches: list[Batch] = parse_batches(args.batches) if args.batches else [*MEASURED_BATCHES, "max"]
    names = args.models.split(",")
    curves = [
        curve(n, profile, args.threads, args.runs, batches, args.size, not args.no_measure) for n in names
    ]
    print(render_predicted(curves, profile) if args.no_measure else render(curves, profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
