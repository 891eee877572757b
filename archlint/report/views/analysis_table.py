"""``archlint analyze --format table``: top operators, per-op-type summary, totals (rich)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from archlint import units
from archlint.analysis.analysis import Analysis
from archlint.analysis.model_cost import ModelCost
from archlint.analysis.roofline import NodeTime, Prediction
from archlint.analysis.throughput import Throughput

_BOUND_STYLE = {"compute": "green", "memory": "yellow", "overhead": "magenta", "fused": "dim"}


def render(
    analysis: Analysis, console: Console, top: int = 15, throughputs: Sequence[Throughput] = ()
) -> None:
    """``throughputs``, when given, holds one per target, in the order of the predictions."""
    cost = analysis.cost
    console.print(
        f"[bold]{cost.model.path}[/]  opset {cost.model.opset}, {len(cost.nodes)} operators "
        f"({cost.folded_nodes} folded constants)"
    )
    for index, prediction in enumerate(analysis.predictions):
        throughput = throughputs[index] if index < len(throughputs) else None
        console.print()
        console.print(_top_operators(prediction, top))
        console.print(_by_op_type(prediction))
        console.print(_totals(analysis, prediction, throughput))
        if throughput is not None and throughput.curve:
            console.print(_curve(throughput))
    if not analysis.predictions:
        console.print(_totals(analysis, None))
    for unknown in cost.unknown_ops:
        console.print(f"[red]unknown op[/] {unknown.name} ({unknown.op_type}): {unknown.reason}")
    for note in cost.notes:
        console.print(f"[cyan]note[/] {note}")


def _title(prediction: Prediction, what: str) -> str:
    profile = prediction.profile
    return f"{what} on [bold]{profile.name}[/] (ridge point {profile.ridge_point:.1f} FLOP/B fp32)"


def _top_operators(prediction: Prediction, top: int) -> Table:
    table = Table(title=_title(prediction, f"Top {top} operators by predicted time"), title_justify="left")
    for column in ("operator", "op type", "FLOPs", "bytes", "FLOP/B", "time", "share", "bound"):
        table.add_column(column, justify="left" if column in ("operator", "op type", "bound") else "right")
    ranked = sorted(prediction.nodes, key=lambda t: t.time_s, reverse=True)[:top]
    for timed in ranked:
        cost = timed.cost
        table.add_row(
            cost.name,
            cost.op_type,
            units.count(cost.flops),
            units.size(cost.bytes),
            f"{cost.intensity:.1f}",
            units.seconds(timed.time_s),
            units.percent(timed.time_s, prediction.latency_s),
            _bound(timed),
        )
    return table


def _bound(timed: NodeTime) -> str:
    return f"[{_BOUND_STYLE[timed.bound]}]{timed.bound}[/]"


def _by_op_type(prediction: Prediction) -> Table:
    groups: dict[str, list[NodeTime]] = defaultdict(list)
    for timed in prediction.nodes:
        groups[timed.cost.op_type].append(timed)
    table = Table(title=_title(prediction, "By op type"), title_justify="left")
    for column in ("op type", "count", "FLOPs", "bytes", "time", "share", "mostly"):
        table.add_column(column, justify="left" if column in ("op type", "mostly") else "right")
    ordered = sorted(groups.items(), key=lambda item: -sum(t.time_s for t in item[1]))
    for op_type, members in ordered:
        time_s = sum(t.time_s for t in members)
        bounds: dict[str, float] = defaultdict(float)
        for t in members:
            bounds[t.bound] += t.time_s
        table.add_row(
            op_type,
            str(len(members)),
            units.count(sum(t.cost.flops for t in members)),
            units.size(sum(t.cost.bytes for t in members)),
            units.seconds(time_s),
            units.percent(time_s, prediction.latency_s),
            max(bounds, key=bounds.__getitem__),
        )
    return table


def _latency(prediction: Prediction) -> str:
    if prediction.latency_min_s < prediction.latency_s:
        return f"{units.seconds(prediction.latency_min_s)} to {units.seconds(prediction.latency_s)}"
    return units.seconds(prediction.latency_s)


def _totals(analysis: Analysis, prediction: Prediction | None, throughput: Throughput | None = None) -> Table:
    cost = analysis.cost
    table = Table(
        title="Totals" + (f" on [bold]{prediction.profile.name}[/]" if prediction else ""),
        title_justify="left",
        show_header=False,
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    costed = f"{len(cost.nodes)} of {cost.operator_count}"
    rows = [
        ("operators costed", costed if cost.complete else f"[red]{costed}: totals are lower bounds[/]"),
        ("FLOPs (MACs)", f"{units.count(cost.flops)} ({units.count(cost.flops / 2)})"),
        ("parameters", units.count(cost.params)),
        ("weights", units.size(cost.weight_bytes)),
        ("bytes moved", units.size(cost.bytes)),
        ("activations written", units.size(cost.activation_bytes)),
        ("peak memory (weights + live activations)", units.size(cost.peak_memory_bytes)),
    ]
    low, high = cost.flops_range
    if low != high:
        rows.insert(2, ("FLOPs, by the branches If takes", f"{units.count(low)} to {units.count(high)}"))
    if prediction is not None:
        batch = f", batch {throughput.given.batch}" if throughput else ""
        rows.append((f"predicted latency{batch}", _latency(prediction)))
        if prediction.engine_s > 0:
            rows.append(("of which outside the operators", _engine_parts(prediction, cost)))
    if throughput is not None:
        rows += _throughput_rows(throughput)
    for row in rows:
        table.add_row(*row)
    return table


def _engine_parts(prediction: Prediction, cost: ModelCost) -> str:
    parts = [
        (prediction.run_s, "the call"),
        (prediction.shape_s, f"{len(cost.symbolic_shape_nodes)} shape operators on symbolic dims"),
        (prediction.subgraph_s, f"{cost.subgraph_runs} subgraph runs"),
    ]
    return "; ".join(f"{units.seconds(s)} {what}" for s, what in parts if s > 0)


def _samples(rate: float) -> str:
    return f"{rate:,.1f} samples/s"


def _throughput_rows(throughput: Throughput) -> list[tuple[str, str]]:
    given, saturated = throughput.given, throughput.saturated
    memory = throughput.profile.device_memory_bytes
    if not given.fits and memory is not None:
        at = f"[red]does not fit the {units.size(memory)} of device memory at batch {given.batch}[/]"
        rows = [(f"throughput, batch {given.batch}", at)]
    else:
        rows = [(f"throughput, batch {given.batch}", _samples(given.samples_per_s))]
    if saturated is not None and memory is not None:
        where = f"at batch {saturated.batch}"
        if saturated.batch == throughput.largest_batch:
            where += f", the largest that fits {units.size(memory)}"
        rows.append(("throughput, device full", f"{_samples(saturated.samples_per_s)} {where}"))
    if throughput.note:
        rows.append(
            ("throughput, device full" if saturated is None else "note", f"[yellow]{throughput.note}[/]")
        )
    return rows


def _curve(throughput: Throughput) -> Table:
    profile = throughput.profile
    memory = f" ({units.size(profile.device_memory_bytes)})" if profile.device_memory_bytes else ""
    table = Table(title=f"Throughput by batch on [bold]{profile.name}[/]{memory}", title_justify="left")
    for column in ("batch", "latency", "samples/s", "memory", "fits"):
        table.add_column(column, justify="right")
    for point in throughput.curve:
        fits = "-" if profile.device_memory_bytes is None else "yes" if point.fits else "[red]no[/]"
        table.add_row(
            str(point.batch),
            units.seconds(point.latency_s),
            f"{point.samples_per_s:,.1f}",
            units.size(point.memory_bytes),
            fits,
        )
    return table
