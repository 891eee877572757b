"""``archlint calibrate``: measure this machine with onnxruntime and write a hardware profile.

The order matters: peaks, bandwidths and dispatch overhead first, then the per-class
efficiencies, which are the measured time set against a roofline built from those figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from archlint import units
from archlint.analysis.costs.record import OpClass
from archlint.measure.calibration import confidence, engine, fit, kernels, micro, quantized, subnormal
from archlint.measure.calibration.host import Host, read_host
from archlint.measure.calibration.measure import (
    ROUNDS,
    Measured,
    Timed,
    executed_kernels,
    executed_op_types,
    measure,
    relative_mad,
    round_view,
)
from archlint.measure.runtime import onnxruntime_version
from archlint.targets.profile import ConvShape, HardwareProfile, OpFigures, Source

ProgressCallback = Callable[[int, int], None]

GEMM_SIZES = (512, 1024)
INT8_GEMM_SIZE = 1024
#: Cache-sized copies (bytes of the input; as much again is written) and a main-memory one.
CACHE_COPIES = tuple(2**k for k in range(17, 25))  # 128 KiB .. 16 MiB
MAIN_MEMORY_COPY = 256 * 2**20
CHAINS = (32, 256)
PEAK_SLICE_SECONDS = 0.3  # per round, for the peaks and main-memory bandwidth


class _Ticks:
    """Progress over every microbenchmark run and probe, the total growing as the plan does."""

    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


@dataclass(frozen=True)
class _Plan:
    """What is timed, in the order its results are read back."""

    classes: Sequence[micro.ClassBench]
    grouped: Sequence[micro.Micro]
    fallback: dict[OpClass, tuple[micro.Micro, ...]]
    small: Sequence[micro.ClassBench] = ()
    op_types: Sequence[kernels.OpTypeBench] = ()
    subnormal: Sequence[micro.Micro] = ()
    engine: Sequence[micro.Micro] = ()  # the shape-chain pair, then the subgraph pair
    narrow_int8: Sequence[micro.Micro] = ()  # integer convs of few input channels

    def timed(self) -> list[Timed]:
        # Every later figure is relative to the peaks and bandwidths: give their fastest run more
        # chances to be a clean one.
        peaks = [micro.gemm(size) for size in GEMM_SIZES] + [micro.gemm_int8(INT8_GEMM_SIZE)]
        machine = [micro.copy(size) for size in CACHE_COPIES] + [micro.tiny_chain(n) for n in CHAINS]
        class_micros = [bench for group in self.classes for bench in group.micros]
        fallback = [bench for benches in self.fallback.values() for bench in benches]
        small = [bench for group in self.small for bench in group.micros]
        op_types = [bench for group in self.op_types for bench in group.micros]
        timed = [Timed(bench, PEAK_SLICE_SECONDS) for bench in [*peaks, micro.copy(MAIN_MEMORY_COPY)]]
        rest = [
            *machine,
            *class_micros,
            *self.grouped,
            *fallback,
            *small,
            *op_types,
            *self.subnormal,
            *self.engine,
            *self.narrow_int8,
        ]
        return timed + [Timed(bench) for bench in rest]

    def read(self, results: Sequence[Measured]) -> _Measurements:
        runs = iter(results)
        gemms = [next(runs) for _ in GEMM_SIZES]
        int8, main = next(runs), next(runs)
        copies = [next(runs) for _ in CACHE_COPIES]
        chains = (next(runs), next(runs))
        classes = {group.op_class: [next(runs) for _ in group.micros] for group in self.classes}
        grouped = [next(runs) for _ in self.grouped]
        fallback = {op_class: [next(runs) for _ in benches] for op_class, benches in self.fallback.items()}
        small = {group.op_class: [next(runs) for _ in group.micros] for group in self.small}
        op_types = {group.op_type: [next(runs) for _ in group.micros] for group in self.op_types}
        sub = [next(runs) for _ in self.subnormal]
        engine_runs = [next(runs) for _ in self.engine]
        narrow_int8 = [next(runs) for _ in self.narrow_int8]
        return _Measurements(
            gemms,
            int8,
            main,
            copies,
            chains,
            classes,
            grouped,
            fallback,
            small,
            op_types,
            sub,
            engine_runs,
            narrow_int8,
        )


def calibrate(name: str, threads: int, progress: ProgressCallback | None = None) -> HardwareProfile:
    host = read_host()
    block, block_reason = host.fp32_block
    pairs = [(p, f) for p, followers in micro.FUSION_CANDIDATES.items() for f in followers]
    probes = _probe_channels(block)
    blocked_candidates = micro.BLOCKED_CANDIDATES if block > 1 else ()
    ticks = _Ticks(progress, len(pairs) + len(probes) + len(blocked_candidates))

    converted = {}
    for channels in probes:
        converted[channels] = "ReorderInput" in executed_op_types(micro.layout_probe(channels), threads)
        ticks()
    multiple = fit.blocked_multiple(block, converted)
    fallback = micro.fallback_benches(micro.fallback_channels(multiple)) if multiple > 1 else {}
    sub_benches = subnormal.benches()
    plan = _Plan(
        micro.class_benches(),
        micro.grouped_benches(),
        fallback,
        kernels.fixed_cost_benches(),
        kernels.op_type_benches(),
        sub_benches,
        (*engine.shape_benches(), *engine.subgraph_benches()),
        kernels.narrow_qlinear_convs(),
    )
    timed = plan.timed()
    ticks.total += len(timed) * ROUNDS
    measured = plan.read(measure(timed, threads, ROUNDS, ticks))

    roofline, cache = _roofline(name, host, block, measured)
    figures = _efficiencies(roofline, measured, multiple)
    efficiency, conv_shape = figures.efficiency, figures.conv_shape
    flushed = subnormal.outputs_flushed(sub_benches[-1])
    penalty = subnormal.penalty(measured.subnormal, flushed)
    shape_pair, subgraph_pair = measured.engine[:2], measured.engine[2:]
    symbolic_kernels, fixed_kernels = (sum(executed_kernels(r.micro, threads).values()) for r in shape_pair)
    shapes = engine.extra(shape_pair, symbolic_kernels - fixed_kernels)
    subgraphs = engine.extra(subgraph_pair, engine.BLOCKS)
    fusion = fit.fusions(
        {pair: _ticked(executed_op_types(micro.fusion_pair(*pair), threads), ticks) for pair in pairs}
    )
    substitutions = fit.fused_kernels(
        {pair: executed_kernels(kernels.kernel_probe(*pair), threads) for pair in kernels.KERNEL_CANDIDATES}
    )
    integer_kernels = fit.quantized_kernels(
        {op: executed_kernels(quantized.group_probe(op), threads) for op in quantized.CANDIDATES}
    )
    weights_at_run = executed_kernels(quantized.weight_probe(), threads)["DequantizeLinear"] > 0
    probed = {
        op: _ticked(executed_kernels(micro.blocked_probe(op), threads), ticks) for op in blocked_candidates
    }
    blocked_ops = fit.blocked_ops(probed)

    sources = _sources(host, threads, measured, efficiency, conv_shape, converted, fusion, cache)
    sources += (_blocked_source(probed, blocked_ops), _fused_kernels_source(substitutions))
    sources += _quantized_sources(integer_kernels, weights_at_run)
    sources += confidence.kernel_sources(
        figures.efficiency,
        figures.class_overhead_s,
        figures.op_types,
        measured.run_base_s,
        spreads(roofline, measured, multiple),
        fitted=set(measured.small),
    )
    sources += (confidence.subnormal_source(penalty, host.cpu, [r.micro.name for r in measured.subnormal]),)
    sources += confidence.engine_sources(measured.run_base_s, shapes, subgraphs)
    return replace(
        roofline,
        efficiency={k: round(v, 3) for k, v in efficiency.items()},
        class_overhead_s=figures.class_overhead_s,
        op_types=figures.op_types,
        subnormal_slowdown=penalty.slowdown,
        run_overhead_s=_round(measured.run_base_s),
        shape_op_overhead_s=_round(shapes.per_run_s),
        subgraph_overhead_s=_round(subgraphs.per_run_s),
        flush_to_zero="always" if penalty.flushed else roofline.flush_to_zero,
        conv_shape=conv_shape,
        fusion=fusion,
        fused_kernels=substitutions,
        quantized_kernels=integer_kernels,
        dequantizes_weights=weights_at_run,
        blocked_ops=blocked_ops,
        description=_description(host, threads),
        layout=f"NCHWc blocks of {block} fp32 channels ({block_reason})" if block > 1 else "",
        sources=sources,
    )


T = TypeVar("T")


def _ticked(result: T, ticks: _Ticks) -> T:
    ticks()
    return result


def _roofline(
    name: str, host: Host, block: int, measured: _Measurements
) -> tuple[HardwareProfile, tuple[float, int] | None]:
    """The profile of peaks, bandwidths, on-chip capacity and dispatch overhead (and the on-chip
    figures it used): what every efficiency is measured against."""
    peak_fp32, peak_int8 = fit.best_rate(measured.gemms), fit.best_rate([measured.int8])
    bandwidth = fit.copy_rate(measured.main)
    cache = fit.on_chip(measured.copies, bandwidth)
    profile = HardwareProfile(
        name=name,
        kind="cpu",
        peak_flops={"fp32": _round(peak_fp32), "int8": _round(max(peak_int8, peak_fp32))},
        memory_bandwidth=_round(bandwidth),
        on_chip_bandwidth=_round(cache[0]) if cache else None,
        on_chip_memory_bytes=cache[1] if cache else None,
        device_memory_bytes=host.memory_bytes,
        channel_alignment={"fp32": block} if block > 1 else {},
        op_overhead_s=_round(fit.dispatch_overhead(*measured.chains)),
        flush_to_zero="optional" if host.is_x86 else None,
    )
    return profile, cache


@dataclass(frozen=True)
class _Figures:
    efficiency: dict[OpClass, float]
    conv_shape: ConvShape
    class_overhead_s: dict[OpClass, float]
    op_types: dict[str, OpFigures]


def _efficiencies(roofline: HardwareProfile, measured: _Measurements, multiple: int) -> _Figures:
    """Convs first: their narrow-channel and narrow-row constants are fitted on the convs' spread;
    then every class's efficiency and fixed cost per kernel, every measured op type's own, and
    last the grouped and fallback factors: what the profile still misses after all of those."""
    conv_runs = [measured.classes[OpClass.CONV], measured.classes[OpClass.DEPTHWISE_CONV], measured.grouped]
    narrow = fit.narrow_shapes(conv_runs, roofline)
    narrow = ConvShape(narrow_channels=_round(narrow.narrow_channels), narrow_rows=_round(narrow.narrow_rows))
    shaped = replace(roofline, conv_shape=narrow)
    tap_s = fit.int8_tap_seconds(
        measured.narrow_int8, measured.op_types.get("QLinearConv", []), shaped, measured.run_base_s
    )
    narrow = replace(narrow, int8_tap_s=_round(tap_s))
    shaped = replace(roofline, conv_shape=narrow)
    classes, op_types = kernel_figures(shaped, measured)
    efficiency: dict[OpClass, float] = {c: k.efficiency for c, k in classes.items() if c is not OpClass.VIEW}
    overheads = {c: _round(k.overhead_s) for c, k in classes.items()}
    own = {
        t: OpFigures(efficiency=k.efficiency, overhead_s=_round(k.overhead_s)) for t, k in op_types.items()
    }
    shaped = replace(shaped, efficiency=efficiency, class_overhead_s=overheads, op_types=own)
    conv_shape = replace(narrow, grouped=round(fit.efficiency(measured.grouped, shaped), 3))
    shaped = replace(shaped, conv_shape=conv_shape)
    if measured.fallback:
        factors = {c: round(fit.efficiency(runs, shaped), 3) for c, runs in measured.fallback.items()}
        conv_shape = replace(conv_shape, fallback_multiple=multiple, fallback=factors)
    return _Figures(efficiency, conv_shape, overheads, own)


def kernel_figures(
    shaped: HardwareProfile, measured: _Measurements
) -> tuple[dict[OpClass, fit.KernelFit], dict[str, fit.KernelFit]]:
    """Per op class and per measured op type: efficiency and fixed cost per kernel."""
    base, dispatch = measured.run_base_s, fit.dispatch_overhead(*measured.chains)
    classes = {
        c: fit.kernel_fit(
            [*measured.classes.get(c, []), *measured.small.get(c, [])],
            shaped,
            base,
            None if c in measured.small else dispatch,  # no small shapes: f is not identified
        )
        for c in sorted({*measured.classes, *measured.small})
    }
    op_types = {t: fit.kernel_fit(runs, shaped, base) for t, runs in measured.op_types.items()}
    return classes, op_types


def spreads(roofline: HardwareProfile, measured: _Measurements, multiple: int) -> dict[str, float]:
    """Each kernel figure refitted on every round alone: its relative MAD over the rounds."""
    shaped = replace(roofline, conv_shape=ConvShape())
    per_round: dict[str, list[float]] = {}
    for index in range(ROUNDS):
        classes, op_types = kernel_figures(shaped, measured.round(index))
        for key, value in [*classes.items(), *op_types.items()]:
            per_round.setdefault(f"{key}.efficiency", []).append(value.efficiency)
            per_round.setdefault(f"{key}.overhead_s", []).append(value.overhead_s)
    return {key: relative_mad(values) for key, values in per_round.items()}


def _blocked_source(probed: dict[str, Counter[str]], blocked_ops: tuple[str, ...]) -> Source:
    if not probed:
        return Source(figure="blocked_ops", source="no blocked conv layout on this CPU: none")
    kept = ", ".join(blocked_ops) or "none"
    return Source(
        figure="blocked_ops",
        source="graphs of Conv -> op -> Conv run once with onnxruntime's profiler: the op keeps the "
        "blocked layout when the engine converted only the graph's input and output (one "
        f"ReorderInput, one ReorderOutput); kept: {kept}; tried: {', '.join(probed)}",
    )


def _fused_kernels_source(substitutions: dict[str, dict[str, str]]) -> Source:
    found = "; ".join(f"{p} -> {f}: {k}" for f, by in substitutions.items() for p, k in by.items())
    tried = ", ".join(f"{p} -> {f}" for p, f in kernels.KERNEL_CANDIDATES)
    return Source(
        figure="fused_kernels",
        source="pairs run once with onnxruntime's profiler (a [1, 16, 128] hidden state): a pair "
        f"that ran as one kernel of another op type; found: {found or 'none'}; tried: {tried}",
    )


def _quantized_sources(integer_kernels: dict[str, str], weights_at_run: bool) -> tuple[Source, ...]:
    found = ", ".join(f"{op}: {kernel}" for op, kernel in integer_kernels.items()) or "none"
    left = ", ".join(op for op in quantized.CANDIDATES if op not in integer_kernels) or "none"
    return (
        Source(
            figure="quantized_kernels",
            source="DequantizeLinear -> op -> QuantizeLinear on a [1, 16, 8, 8] uint8 tensor, run once with "
            "onnxruntime's profiler: the kernel that ran instead of the three (the op itself: on the 8-bit "
            f"tensor); found: {found}; still float between a DequantizeLinear and a QuantizeLinear: {left}",
        ),
        Source(
            figure="dequantizes_weights",
            source="a float Conv reading an int8 weight through a DequantizeLinear, run once with "
            "onnxruntime's profiler: the DequantizeLinear "
            + ("ran as a kernel of its own" if weights_at_run else "did not run (folded at load time)"),
        ),
    )


def _probe_channels(block: int) -> list[int]:
    """Channel counts whose convs show which counts the engine's blocked layout takes."""
    if block <= 1:
        return []
    steps = [1 << k for k in range(block.bit_length()) if 1 << k < block]
    return [2 * block, *(block + step for step in steps)]


