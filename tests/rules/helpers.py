"""Run one rule on a model built in code, on a named target: what every rule test needs."""

from __future__ import annotations

from pathlib import Path

import onnx

from archlint.analysis.analysis import Analysis
from archlint.api import analyze
from archlint.lint.checker import CheckOptions, check
from archlint.lint.diagnostics import Diagnostic, Finding
from archlint.lint.rule import RegisteredRule, Rule, RuleContext, RuleOptions
from archlint.targets.registry import resolve
from tests.builders import save


def _analysis(proto: onnx.ModelProto, tmp_path: Path, target: str) -> Analysis:
    return analyze(save(proto, tmp_path / "model.onnx"), [resolve(target)])


def findings(
    rule: type[Rule],
    proto: onnx.ModelProto,
    tmp_path: Path,
    target: str = "gpu",
    options: RuleOptions | None = None,
) -> list[Finding]:
    """The rule's findings on ``target`` that the engine reports: without those the task
    exempts (shown only with --show-exempt) and those whose fix saves no time; [] when the rule
    does not apply to its kind."""
    analysis = _analysis(proto, tmp_path, target)
    if not rule.applies_to(analysis.predictions[0].profile):
        return []
    found = rule(options).check(RuleContext(analysis, analysis.predictions[0]))
    return [f for f in found if f.exempt is None and (f.saving_s is None or f.saving_s > 0)]


def diagnostics(
    rule: type[Rule],
    proto: onnx.ModelProto,
    tmp_path: Path,
    target: str = "gpu",
    options: RuleOptions | None = None,
) -> list[Diagnostic]:
    """What a user sees of the rule on ``target``: its findings after the engine judged them."""
    rule_options = {rule.code: options} if options is not None else {}
    judged = CheckOptions(rule_options=rule_options)
    return check(_analysis(proto, tmp_path, target), {rule.code: RegisteredRule(rule, "test")}, judged)
