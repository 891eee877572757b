"""How well archlint predicts measured latency, next to a FLOPs-only predictor.

    python benchmarks/accuracy.py [--threads 1] [--rounds 10] [--calibrations 3] [--corpus]
        [--write docs/accuracy.md]

In one run: calibrate this machine ``--calibrations`` times in a row (``archlint calibrate``'s
microbenchmarks, which never see these models), predict every zoo model's batch-1 latency with
each profile, measure it with onnxruntime (CPU, all graph optimizations, ``--threads``
intra-op threads), and score both archlint and a FLOPs-only predictor: one constant time per
FLOP, fitted to the same measurements (the geometric mean of measured/FLOPs, which minimizes
squared log error; the FLOPs-only predictor is given its best constant after the fact, archlint
is not).

Models are timed in interleaved rounds, so a burst of load from another process on a shared
machine spreads over all models instead of landing on one. In each round a model runs once
untimed, then for at least ``SLICE_SECONDS``, and the round's fastest run is kept: the same
protocol as calibration's microbenchmarks, whose kernels run warm from one run to the next. The
primary score compares each prediction with the robust centre of the model's per-round values
(the mean of those within 3 MADs of their median), the estimator calibration's figures use;
scores against the single fastest run are given too. Every profile is scored on the same
measurements, and the spread of each figure over the calibrations is tabulated.

With ``--corpus``, the real-world corpus (``benchmarks/corpus.py``: transformers architectures
through both torch exporters, onnxruntime's optimizer and quantizer, old opsets, control-flow
patterns) is measured and scored the same way, in a section of its own, at each model's
manifest binding. Nothing of either set is used to calibrate.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
from _zoo import ZOO, ZooModel, ensure_zoo
from throughput import section as throughput_section

from archlint import units
from archlint.api import analyze
from archlint.measure import runtime
from archlint.measure.calibration.measure import robust_centre
from archlint.measure.calibration.run import calibrate
from archlint.measure.calibration.writer import to_yaml
from archlint.targets.profile import ConvShape, HardwareProfile, load_profile

#: Where each calibration's profile is written as soon as it is measured.
KEPT_PROFILES = Path(__file__).resolve().parent / ".models" / "accuracy"
WITHIN = 0.25  # a prediction within +-25 % of the measurement counts as right
CLOSE_FLOPS = 2.0  # pairs of models within this FLOPs ratio are the ones FLOPs cannot rank


@dataclass(frozen=True)
class Row:
    name: str
    input_desc: str
    flops: int
    measured_s: float  # robust centre of the per-round fastest runs
    fastest_s: float  # the fastest run
    spread: float  # interquartile range / median of the measured runs
    archlint_s: float
    roofline_s: float  # the calibrated peaks and bandwidths only: no efficiencies, fusion, overhead


def _shapes(proto: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    stored = {t.name for t in proto.graph.initializer}
    return {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in proto.graph.input
        if v.name not in stored
    }


def _pure_roofline(profile: HardwareProfile) -> HardwareProfile:
    measured_refinements = {
        "efficiency": {},
        "conv_shape": ConvShape(),
        "fusion": {},
        "blocked_ops": (),
        "op_overhead_s": 0.0,
        "class_overhead_s": {},
        "op_types": {},
        "run_overhead_s": 0.0,
        "shape_op_overhead_s": 0.0,
        "subgraph_overhead_s": 0.0,
    }
    return replace(profile, **measured_refinements)


@dataclass(frozen=True)
class Subject:
    """A model to predict and measure: where it is, how to bind it, what to feed it."""

    name: str
    path: Path
    input_desc: str
    inputs: dict[str, tuple[int, ...]]
    dims: dict[str, int]
    values: dict[str, Any]
    feeds: Callable[[onnx.ModelProto], dict[str, Any]]


def zoo_subjects(specs: Sequence[ZooModel]) -> list[Subject]:
    return [
        Subject(
            s.name,
            ensure_zoo(s),
            s.input_desc,
            dict(s.inputs),
            dict(s.dims),
            {},
            lambda proto: runtime.random_inputs(proto, _shapes(proto)),
        )
        for s in specs
    ]


def corpus_subjects() -> list[Subject]:
    """Every corpus model that built, at its manifest binding."""
    import json

    from corpus_check import CORPUS_DIR, MANIFEST, random_feeds

    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))["models"]
    subjects = []
    for entry in entries:
        if "error" in entry or not (CORPUS_DIR / entry["path"]).is_file():
            continue  # failed to build, or being rebuilt
        shapes = {name: tuple(shape) for name, shape in entry["inputs"].items()}
        desc = ", ".join(f"{n} {'x'.join(map(str, s)) or 'scalar'}" for n, s in shapes.items())
        subjects.append(
            Subject(
                entry["name"],
                CORPUS_DIR / entry["path"],
                desc,
                shapes,
                {},
                dict(entry.get("values", {})),
                lambda _proto, entry=entry, shapes=shapes: random_feeds(entry, shapes),
            )
        )
    return subjects


#: Timed seconds per model and round, after one untimed run.
SLICE_SECONDS = 0.05


def measure_all(subjects: Sequence[Subject], threads: int, rounds: int) -> dict[str, list[float]]:
    """Per model, the fastest of each round's warm runs (calibration's per-round statistic too)."""
    sessions = {}
    for subject in subjects:
        proto = onnx.load(str(subject.path))
        session = runtime.make_session(proto, optimization="all", threads=threads)
        feeds = subject.feeds(proto)
        runtime.time_runs(session, feeds, runs=0, warmup=2)
        sessions[subject.name] = (session, feeds)
        print(f"  loaded {subject.name}", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for round_ in range(rounds):
        for name, (session, feeds) in sessions.items():
            runs = runtime.time_runs(session, feeds, runs=1, warmup=1, min_seconds=SLICE_SECONDS)
            times[name].append(min(runs))
        print(f"  round {round_ + 1}/{rounds}", file=sys.stderr)
    return times


def relative_error(predicted: float, measured: float) -> float:
    return predicted / measured - 1


def score(predicted: Sequence[float], measured: Sequence[float], flops: Sequence[int]) -> dict[str, float]:
    errors = [abs(relative_error(p, m)) for p, m in zip(predicted, measured, strict=True)]
    close = [
        (i, j)
        for i, j in itertools.combinations(range(len(flops)), 2)
        if max(flops[i], flops[j]) / min(flops[i], flops[j]) <= CLOSE_FLOPS
    ]
    misranked = sum((predicted[i] < predicted[j]) != (measured[i] < measured[j]) for i, j in close)
    return {
        "within": sum(e <= WITHIN for e in errors) / len(errors),
        "median": statistics.median(errors),
        "worst": max(errors),
        "misranked": misranked,
        "pairs": len(close),
    }


def flops_only(rows: Sequence[Row], measured: Sequence[float]) -> list[float]:
    seconds_per_flop = math.exp(
        statistics.fmean(math.log(m / r.flops) for r, m in zip(rows, measured, strict=True))
    )
    return [seconds_per_flop * r.flops for r in rows]


def summary(rows: Sequence[Row], measured: Sequence[float]) -> list[str]:
    flops = [r.flops for r in rows]
    scores = {
        "archlint (calibrated profile)": score([r.archlint_s for r in rows], measured, flops),
        "FLOPs only (best constant, fitted to these measurements)": score(
            flops_only(rows, measured), measured, flops
        ),
        "pure roofline (calibrated peak and bandwidth only)": score(
            [r.roofline_s for r in rows], measured, flops
        ),
    }
    out = [
        f"| predictor | within ±{WITHIN:.0%} | median abs. error | worst abs. error | "
        f"misranked pairs (of pairs within {CLOSE_FLOPS:g}x FLOPs) |",
        "|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        out.append(
            f"| {name} | {s['within']:.0%} ({round(s['within'] * len(rows))}/{len(rows)}) | "
            f"{s['median']:.1%} | {s['worst']:.0%} | {s['misranked']} of {s['pairs']} |"
        )
    return out


READING = """\
- *error* is predicted / measured - 1: positive means archlint predicts the model slower than it ran.
- The FLOPs-only predictor is given the constant that best fits these very measurements; archlint's
  profile was measured before any of these models ran. A predictor that ranks every pair right
  but is off by a constant factor would still misrank no pairs. The count includes near ties:
  two models whose fastest times differ by a few percent can swap between runs, whichever
  predictor is scored.
