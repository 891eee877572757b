"""``--format json``: the archlint.check/2 document (docs/schemas/archlint.check.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from archlint.lint.diagnostics import Diagnostic, Location
from archlint.lint.savings import combined_saving
from archlint.report.base import CheckReport, Reporter

SCHEMA = "archlint.check/2"


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
        "location": _location(d.location),
        "locations": [
            {"node": p.node, "location": _location(p.location), "related": [_location(r) for r in p.related]}
            for p in d.places
        ],
    }


def _location(location: Location | None) -> dict[str, Any] | None:
    return {"path": location.path, "line": location.line} if location else None


def summary(report: CheckReport) -> list[dict[str, Any]]:
    """Per target: the predicted latency and the latency with every compatible fix applied."""
    rows = []
    for target in report.targets:
        latency = sum(p.latency_s for a in report.analyses for p in a.predictions if p.profile.name == target)
        saving = min(latency, combined_saving(d for d in report.diagnostics if d.target == target))
        rows.append(
            {
                "target": target,
                "latency_s": latency,
                "saving_s": saving,
                "latency_after_fixes_s": latency - saving,
            }
        )
    return rows


class JsonReporter(Reporter):
    name = "json"
    description = "archlint.check/2 JSON, for scripts"

    def render(self, report: CheckReport) -> str:
        document = {
            "schema": SCHEMA,
            "models": [a.model.path for a in report.analyses],
            "targets": list(report.targets),
            "diagnostics": [diagnostic_dict(d) for d in report.diagnostics],
            "summary": summary(report),
        }
        return json.dumps(document, indent=2) + "\n"
