"""What the engine does with a rule's findings before anyone reads them.

A warning must be worth acting on. A finding about time whose fix saves nothing (the alternative
is predicted no faster) is dropped; one whose saving is below a share of the latency is info; one
whose advice does not apply (a width the task fixes) is shown only on request. Repeats of a rule
on structurally identical operators (the 12 identical blocks of a transformer) become one
diagnostic with every place, so a report lists patterns, not copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Diagnostic, Finding, Place, Severity
from archlint.lint.rule import RuleContext
from archlint.units import seconds


def judged(
    finding: Finding, ctx: RuleContext, severity: Severity, share: float, show_exempt: bool
) -> tuple[Finding, Severity] | None:
    """The finding as reported and its severity, or None when it is not worth reporting."""
    if finding.exempt is not None:
        if not show_exempt:
            return None
        return replace(finding, message=f"{finding.message} Exempt: {finding.exempt}."), Severity.INFO
    if finding.saving_s is None:
        return finding, severity
    saving = _bounded_saving(finding, finding.saving_s, ctx)
    if saving <= 0:
        return None
    if saving < share * ctx.latency_s and severity is not Severity.ERROR:
        severity = Severity.INFO
    return replace(finding, saving_s=saving), severity


def touched(finding: Finding) -> tuple[str, ...]:
    if finding.touched is not None:
        return finding.touched
    return (finding.node,) if finding.node else ()


def _bounded_saving(finding: Finding, saving: float, ctx: RuleContext) -> float:
    """A fix cannot save more than the predicted time of the operators it changes."""
    if not finding.in_latency:
        return saving
    names = touched(finding)
    by_name = ctx.nodes_by_name
    nodes = [by_name[n] for n in names if n in by_name]
    if not nodes or len(nodes) != len(names):
        return min(saving, ctx.latency_s)
    return min(saving, sum(ctx.time(n) for n in nodes))


def grouped(diagnostics: Iterable[Diagnostic], nodes: Mapping[str, NodeCost]) -> list[Diagnostic]:
    """One diagnostic per rule, target and structure of operator, in first-seen order."""
    groups: dict[object, list[Diagnostic]] = {}
    for d in diagnostics:
        node = nodes.get(d.node) if d.node else None
        key: object = (d.code, d.target, d.severity, _structure(node)) if node is not None else id(d)
        groups.setdefault(key, []).append(d)
    return [_merge(members) for members in groups.values()]


def _structure(node: NodeCost) -> tuple[object, ...]:
    """What makes two operators the same problem: type, attributes and every cost figure."""
    attrs = tuple(sorted((k, repr(v)) for k, v in node.node.attrs.items()))
    return (
        node.op_type,
        node.node.domain,
        attrs,
        node.flops,
        node.bytes_read,
        node.bytes_written,
        node.padded_dims,
        node.compute_dtype,
    )


def _merge(members: list[Diagnostic]) -> Diagnostic:
    first = members[0]
    if len(members) == 1:
        return first
    others = [d.node or "" for d in members[1:]]
    shown = ", ".join(repr(n) for n in others[:5]) + (
        f" and {len(others) - 5} more" if len(others) > 5 else ""
    )
    plural = "s" * (len(others) > 1)
    total = sum(d.saving_s for d in members)
    together = f"; their fixes save {seconds(total)} in all" if total > 0 else ""
    message = (
        f"{first.message} The same holds for {len(others)} identical operator{plural}: {shown}{together}."
    )
    return replace(
        first,
        message=message,
        saving_s=total,
        repeats=tuple(Place(d.node, d.location, d.related) for d in members[1:]),
        touched=frozenset().union(*(d.touched for d in members)),
    )
