"""``--format rdjson``: reviewdog's Diagnostic Format, one ``DiagnosticResult`` document.

    archlint check models/*.onnx --target gpu --format rdjson | reviewdog -f=rdjson -reporter=github-pr-review

The format is reviewdog's ``proto/rdf/reviewdog.proto`` (https://github.com/reviewdog/reviewdog,
``DiagnosticResult``, ``Diagnostic``, ``Location``, ``Range``, ``Position``, ``Code``) written as
JSON, the wire format reviewdog calls rdjson. As in ``--format github`` and ``sarif``, a finding on
an ONNX node has no source line and is placed on line 1 of the model file (reviewdog drops a
diagnostic whose line is outside the diff, and line 1 is where the other formats put it); a finding
with a source location is placed on its line. No ``suggestions``: archlint's fixes are advice or
graph rewrites, never a text edit of the line.
"""

from __future__ import annotations

import json
from typing import Any

from archlint import units
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.report.base import CheckReport, Reporter

SEVERITY = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def diagnostic(d: Diagnostic) -> dict[str, Any]:
    path, line = (d.location.path, d.location.line) if d.location else (d.path, 1)
    # Line 1 of a model file says nothing about where in the graph: the node leads the message.
    node = f"{d.node}: " if d.node and not d.location else ""
    saving = f" (saves {units.seconds(d.saving_s)} on {d.target})" if d.saving_s > 0 else ""
    return {
        "message": f"[{d.target}] {node}{d.message} Fix: {d.fix}{saving}",
        "location": {"path": path, "range": {"start": {"line": line}}},
        "severity": SEVERITY[d.severity],
        "code": {"value": d.code},
    }


def overall(report: CheckReport) -> str | None:
    """The result's severity: its worst finding's; none when nothing was found."""
    worst = max((d.severity for d in report.diagnostics), key=lambda s: s.rank, default=None)
    return SEVERITY[worst] if worst is not None else None


class RdjsonReporter(Reporter):
    name = "rdjson"
    description = "reviewdog's Diagnostic Format (rdjson), for reviewdog -f=rdjson"

    def render(self, report: CheckReport) -> str:
        document: dict[str, Any] = {
            "source": {"name": "archlint"},
            "diagnostics": [diagnostic(each) for d in report.diagnostics for each in d.at_each_place()],
        }
        severity = overall(report)
        if severity is not None:
            document["severity"] = severity
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