@dataclass(frozen=True)
class _Measurements:
    gemms: Sequence[Measured]
    int8: Measured
    main: Measured
    copies: Sequence[Measured]
    chains: tuple[Measured, Measured]
    classes: dict[OpClass, list[Measured]]
    grouped: Sequence[Measured]
    fallback: dict[OpClass, list[Measured]]
    small: dict[OpClass, list[Measured]]
    op_types: dict[str, list[Measured]]
    subnormal: Sequence[Measured]
    engine: Sequence[Measured]
    narrow_int8: Sequence[Measured]

    @property
    def run_base_s(self) -> float:
        """A session.run's own fixed cost: the intercept of the tiny-operator chains' line."""
        short, long = self.chains
        slope = fit.dispatch_overhead(short, long)
        return max(0.0, short.seconds - short.operators * slope)

    def round(self, index: int) -> _Measurements:
        """The kernel measurements as round ``index`` alone measured them."""
        return replace(
            self,
            chains=(round_view([self.chains[0]], index)[0], round_view([self.chains[1]], index)[0]),
            classes={c: round_view(runs, index) for c, runs in self.classes.items()},
            small={c: round_view(runs, index) for c, runs in self.small.items()},
            op_types={t: round_view(runs, index) for t, runs in self.op_types.items()},
        )


