"""``archlint profile --format table``: measured against predicted, per operator, op type, finding."""

from __future__ import annotations

import math
from collections import Counter

from rich.console import Console
from rich.table import Table

from archlint import units
from archlint.measure.profile_result import NodeProfile, ProfileResult

# Operators below this share of the measured kernel time are too small for their ratio to matter.
MEANINGFUL_SHARE = 0.01
WORST = 5


def render(result: ProfileResult, console: Console, top: int = 15) -> None:
    settings = result.settings
    threads = f"{settings.threads} thread{'s' if settings.threads != 1 else ''}"
    console.print(
        f"[bold]{result.model}[/]  onnxruntime {result.runtime_version} CPU, {threads}, "
        f"optimization {settings.optimization}, {result.runs} runs after {settings.warmup} warm-up; "
        f"predicted on [bold]{result.target}[/]"
    )
    console.print()
    console.print(_totals(result))
    console.print(_top_operators(result, top))
    worst = _worst_predicted(result)
    if worst.row_count:
        console.print(worst)
    console.print(_by_op_type(result))
    _findings(result, console, top)


def _ratio(value: float | None) -> str:
    """predicted / measured: green within 2x of the measurement, yellow within 4x, red beyond."""
    if value is None:
        return "-"
    off = _error(value)
    style = "green" if off <= math.log(2) else "yellow" if off <= math.log(4) else "red"
    return f"[{style}]{value:.2f}x[/]"


def _totals(result: ProfileResult) -> Table:
    totals = result.totals
    table = Table(title="Totals", title_justify="left", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    statuses = Counter(n.status for n in result.nodes)
    removed = sum(1 for n in result.nodes if n.status == "fused" and n.fused_into is None)
    low, high = units.seconds(totals.measured_latency_min_s), units.seconds(totals.measured_latency_max_s)
    rows = [
        (
            "measured latency (median of session.run)",
            f"{units.seconds(totals.measured_latency_s)} (min {low}, max {high})",
        ),
        (
            "measured kernel time (sum over operators)",
            f"{units.seconds(totals.measured_kernel_sum_s)} "
            f"({units.percent(totals.measured_kernel_sum_s, totals.measured_latency_s)} of latency)",
        ),
        (f"predicted latency on {result.target}", units.seconds(totals.predicted_latency_s)),
        ("predicted / measured", _ratio(totals.ratio)),
        (
            "model nodes",
            f"{statuses['measured']} with a kernel, {statuses['fused'] - removed} fused into another, "
            f"{removed} removed; {statuses['engine-created']} engine-created kernels",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _operator_table(title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("operator", overflow="fold")
    table.add_column("op type (kernel)", overflow="fold")
    for column in ("measured", "share", "predicted", "ratio", "fused"):
        table.add_column(column, justify="right", no_wrap=True)
    return table


def _add_operator(table: Table, result: ProfileResult, node: NodeProfile, fused_in: Counter[str]) -> None:
    predicted = node.group_predicted_s if node.status == "measured" else node.predicted_s
    if node.status == "engine-created":
        op_type = f"{node.op_type} [dim](engine-created)[/]"
    elif node.kernel and node.kernel != node.op_type:
        op_type = f"{node.op_type} [dim]({node.kernel})[/]"
    else:
        op_type = node.op_type
    table.add_row(
        node.name,
        op_type,
        units.seconds(node.measured_s),
        f"{100 * result.share(node.measured_s):.1f}%",
        "-" if predicted is None else units.seconds(predicted),
        _ratio(node.ratio),
        f"+{fused_in[node.name]}" if fused_in[node.name] else "",
    )


def _fused_counts(result: ProfileResult) -> Counter[str]:
    return Counter(n.fused_into for n in result.nodes if n.status == "fused" and n.fused_into)


def _top_operators(result: ProfileResult, top: int) -> Table:
    table = _operator_table(f"Top {top} operators by measured time")
    fused_in = _fused_counts(result)
    timed = [n for n in result.nodes if n.status != "fused"]
    for node in sorted(timed, key=lambda n: n.measured_s, reverse=True)[:top]:
        _add_operator(table, result, node, fused_in)
    return table


def _worst_predicted(result: ProfileResult) -> Table:
    """Largest |log(predicted / measured)| among operators that take a meaningful share."""
    table = _operator_table(
        f"Worst predicted (operators with at least {MEANINGFUL_SHARE:.0%} of the measured time)"
    )
    fused_in = _fused_counts(result)
    candidates = [
        n for n in result.nodes if n.ratio is not None and result.share(n.measured_s) >= MEANINGFUL_SHARE
    ]
    for node in sorted(candidates, key=lambda n: _error(n.ratio), reverse=True)[:WORST]:
        _add_operator(table, result, node, fused_in)
    return table


def _error(value: float | None) -> float:
    """|log(predicted / measured)|: a prediction of nothing (a view the engine copies) is the worst."""
    return abs(math.log(value)) if value else math.inf


def _by_op_type(result: ProfileResult) -> Table:
    table = Table(
        title="By op type (a fused node's time is in the op type of the kernel it runs in)",
        title_justify="left",
    )
    for column in ("op type", "count", "measured", "share", "predicted", "ratio"):
        table.add_column(column, justify="left" if column == "op type" else "right")
    for row in result.by_op_type:
        table.add_row(
            row.op_type,
            str(row.count),
            units.seconds(row.measured_s),
            f"{100 * result.share(row.measured_s):.1f}%",
            "-" if row.predicted_s is None else units.seconds(row.predicted_s),
            _ratio(row.ratio),
        )
    return table


def _findings(result: ProfileResult, console: Console, top: int) -> None:
    if not result.findings:
        console.print(f"No findings on {result.target}.")
        return
    kernels = {n.name for n in result.nodes if n.status == "measured"}
    timed = [f for f in result.findings if f.nodes and any(n in kernels for n in f.nodes)]
    fused = [f for f in result.findings if f.nodes and f not in timed]
    if timed:
        table = Table(title="Findings by measured time", title_justify="left")
        table.add_column("code", no_wrap=True)
        table.add_column("node")
        table.add_column("measured", justify="right", no_wrap=True)
        table.add_column("share", justify="right", no_wrap=True)
        table.add_column("message", ratio=1)  # takes the width the others leave
        for finding in timed[:top]:
            table.add_row(
                finding.diagnostic.code,
                ", ".join(finding.nodes),
                units.seconds(finding.measured_s or 0.0),
                f"{100 * (finding.share or 0.0):.1f}%",
                finding.diagnostic.message,
            )
        console.print(table)
        if len(timed) > top:
            console.print(f"... and {len(timed) - top} more findings on measured operators")
    if fused:
        # Their cost, if any, is inside the kernel they were fused into: listed once, not ranked.
        counts = Counter(f.diagnostic.code for f in fused)
        listing = ", ".join(f"{code} x{count}" for code, count in sorted(counts.items()))
        console.print(
            f"{len(fused)} findings on nodes onnxruntime fused or removed (no kernel of their own): {listing}"
        )
    for finding in result.findings:
        if not finding.nodes:
            console.print(f"[cyan]whole model[/] {finding.diagnostic.code} {finding.diagnostic.message}")
