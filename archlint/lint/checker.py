"""Run the selected rules over an analysis, once per target, and collect Diagnostics.

A rule runs on a target only if it declares a severity for that target's kind. A rule that
raises is reported as one line naming the rule, the plugin that brought it, and the model.
For a model built from source code, each finding is then placed on its source line (with the
module path in its message) and ``# archlint: noqa`` comments on those lines are applied.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from archlint.analysis.analysis import Analysis
from archlint.errors import ArchlintError, InternalError
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.rule import RegisteredRule, RuleContext, RuleOptions
from archlint.lint.savings import with_overlaps_noted
from archlint.lint.selection import Selection, longest_prefix
from archlint.lint.severity import DEFAULT_MIN_SAVING_SHARE
from archlint.lint.triage import grouped, judged, touched

if TYPE_CHECKING:
    from archlint.model.source_locations import NodeSource


@dataclass(frozen=True)
class NodeIgnore:
    """Silence ``codes`` (prefixes) on the nodes whose names match the glob ``nodes``."""

    nodes: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class CheckOptions:
    selection: Selection = field(default_factory=Selection)
    rule_options: Mapping[str, RuleOptions] = field(default_factory=dict)  # by code
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # glob -> codes
    node_ignores: tuple[NodeIgnore, ...] = ()
    # A finding saving less than this share of the latency is info (rules may set their own).
    min_saving_share: float = DEFAULT_MIN_SAVING_SHARE
    show_exempt: bool = False  # report findings whose advice the task rules out, as info


def check(analysis: Analysis, rules: Mapping[str, RegisteredRule], options: CheckOptions) -> list[Diagnostic]:
    path = analysis.model.path
    file_ignores = [codes for glob, codes in options.per_file_ignores.items() if fnmatch.fnmatch(path, glob)]
    diagnostics: list[Diagnostic] = []
    for prediction in analysis.predictions:
        context = RuleContext(analysis, prediction)
        for code, registered in rules.items():
            severity = registered.rule.severity.get(prediction.profile.kind)
            if severity is None or not options.selection.is_selected(code):
                continue
            if any(longest_prefix(codes, code) >= 0 for codes in file_ignores):
                continue
            diagnostics.extend(
                d for d in _run(registered, context, options.rule_options.get(code), severity, options)
                if not _node_ignored(d, options.node_ignores)
            )  # fmt: skip
    placed = _with_sources(analysis, diagnostics, options.selection)
    return with_overlaps_noted(grouped(placed, {n.name: n for n in analysis.cost.nodes}))


def _with_sources(
    analysis: Analysis, diagnostics: list[Diagnostic], selection: Selection
) -> list[Diagnostic]:
    """Place findings on source lines and apply the noqa comments there (ONNX files have none)."""
    from archlint.lint import suppressions
    from archlint.model import source_locations

    model = analysis.model
    places = source_locations.node_sources(model)
    if not places:
        return diagnostics
    placed = [_placed(d, places.get(d.node or "")) for d in diagnostics]
    lines = source_locations.source_lines(places.values())
    comments = suppressions.find(lines, source_locations.repository_root())
    kept, used = suppressions.apply(placed, comments)
    if selection.is_selected(suppressions.UNUSED_CODE):
        targets = [prediction.profile.name for prediction in analysis.predictions]
        kept.extend(suppressions.unused(comments, used, model.path, targets))
    return kept


def _placed(diagnostic: Diagnostic, source: NodeSource | None) -> Diagnostic:
    if source is None:
        return diagnostic
    message = f"{source.module}: {diagnostic.message}" if source.module else diagnostic.message
    return replace(diagnostic, location=source.location, related=source.secondary, message=message)


def _run(
    registered: RegisteredRule,
    context: RuleContext,
    rule_options: RuleOptions | None,
    severity: Severity,
    options: CheckOptions,
) -> Sequence[Diagnostic]:
    rule_type = registered.rule
    rule = rule_type(rule_options)
    try:
        findings = list(rule.check(context))
    except ArchlintError:
        raise
    except Exception as exc:
        raise InternalError(
            f"rule {rule_type.code} ({rule_type.name}) from {registered.plugin!r} failed on "
            f"{context.analysis.model.path}: {type(exc).__name__}: {exc}"
        ) from exc
    share = rule.options.min_saving_share
    share = options.min_saving_share if share is None else share
    reported = []
    for finding in findings:
        verdict = judged(finding, context, finding.severity or severity, share, options.show_exempt)
        if verdict is None:
            continue
        kept, level = verdict
        reported.append(
            Diagnostic(
                code=rule_type.code,
                name=rule_type.name,
                severity=level,
                target=context.profile.name,
                path=context.analysis.model.path,
                node=kept.node,
                message=kept.message,
                fix=kept.fix,
                saving_s=kept.saving_s or 0.0,
                touched=frozenset(touched(kept)),
                in_latency=kept.in_latency and kept.saving_s is not None,
            )
        )
    return reported


def _node_ignored(diagnostic: Diagnostic, ignores: Sequence[NodeIgnore]) -> bool:
    if diagnostic.node is None:
        return False
    return any(
        fnmatch.fnmatchcase(diagnostic.node, ignore.nodes)
        and longest_prefix(ignore.codes, diagnostic.code) >= 0
        for ignore in ignores
    )
