"""Run one rule on a model built in code, on a named target: what every rule test needs."""

from __future__ import annotations

from pathlib import Path

import onnx

from archlint.api import analyze
from archlint.lint.diagnostics import Finding
from archlint.lint.rule import Rule, RuleContext, RuleOptions
from archlint.targets.registry import resolve
from tests.builders import save


def findings(
    rule: type[Rule],
    proto: onnx.ModelProto,
    tmp_path: Path,
    target: str = "gpu",
    options: RuleOptions | None = None,
) -> list[Finding]:
    """The rule's findings on ``target``; [] when the rule does not apply to its kind."""
    path = save(proto, tmp_path / "model.onnx")
    analysis = analyze(path, [resolve(target)])
    if not rule.applies_to(analysis.predictions[0].profile):
        return []
    return list(rule(options).check(RuleContext(analysis, analysis.predictions[0])))
