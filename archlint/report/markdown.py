"""``--format markdown``: a pull-request comment.

A headline with the counts, a table per target (findings by severity and what the fixes save),
the predicted latency of every model on every target, one table row per finding, and the
documentation of every rule that fired folded under ``<details>``. Rows are sorted (by rule, then
node in graph order, then target in the order given), so the same findings always give the same
comment and a bot that edits its comment in place shows a diff only when the findings change.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

from archlint import units
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.savings import combined_saving
from archlint.report.base import CheckReport, Reporter
from archlint.report.concise import where

# ASCII punctuation that GitHub-flavoured markdown would read as formatting, HTML or a cell break.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)


def text(value: str) -> str:
    """Plain text safe inside a table cell: formatting escaped, line breaks as ``<br>``."""
    return _SPECIAL.sub(r"\\\1", value.replace("\r", "")).replace("\n", "<br>")


def code(value: str) -> str:
    """An identifier as a code span; a name holding a backtick cannot be one and is escaped."""
    if "`" in value:
        return text(value)
    return "`" + value.replace("\n", " ").replace("|", "\\|") + "`"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 or word == 'info' else 's'}"


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Rule docs use ``##`` sections; under a comment's ``###`` they must sit lower. Code blocks
    (whose ``#`` lines are comments) are left alone."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


class MarkdownReporter(Reporter):
    name = "markdown"
    description = "a pull-request comment: summary per target, findings table, rule details"

    #: GitHub refuses a comment body longer than this many characters.
    limit: ClassVar[int] = 65_536

    def render(self, report: CheckReport) -> str:
        findings = sorted(report.diagnostics, key=_order(report))
        summary = [headline(report), per_target(report)]
        if report.analyses:
            summary.append(_latency(report))
        if not findings:
            return "\n\n".join(summary) + "\n"
        several = len(report.analyses) > 1
        comment = "\n\n".join([*summary, findings_section(findings, several), _rule_details(report)]) + "\n"
        # Too long for one comment: the rule documentation goes first (it is one click away with
        # `archlint rule CODE`), then rows from the end of the table, a quarter at a time.
        shown = len(findings)
        while len(comment) > self.limit and shown > 0:
            comment = (
                "\n\n".join([*summary, findings_section(findings[:shown], several, len(findings))]) + "\n"
            )
            shown = shown * 3 // 4
        return comment


def _order(report: CheckReport) -> Callable[[Diagnostic], tuple[str, int, int, str]]:
    """By rule, then by where the engine first reported the place (graph order, not the
    alphabetical order that puts conv_10 before conv_2), then by target in the order given."""
    first_seen: dict[tuple[str, str | None, int], int] = {}
    for d in report.diagnostics:
        first_seen.setdefault(_place(d), len(first_seen))
    position = {target: i for i, target in enumerate(report.targets)}

    def key(d: Diagnostic) -> tuple[str, int, int, str]:
        return (d.code, first_seen[_place(d)], position.get(d.target, len(position)), d.message)

    return key


def _place(d: Diagnostic) -> tuple[str, str | None, int]:
    return (d.path, d.node, d.location.line if d.location else 0)


def headline(report: CheckReport) -> str:
    n = len(report.diagnostics)
    title = f"## archlint: {plural(n, 'finding')}" if n else "## archlint: no findings"
    counts = Counter(d.severity for d in report.diagnostics)
    found = ", ".join(plural(counts[s], s.value) for s in _SEVERITIES if counts[s])
    models = plural(
        len({a.model.path for a in report.analyses} | {d.path for d in report.diagnostics}), "model"
    )
    targets = ", ".join(code(t) for t in report.targets)
    line = f"{found + ' in ' if found else ''}{models} on {plural(len(report.targets), 'target')} ({targets})"
    failing = len(report.failing)
    verdict = f"{failing} at or above the fail level ({report.fail_level.value})" if failing else "passing"
    return f"{title}\n\n{line}: {verdict}."


def md_table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def per_target(report: CheckReport) -> str:
    rows = []
    for target in report.targets:
        found = [d for d in report.diagnostics if d.target == target]
        counts = Counter(d.severity for d in found)
        saving = combined_saving(found)
        rows.append([code(target), *(str(counts[s]) for s in _SEVERITIES), units.seconds(saving)])
    header = ["target", "errors", "warnings", "info", "fixes save"]
    return md_table(header, ["---", "---:", "---:", "---:", "---:"], rows)


def _latency(report: CheckReport) -> str:
    rows = []
    for analysis in report.analyses:
        by_target = {p.profile.name: p.latency_s for p in analysis.predictions}
        cells = [units.seconds(by_target[t]) if t in by_target else "—" for t in report.targets]
        rows.append([code(analysis.model.path), *cells])
    header = ["predicted latency, batch 1", *(code(t) for t in report.targets)]
    return md_table(header, ["---", *("---:" for _ in report.targets)], rows)


def findings_section(findings: list[Diagnostic], several_models: bool, total: int | None = None) -> str:
    rows = [
        [
            d.severity.value,
            d.code,
            code(d.node if d.node and not d.location and not several_models else where(d)),
            code(d.target),
            text(d.message),
            text(d.fix),
            units.seconds(d.saving_s) if d.saving_s > 0 else "—",
        ]
        for d in findings
    ]
    header = ["severity", "code", "node", "target", "message", "fix", "saving"]
    table = "### Findings\n\n" + md_table(header, ["---"] * 6 + ["---:"], rows)
    if total is not None:
        shown = f"{len(findings)} of {total} findings shown. " if len(findings) < total else ""
        table += (
            f"\n\n{shown}Rule documentation left out to stay within GitHub's comment size limit: "
            "`archlint rule CODE` explains a rule, `archlint check --format full` lists every finding."
        )
    return table


def _rule_details(report: CheckReport) -> str:
    counts = Counter(d.code for d in report.diagnostics)
    names = {d.code: d.name for d in report.diagnostics}
    sections = []
    for rule_code in sorted(counts):
        registered = report.rules.get(rule_code)
        # <summary> sits in an HTML block, where markdown escapes would show: escape as HTML.
        summary = f"<b>{rule_code} {html.escape(names[rule_code], quote=False)}</b>"
        summary += f" · {plural(counts[rule_code], 'finding')}"
        body = "No documentation: the rule is not registered in this run."
        if registered is not None:
            rule = registered.rule
            summary += f": {html.escape(rule.summary, quote=False)}"
            severities = ", ".join(f"{kind} {s.value}" for kind, s in rule.severity.items())
            body = (
                f"Severity by target kind: {severities}. From {text(registered.plugin)}.\n\n"
                f"{demote_headings(rule.documentation())}"
            )
        sections.append(f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>")
    return "### Rules\n\n" + "\n\n".join(sections)