- *spread* is the interquartile range of a model's rounds over their median: this machine is a shared
  virtual machine, and a model's runs vary by that much. An error smaller than the spread is
  within the noise of the measurement itself.
- Calibration figures are robust centres (per-round fastest runs, rounds beyond 3 MADs left out) of
  microbenchmarks on a machine shared with other processes; the figures move between
  calibrations by the spreads tabulated under *Repeated calibrations*, and main-memory bandwidth,
  the figure most sensitive to other processes' load, moves most.
- The profile's efficiencies are per operator class (and per op type where measured), refined
  for fp32 convs by their output channels and multiply-adds per output, output width, grouping and layout
  fallback (`conv_shape`), and measured on a few generic shapes each; the copies onnxruntime
  makes between its blocked conv layout and the plain one are charged where `blocked_ops` says
  they happen. Where a kernel's speed depends on its shape in other ways (a grouped conv on a
  7x7 map runs below even the narrow-row figure; an expanding 1x1 conv runs slower than a
  projecting one of the same FLOPs), the largest errors are.
- The *pure roofline* row keeps the calibrated peaks, bandwidths, on-chip capacity and channel
  alignment, and drops the efficiencies, conv shape, fusion, layout conversions, the fixed costs
  per kernel (per class and per op type) and the engine's time outside the operators: it shows
  what those measured refinements add or cost.
