"""``--format full`` (the default): findings grouped by rule, the fix and its saving, then a
summary per target and, with several targets, which findings hold on which."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import replace

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archlint import units
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.savings import combined_saving
from archlint.report.base import CheckReport, Reporter
from archlint.report.concise import where

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class FullReporter(Reporter):
    name = "full"
    description = "findings grouped by rule, with numbers, fixes and a per-target summary"

    def render(self, report: CheckReport) -> str:
        buffer = io.StringIO()
        console = Console(
            file=buffer, force_terminal=self.color, no_color=not self.color, width=self.width or 100
        )
        by_rule: dict[str, list[Diagnostic]] = defaultdict(list)
        for d in report.diagnostics:
            by_rule[d.code].append(d)
        for code, group in sorted(by_rule.items()):
            plural = "s" if len(group) > 1 else ""
            console.print(f"[bold]{code} {group[0].name}[/] · {len(group)} finding{plural}")
            for d in group:
                _print_finding(console, d)
            console.print()
        console.print(_summary(report))
        if len(report.targets) > 1 and report.diagnostics:
            console.print(_comparison(report))
        if not report.diagnostics:
            console.print("[green]No findings.[/]")
        return buffer.getvalue()


def _print_finding(console: Console, d: Diagnostic) -> None:
    style = SEVERITY_STYLE[d.severity]
    console.print(
        f"  [{style}]{d.severity.value}[/] {escape(f'[{d.target}]')} {escape(where(d))}", highlight=False
    )
    console.print(f"    {escape(d.message)}", highlight=False)
    saving = f" [green](saves {units.seconds(d.saving_s)} on {escape(d.target)})[/]" if d.saving_s > 0 else ""
    console.print(f"    [dim]fix:[/] {escape(d.fix)}{saving}", highlight=False)
    if d.repeats:
        places = ", ".join(escape(where(replace(d, node=p.node, location=p.location))) for p in d.repeats)
        console.print(f"    [dim]also at:[/] {places}", highlight=False)


def _summary(report: CheckReport) -> Table:
    table = Table(title="Summary per target", title_justify="left")
    for column in ("target", "errors", "warnings", "info", "latency", "after fixes", "savings"):
        table.add_column(column, justify="left" if column == "target" else "right")
    latency = _latency_by_target(report)
    for target in report.targets:
        found = [d for d in report.diagnostics if d.target == target]
        counts = [
            sum(1 for d in found if d.severity is s)
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        ]
        saving = combined_saving(found)
        table.add_row(
            target,
            *map(str, counts),
            units.seconds(latency.get(target, 0.0)),
            units.seconds(max(0.0, latency.get(target, 0.0) - saving)),
            units.seconds(saving),
        )
    return table


def _latency_by_target(report: CheckReport) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for analysis in report.analyses:
        for prediction in analysis.predictions:
            totals[prediction.profile.name] += prediction.latency_s
    return totals


def _comparison(report: CheckReport) -> Table:
    table = Table(title="Which findings hold on which target", title_justify="left")
    table.add_column("finding")
    for target in report.targets:
        table.add_column(target, justify="center")
    held: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in report.diagnostics:
        held[(d.code, where(d))].add(d.target)
    for (code, place), targets in sorted(held.items()):
        table.add_row(f"{code} {place}", *("✓" if t in targets else "·" for t in report.targets))
    return table
