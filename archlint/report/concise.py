"""``--format concise``: one line per finding, like ruff's concise output."""

from __future__ import annotations

from archlint import units
from archlint.lint.diagnostics import Diagnostic
from archlint.report.base import CheckReport, Reporter


def where(d: Diagnostic) -> str:
    """``file.py:12`` for a finding with a source line, else ``model.onnx:node``."""
    if d.location is not None:
        return f"{d.location.path}:{d.location.line}"
    return f"{d.path}:{d.node}" if d.node else d.path


class ConciseReporter(Reporter):
    name = "concise"
    description = "one line per finding"

    def render(self, report: CheckReport) -> str:
        lines = []
        for d in report.diagnostics:
            saving = f" (saves {units.seconds(d.saving_s)})" if d.saving_s > 0 else ""
            lines.append(f"{where(d)}: {d.code} [{d.target}] {d.message} Fix: {d.fix}{saving}")
        lines.append(f"Found {len(report.diagnostics)} finding{'s' if len(report.diagnostics) != 1 else ''}.")
        return "\n".join(lines) + "\n"
