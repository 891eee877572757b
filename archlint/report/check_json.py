"""``--format json``: the archlint.check/1 document (docs/schemas/archlint.check.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from archlint.lint.diagnostics import Diagnostic
from archlint.report.base import CheckReport, Reporter

SCHEMA = "archlint.check/1"


def diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "severity": d.severity.value,
        "target": d.target,
        "path": d.path,
        "node": d.node,
        "message": d.message,
        "fix": d.fix,
        "saving_s": d.saving_s,
        "location": {"path": d.location.path, "line": d.location.line} if d.location else None,
    }


class JsonReporter(Reporter):
    name = "json"
    description = "archlint.check/1 JSON, for scripts"

    def render(self, report: CheckReport) -> str:
        document = {
            "schema": SCHEMA,
            "models": [a.model.path for a in report.analyses],
            "targets": list(report.targets),
            "diagnostics": [diagnostic_dict(d) for d in report.diagnostics],
        }
        return json.dumps(document, indent=2) + "\n"