- Figures at a cache boundary move between runs: when another tenant of this machine holds part
  of the last-level cache, calibration measures a smaller on-chip capacity, and weights that sat
  just inside it (an LSTM layer's recurrent weights) are predicted from main memory."""

GPU_NOTE = (
    "This benchmark ran on a machine without a GPU, so the GPU profiles' predictions (`h100`, "
    "`h200`, `a100`, ...) have not been compared with measured latency here. They remain datasheet "
    "rooflines; treat their absolute times as lower bounds."
)


def scored(rows: Sequence[Row]) -> list[str]:
    """The summary against robust centres and fastest runs, then the per-model table."""
    fastest = [r.measured_s for r in rows]
    baseline = flops_only(rows, fastest)
    out = [
        "Against each model's robust centre of rounds (calibration's figures are too):",
        "",
        *summary(rows, fastest),
        "",
        "Against each model's fastest run:",
        "",
        *summary(rows, [r.fastest_s for r in rows]),
        "",
        "| model | input | GFLOPs | robust centre | fastest | spread (IQR) | archlint | error | "
        "error vs fastest | FLOPs only | error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row, base in zip(rows, baseline, strict=True):
        out.append(
            f"| {row.name} | {row.input_desc} | {row.flops / 1e9:.3f} | {units.seconds(row.measured_s)} | "
            f"{units.seconds(row.fastest_s)} | {row.spread:.1%} | {units.seconds(row.archlint_s)} | "
            f"{relative_error(row.archlint_s, row.measured_s):+.0%} | "
            f"{relative_error(row.archlint_s, row.fastest_s):+.0%} | {units.seconds(base)} | "
            f"{relative_error(base, row.measured_s):+.0%} |"
        )
    return out


CORPUS_INTRO = """Models written by others and exported by the tools people use (`benchmarks/corpus.py`):
Hugging Face transformers architectures with random weights (small configurations: two to four
layers, hidden sizes of 64 to 256) through both torch exporters, onnxruntime's transformer
optimizer and quantizer, opset-11 and -13 exports, and the control-flow patterns. They are
small, so per-operator dispatch weighs more here than in the zoo. The profile is the one used
above; the FLOPs-only constant is fitted again, to these measurements."""


CORPUS_GAP = """\
These models are small (the 16-token BERT of hidden size 128 is 13 MFLOPs), so much of their
time is what each kernel call costs before it does any arithmetic. The profile prices that per
op class and for the op types with kernels of their own (`class_overhead_s`, `op_types`),
measured on chains of small operators of transformer and small-convnet sizes; none of these
models was run to choose them. The profile also prices what onnxruntime spends outside the
operators, each figure from a pair of microbenchmarks that differ in one thing: a session.run's
own fixed cost (`run_overhead_s`), the set-up of each If branch and Loop iteration
(`subgraph_overhead_s`), and the shape sub-graphs (Shape, Gather, Unsqueeze, Concat on dims) that
archlint folds once the input shapes are bound but onnxruntime runs at every inference when the
file's dims are symbolic (`shape_op_overhead_s`, per operator archlint counts). Pairs that
onnxruntime runs as a kernel of its own (an Add and the LayerNormalization reading it as
SkipLayerNormalization, a bias Add and a Gelu as BiasGelu) are found by calibrate's probes and
priced with that kernel's measured figures (`fused_kernels`). A QDQ model's DequantizeLinear ->
op -> QuantizeLinear groups run as the integer kernels onnxruntime's QDQ selectors make of them
(`quantized_kernels`, found by calibrate's probes; a group they do not take stays float, and its
stored weight is dequantized at every run), and an integer conv of few input channels pays for
copying its taps (`conv_shape.int8_tap_s`). What it cannot price yet: kernels onnxruntime forms
from longer patterns (the Erf formula of GELU, attention, FusedMatMul) are priced as the nodes
they replace; onnxruntime forms the pair kernels only where its own shape inference knows the
operands' shapes, which archlint does not model; Softmax and LayerNormalization over short rows
(a Swin window's 49 or 64 tokens) run below the efficiency calibrate measures on rows of 16 and
128; and a float conv whose weight is dequantized at every run leaves onnxruntime's blocked
layout, with Transposes around its integer neighbours that archlint does not count."""


def render(
    rows: Sequence[Row],
    profile: HardwareProfile,
    meta: dict[str, str],
    throughput: str | None,
    corpus_rows: Sequence[Row] = (),
    repeats: Sequence[str] | None = None,
) -> str:
    out = [
        "# Prediction accuracy",
        "",
        "Generated by `" + meta["command"] + "` on " + meta["date"] + "; do not edit by hand.",
        "",
        f"Machine: {meta['machine']}. onnxruntime {meta['ort']}, CPU execution provider, all graph "
        f"optimizations, {meta['threads']} intra-op thread(s), sequential execution. Every model ran "
        f"{meta['rounds']} interleaved rounds (per round, one untimed batch-1 run, then batch-1 runs "
        f"for {SLICE_SECONDS:g} s; the round's fastest run is kept). Calibration took {meta['calibration']} "
        "of measurement and never ran these models. Other processes shared this 2-core machine "
        "throughout: figures are robust centres of repeats, and move between runs.",
        "",
        "## The zoo",
        "",
        f"{len(rows)} classic architectures written from their papers (`benchmarks/_zoo.py`).",
        "",
        *scored(rows),
    ]
    if corpus_rows:
        out += ["", "## Real-world corpus", "", CORPUS_INTRO, "", *scored(corpus_rows), "", CORPUS_GAP]
    if repeats is not None:
        out += ["", "## Repeated calibrations", "", *repeats]
    out += ["", "## How to read this", "", READING]
    if throughput is not None:
        out += ["", "## Throughput vs batch", "", throughput]
    out += ["", "## GPUs", "", GPU_NOTE]
    out += [
        "",
        "## The calibrated profile",
        "",
        "`archlint calibrate` wrote this profile in the same run; every figure's `source` says which "
        "microbenchmark it came from.",
        "",
        "```yaml",
        to_yaml(profile, meta["calibrate_command"]).rstrip(),
        "```",
        "",
    ]
    return "\n".join(out)


def figures(profile: HardwareProfile) -> dict[str, float]:
    """Every calibrated scalar of ``profile``, by its key path."""
    out: dict[str, float] = {
        "peak_flops.fp32": profile.peak_flops["fp32"],
        "memory_bandwidth": profile.memory_bandwidth,
        "op_overhead_s": profile.op_overhead_s,
        "conv_shape.narrow_channels": profile.conv_shape.narrow_channels,
        "conv_shape.narrow_rows": profile.conv_shape.narrow_rows,
        "conv_shape.grouped": profile.conv_shape.grouped,
        "conv_shape.int8_tap_s": profile.conv_shape.int8_tap_s,
        "peak_flops.int8": profile.peak_flops.get("int8", 0.0),
        "subnormal_slowdown": profile.subnormal_slowdown or 1.0,
        "run_overhead_s": profile.run_overhead_s,
        "shape_op_overhead_s": profile.shape_op_overhead_s,
        "subgraph_overhead_s": profile.subgraph_overhead_s,
    }
    out.update({f"efficiency.{k}": v for k, v in sorted(profile.efficiency.items())})
    out.update({f"class_overhead_s.{k}": v for k, v in sorted(profile.class_overhead_s.items())})
    for op_type, own in sorted(profile.op_types.items()):
        out[f"op_types.{op_type}.efficiency"] = own.efficiency or 1.0
        out[f"op_types.{op_type}.overhead_s"] = own.overhead_s or 0.0
    return out


def spread_table(profiles: Sequence[HardwareProfile]) -> list[str]:
    """Each figure in every calibration, and its spread: (max - min) / median."""
    tables = [figures(p) for p in profiles]
    heads = " | ".join(f"calibration {i + 1}" for i in range(len(profiles)))
    out = [f"| figure | {heads} | spread (max-min)/median |", "|---" * (len(profiles) + 2) + "|"]
    for key in tables[0]:
        values = [t.get(key, float("nan")) for t in tables]
        middle = statistics.median(values)
        width = max(values) - min(values)
        spread = f"{width / middle:.0%}" if middle else "0%" if not width else "n/a (median 0)"
        cells = " | ".join(f"{v:.4g}" for v in values)
        out.append(f"| {key} | {cells} | {spread} |")
    return out


def per_calibration_table(label: str, rows_by_profile: Sequence[Sequence[Row]]) -> list[str]:
    out = [
        f"| {label}: calibration | within ±{WITHIN:.0%} | median abs. error | worst abs. error | "
        "median signed error |",
        "|---|---|---|---|---|",
    ]
    for index, rows in enumerate(rows_by_profile):
        measured = [r.measured_s for r in rows]
        s = score([r.archlint_s for r in rows], measured, [r.flops for r in rows])
        signed = statistics.median(relative_error(r.archlint_s, r.measured_s) for r in rows)
        out.append(
            f"| {index + 1} | {s['within']:.0%} ({round(s['within'] * len(rows))}/{len(rows)}) | "
            f"{s['median']:.1%} | {s['worst']:.0%} | {signed:+.1%} |"
        )
    return out


def calibrations_section(
    profiles: Sequence[HardwareProfile],
    zoo: Sequence[Sequence[Row]],
    corpus: Sequence[Sequence[Row]],
) -> list[str]:
    out = [
        f"{len(profiles)} calibrations ran one after the other, before any model was measured; every "
        "profile is scored against the same measurements (robust centres). The first profile is the "
        "one the tables above use and the one printed at the end.",
        "",
        *per_calibration_table("zoo", zoo),
    ]
    if corpus and corpus[0]:
        out += ["", *per_calibration_table("corpus", corpus)]
    out += ["", "Every calibrated figure, per calibration:", "", *spread_table(profiles)]
    return out


def predicted_row(
    subject: Subject, runs: Sequence[float], profile: HardwareProfile, roofline: HardwareProfile
) -> Row:
    analysis = analyze(subject.path, [profile, roofline], subject.inputs, subject.dims, values=subject.values)
    runs = sorted(runs)
    median = statistics.median(runs)
    quartiles = statistics.quantiles(runs, n=4) if len(runs) > 1 else [median, median, median]
    return Row(
        subject.name,
        subject.input_desc,
        analysis.cost.flops,
        robust_centre(runs),
        runs[0],
        (quartiles[2] - quartiles[0]) / median,
        analysis.predictions[0].latency_s,
        analysis.predictions[1].latency_s,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calibrations", type=int, default=1, help="calibrate N times and compare")
    parser.add_argument("--profile", help="use these profiles (comma-separated) instead of calibrating now")
    parser.add_argument("--write", metavar="F.md", help="write the report to F (default: print it)")
    parser.add_argument("--only", help="comma-separated model names (default: the whole zoo)")
    parser.add_argument("--no-throughput", action="store_true", help="skip the QPS-vs-batch section")
    parser.add_argument("--corpus", action="store_true", help="also score the real-world corpus")
    args = parser.parse_args(argv)
    specs = [s for s in ZOO if not args.only or s.name in args.only.split(",")]
    subjects = zoo_subjects(specs)
    corpus = corpus_subjects() if args.corpus else []

    started = time.perf_counter()
    if args.profile:
        profiles, spent = [load_profile(p) for p in args.profile.split(",")], "(given profiles)"
    else:
        profiles = []
        for index in range(args.calibrations):
            print(f"calibrating {index + 1}/{args.calibrations} ...", file=sys.stderr)
            profiles.append(calibrate("host", args.threads))
            # Kept, so that a run stopped later can be scored again with --profile.
            kept = KEPT_PROFILES / f"calibration-{index + 1}.yaml"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(
                to_yaml(profiles[-1], f"archlint calibrate --threads {args.threads}"), encoding="utf-8"
            )
        spent = units.seconds((time.perf_counter() - started) / len(profiles)) + " each"
    profile = profiles[0]
    print("measuring ...", file=sys.stderr)
    measured = measure_all([*subjects, *corpus], args.threads, args.rounds)
    zoo_rows, all_corpus = [], []
    for each in profiles:
        roofline = _pure_roofline(each)
        zoo_rows.append([predicted_row(s, measured[s.name], each, roofline) for s in subjects])
        all_corpus.append([predicted_row(s, measured[s.name], each, roofline) for s in corpus])
    rows, corpus_rows = zoo_rows[0], all_corpus[0]
    repeats = calibrations_section(profiles, zoo_rows, all_corpus) if len(profiles) > 1 else None
    import onnxruntime

    meta = {
        "command": "python benchmarks/accuracy.py " + " ".join(argv or sys.argv[1:]),
        "calibrate_command": f"archlint calibrate --threads {args.threads}",
        "date": datetime.date.today().isoformat(),
        "machine": f"{profile.description.split(' (')[0]}, {platform.machine()}",
        "ort": onnxruntime.__version__,
        "threads": str(args.threads),
        "rounds": str(args.rounds),
        "calibration": spent,
    }
    throughput = None if args.no_throughput else throughput_section(profile, args.threads)
    text = render(rows, profile, meta, throughput, corpus_rows, repeats)
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
