"""``archlint calibrate``: measure this machine with onnxruntime and write a hardware profile.

The order matters: peaks, bandwidths and dispatch overhead first, then the per-class
efficiencies, which are the measured time set against a roofline built from those figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from archlint.calibration import fit, micro
from archlint.calibration.host import Host, read_host
from archlint.calibration.measure import MIN_SECONDS, Measured, executed_op_types, measure
from archlint.costs.record import OpClass
from archlint.profiles import HardwareProfile, Source
from archlint.report import units
from archlint.runtime import onnxruntime_version

ProgressCallback = Callable[[int, int], None]

GEMM_SIZES = (512, 1024)
INT8_GEMM_SIZE = 1024
#: Cache-sized copies (bytes of the input; as much again is written) and a main-memory one.
CACHE_COPIES = tuple(2**k for k in range(17, 25))  # 128 KiB .. 16 MiB
MAIN_MEMORY_COPY = 256 * 2**20
CHAINS = (32, 256)
PEAK_SECONDS = 1.5


class _Runner:
    """Measures microbenchmarks one by one and reports progress."""

    def __init__(self, threads: int, total: int, progress: ProgressCallback | None) -> None:
        self.threads = threads
        self.total = total
        self.done = 0
        self.progress = progress

    def __call__(self, bench: micro.Micro, min_seconds: float = MIN_SECONDS) -> Measured:
        result = measure(bench, self.threads, min_seconds=min_seconds)
        self._tick()
        return result

    def observe(self, bench: micro.Micro) -> frozenset[str]:
        """The op types of the kernels a run of ``bench`` executed."""
        op_types = executed_op_types(bench, self.threads)
        self._tick()
        return op_types

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def all(self, benches: Sequence[micro.Micro]) -> list[Measured]:
        return [self(bench) for bench in benches]


def calibrate(name: str, threads: int, progress: ProgressCallback | None = None) -> HardwareProfile:
    host = read_host()
    classes = micro.class_benches()
    pairs = [(p, f) for p, followers in micro.FUSION_CANDIDATES.items() for f in followers]
    total = (
        len(GEMM_SIZES) + 1 + len(CACHE_COPIES) + 1 + len(CHAINS)
        + sum(len(c.micros) for c in classes) + len(pairs)
    )  # fmt: skip
    run = _Runner(threads, total, progress)

    # Every later figure is relative to the peaks and bandwidths: give their fastest run more
    # chances to be a clean one.
    gemms = [run(micro.gemm(size), PEAK_SECONDS) for size in GEMM_SIZES]
    int8 = run(micro.gemm_int8(INT8_GEMM_SIZE), PEAK_SECONDS)
    main = run(micro.copy(MAIN_MEMORY_COPY), PEAK_SECONDS)
    copies = run.all([micro.copy(size) for size in CACHE_COPIES])
    short, long = run.all([micro.tiny_chain(n) for n in CHAINS])

    peak_fp32, peak_int8 = fit.best_rate(gemms), fit.best_rate([int8])
    bandwidth = fit.copy_rate(main)
    cache = fit.on_chip(copies, bandwidth)
    overhead = fit.dispatch_overhead(short, long)
    block, block_reason = host.fp32_block
    roofline = HardwareProfile(
        name=name,
        kind="cpu",
        peak_flops={"fp32": _round(peak_fp32), "int8": _round(max(peak_int8, peak_fp32))},
        memory_bandwidth=_round(bandwidth),
        on_chip_bandwidth=_round(cache[0]) if cache else None,
        on_chip_memory_bytes=cache[1] if cache else None,
        device_memory_bytes=host.memory_bytes,
        channel_alignment={"fp32": block} if block > 1 else {},
        op_overhead_s=_round(overhead),
        flush_to_zero="optional" if host.is_x86 else None,
    )

    class_runs = {bench.op_class: run.all(bench.micros) for bench in classes}
    efficiency = {op_class: fit.efficiency(runs, roofline) for op_class, runs in class_runs.items()}

    fusion = fit.fusions({pair: run.observe(micro.fusion_pair(*pair)) for pair in pairs})

    sources = _sources(
        host, threads, gemms, int8, main, copies, (short, long), class_runs, efficiency, fusion, cache
    )
    return roofline.model_copy(
        update={
            "efficiency": {k: round(v, 3) for k, v in efficiency.items()},
            "fusion": fusion,
            "description": _description(host, threads),
            "layout": f"NCHWc blocks of {block} fp32 channels ({block_reason})" if block > 1 else "",
            "sources": sources,
        }
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


def _sources(
    host: Host,
    threads: int,
    gemms: Sequence[Measured],
    int8: Measured,
    main: Measured,
    copies: Sequence[Measured],
    chains: tuple[Measured, Measured],
    class_runs: dict[OpClass, list[Measured]],
    efficiency: dict[OpClass, float],
    fusion: dict[str, tuple[str, ...]],
    cache: tuple[float, int] | None,
) -> tuple[Source, ...]:
    how = f"wall-clock of onnxruntime session.run, {threads} thread(s)"
    notes = [
        Source(figure="peak_flops.fp32", source=f"best of {'; '.join(map(_rate_note, gemms))} ({how})"),
        Source(figure="peak_flops.int8", source=f"{_rate_note(int8)} ({how}); never below fp32's rate"),
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
    rates = ", ".join(f"{units.size(fit.copy_bytes(c))} {units.count(fit.copy_rate(c))}B/s" for c in copies)
    on_chip = (
        f"best copy rate; capacity: largest working set at or above the geometric mean of it and "
        f"main memory. Copies (working set, rate): {rates}"
        if cache
        else f"no cache-sized copy beat main memory by 10%: {rates}"
    )
    notes.append(Source(figure="on_chip_bandwidth, on_chip_memory_bytes", source=on_chip))
    for op_class, runs in class_runs.items():
        listed = "; ".join(f"{r.micro.name} {units.seconds(r.best_seconds)}" for r in runs)
        notes.append(
            Source(
                figure=f"efficiency.{op_class}",
                source=f"{efficiency[op_class]:.3f} = summed roofline time (at efficiency 1, less dispatch) "
                f"over summed fastest-run time, less dispatch, of: {listed}",
            )
        )
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