def _round(value: float) -> float:
    """Four significant digits: run-to-run noise is larger than that."""
    return float(f"{value:.4g}")


def _description(host: Host, threads: int) -> str:
    version = onnxruntime_version() or "?"
    plural = "s" if threads != 1 else ""
    return (
        f"{host.cpu} ({host.machine}), measured by archlint calibrate with onnxruntime {version}, "
        f"CPU execution provider, {threads} intra-op thread{plural}, sequential execution"
    )


def _rate_note(run: Measured) -> str:
    rate = units.count(run.flops / run.best_seconds)
    return f"{run.micro.name}: {rate}FLOP/s (fastest run {units.seconds(run.best_seconds)})"


def _listed(runs: Sequence[Measured]) -> str:
    return "; ".join(f"{r.micro.name} {units.seconds(r.best_seconds)}" for r in runs)


def _sources(
    host: Host,
    threads: int,
    measured: _Measurements,
    efficiency: dict[OpClass, float],
    conv_shape: ConvShape,
    converted: dict[int, bool],
    fusion: dict[str, tuple[str, ...]],
    cache: tuple[float, int] | None,
) -> tuple[Source, ...]:
    how = f"wall-clock of onnxruntime session.run, {threads} thread(s), {ROUNDS} interleaved rounds"
    chains, main = measured.chains, measured.main
    notes = [
        Source(
            figure="peak_flops.fp32", source=f"best of {'; '.join(map(_rate_note, measured.gemms))} ({how})"
        ),
        Source(
            figure="peak_flops.int8", source=f"{_rate_note(measured.int8)} ({how}); never below fp32's rate"
        ),
        Source(
            figure="memory_bandwidth",
            source=f"{main.micro.name} (Identity, optimizations off): "
            f"{units.count(fit.copy_rate(main))}B/s read+written ({how})",
        ),
        Source(
            figure="op_overhead_s",
            source=f"slope between chains of {chains[0].operators} and {chains[1].operators} Relus on 16 "
            f"floats: {units.seconds(chains[0].seconds)} and {units.seconds(chains[1].seconds)} ({how})",
        ),
    ]
    rates = ", ".join(
        f"{units.size(fit.copy_bytes(c))} {units.count(fit.copy_rate(c))}B/s" for c in measured.copies
    )
    on_chip = (
        f"best copy rate; capacity: largest working set at or above the geometric mean of it and "
        f"main memory. Copies (working set, rate): {rates}"
        if cache
        else f"no cache-sized copy beat main memory by 10%: {rates}"
    )
    notes.append(Source(figure="on_chip_bandwidth, on_chip_memory_bytes", source=on_chip))
    notes += [
        Source(
            figure="conv_shape.narrow_channels, conv_shape.narrow_rows",
            source=f"{conv_shape.narrow_channels:.3g} channels, {conv_shape.narrow_rows:.3g} output "
            "positions: of the pairs of constants tried, the smallest within 5% of the least scatter "
            "of the runs of efficiency.conv, efficiency.depthwise_conv and conv_shape.grouped "
            "(squared log ratio) around their own figures",
        ),
        Source(
            figure="conv_shape.int8_tap_s",
            source=f"{units.seconds(conv_shape.int8_tap_s)} per output position and tap: of the figures "
            "tried, the smallest within 5% of the least scatter (squared log ratio of predicted to "
            "measured time, QLinearConv's efficiency and fixed cost fitted on its wide chains for each) "
            f"of the narrow QLinearConvs: {_listed(measured.narrow_int8)}",
        ),
        Source(
            figure="conv_shape.grouped",
            source=f"{conv_shape.grouped:.3f} = predicted (all conv figures above) over fastest-run time of: "
            f"{_listed(measured.grouped)}",
        ),
    ]
    probes = ", ".join(f"{c}ch {'blocked' if v else 'plain'}" for c, v in converted.items()) or "none"
    layout = f"convs that onnxruntime put in its blocked layout (it adds ReorderInput): {probes}"
    for op_class, runs in measured.fallback.items():
        layout += (
            f"; fallback.{op_class} {conv_shape.fallback[op_class]:.3f} = predicted over fastest-run "
            f"time of: {_listed(runs)}"
        )
    notes.append(Source(figure="conv_shape.fallback_multiple, conv_shape.fallback", source=layout))
    fused = "; ".join(f"{p}: {', '.join(f)}" for p, f in fusion.items()) or "none"
    notes.append(
        Source(
            figure="fusion",
            source="a follower fuses when onnxruntime's profiler shows no kernel of its op type in a "
            f"graph of producer -> follower; observed: {fused}; tried: "
            + "; ".join(f"{p}: {', '.join(f)}" for p, f in micro.FUSION_CANDIDATES.items()),
        )
    )
    block, reason = host.fp32_block
    notes.append(Source(figure="channel_alignment", source=f"CPU reports {reason}: {block} fp32 lanes"))
    if host.memory_bytes:
        notes.append(Source(figure="device_memory_bytes", source="physical memory reported by the OS"))
    return tuple(notes)
