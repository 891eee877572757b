"""The sources text of the kernel figures and the subnormal penalty, with each figure's spread.

A figure's confidence is its spread between repeats: every kernel figure is fitted again on each
round's timings alone, and the source gives the median absolute deviation of those refits over
their median (MAD%). A figure whose MAD is large was not identified by the microbenchmarks (a
fixed cost hidden under a long kernel, say) and moves between calibrations by about that much.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from archlint import units
from archlint.analysis.costs.record import OpClass
from archlint.measure.calibration.engine import Extra
from archlint.measure.calibration.measure import ROUNDS
from archlint.measure.calibration.subnormal import Penalty
from archlint.targets.profile import OpFigures, Source

HOW = (
    "efficiency e and fixed cost per kernel f fitted together (bounded least squares on relative "
    "error) so that roofline time / e + kernels x f matches the measured time, less the run's own "
    "fixed cost, of large and of small-shape chains (f fixed where only large shapes were measured)"
)


def _mad(spreads: Mapping[str, float], key: str) -> str:
    return f"MAD {spreads[key]:.0%}" if key in spreads else "MAD not measured"


def kernel_sources(
    efficiency: Mapping[OpClass, float],
    class_overhead_s: Mapping[OpClass, float],
    op_types: Mapping[str, OpFigures],
    run_base_s: float,
    spreads: Mapping[str, float],
    fitted: Collection[OpClass],
) -> tuple[Source, ...]:
    """``fitted``: the classes whose fixed cost was fitted (the others keep op_overhead_s)."""
    notes = []
    for op_class, overhead in class_overhead_s.items():
        mad = _mad(spreads, f"{op_class}.overhead_s") if op_class in fitted else "fixed at op_overhead_s"
        parts = [f"f {units.seconds(overhead)} ({mad})"]
        if op_class in efficiency:
            eff = efficiency[op_class]
            parts.insert(0, f"e {eff:.3f} ({_mad(spreads, f'{op_class}.efficiency')})")
        notes.append(
            Source(
                figure=f"efficiency.{op_class}, class_overhead_s.{op_class}",
                source=f"{', '.join(parts)}: {HOW} of the class",
            )
        )
    for op_type, own in op_types.items():
        notes.append(
            Source(
                figure=f"op_types.{op_type}",
                source=f"e {own.efficiency or 1.0:.3f} ({_mad(spreads, f'{op_type}.efficiency')}), "
                f"f {units.seconds(own.overhead_s or 0.0)} ({_mad(spreads, f'{op_type}.overhead_s')}): "
                f"{HOW} of {op_type} alone",
            )
        )
    notes.append(
        Source(
            figure="confidence",
            source=f"MAD: median absolute deviation over the median of the figure refitted on each of "
            f"{ROUNDS} rounds alone; the run's own fixed cost ({units.seconds(run_base_s)}, the "
            "intercept of the tiny-operator chains) is left out of every kernel's time",
        )
    )
    return tuple(notes)


def subnormal_source(penalty: Penalty, cpu: str, benches: Sequence[str]) -> Source:
    flushed = (
        "the outputs of subnormal products came back as zeros: the engine or CPU flushes"
        if penalty.flushed
        else "subnormal products came back as subnormals: nothing flushed them"
    )
    return Source(
        figure="subnormal_slowdown, flush_to_zero",
        source=f"measured on {cpu} by archlint calibrate: subnormal over normal weights, conv "
        f"{penalty.conv:.2f}x, GEMM {penalty.gemm:.2f}x (per-round ratio MAD {penalty.spread:.0%}); "
        f"figure: the larger, 1 within the noise (5%, or 3 MADs); {flushed}; onnxruntime default "
        f"session settings; microbenchmarks: {'; '.join(benches)}",
    )


def engine_sources(run_base_s: float, shapes: Extra, subgraphs: Extra) -> tuple[Source, ...]:
    return (
        Source(
            figure="run_overhead_s",
            source=f"measured by archlint calibrate: the intercept of the tiny-operator chains' time "
            f"against their length, {units.seconds(run_base_s)}: a session.run's own fixed cost",
        ),
        Source(
            figure="shape_op_overhead_s",
            source=f"measured by archlint calibrate: {shapes.benches}; onnxruntime folds the shape "
            f"operators only with fixed dims: {units.seconds(shapes.seconds)} apart per inference "
            f"over the {shapes.runs} kernels the symbolic file runs beyond the fixed one in "
            f"onnxruntime's profiler (per-round difference MAD {shapes.spread:.0%})",
        ),
        Source(
            figure="subgraph_overhead_s",
            source=f"measured by archlint calibrate: {subgraphs.benches}: "
            f"{units.seconds(subgraphs.seconds)} apart per inference over {subgraphs.runs} If runs "
            f"(per-round difference MAD {subgraphs.spread:.0%})",
        ),
    )
