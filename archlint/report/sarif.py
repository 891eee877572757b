"""``--format sarif``: one SARIF 2.1.0 log, as GitHub code scanning reads it.

One run; ``tool.driver.rules`` describes every registered rule (so ``ruleIndex`` is stable
whatever fired) with its documentation as help; one result per finding, with a location per
operator it holds on. A finding on an ONNX node points at line 1 of the model file (a binary
file has no better line) and names the node in ``logicalLocations``; a finding with a source
location points at its line. ``partialFingerprints``
hash what identifies a finding (code, file, node, target) and not its numbers, so code scanning
keeps tracking an alert while a fix changes the figures in its message.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from archlint import __version__, units
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.rule import Rule
from archlint.report.base import CheckReport, Reporter

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "archlintFinding/v1"
# Code scanning resolves relative URIs against the repository root through this base id.
SRCROOT = "%SRCROOT%"

LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

# The concern of each built-in code group (design: "Rule codes"), as a code-scanning tag.
GROUP_TAGS = {
    "AL1": "layout-and-alignment",
    "AL2": "operator-choice",
    "AL3": "graph-structure",
    "AL4": "numerics",
    "AL5": "roofline-and-memory",
}

_WHAT_IT_DOES = re.compile(r"^## What it does\n(.*?)(?=^## |\Z)", re.S | re.M)


def artifact_location(path: str) -> dict[str, str]:
    """A URI reference for ``path``: relative paths stay relative to the source root."""
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": pure.as_uri()}
    return {"uri": quote(pure.as_posix(), safe="/"), "uriBaseId": SRCROOT}


def fingerprint(d: Diagnostic) -> str:
    identity = "\0".join((d.code, d.path, d.node or "", d.target))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def rule_descriptor(code: str, rule: type[Rule] | None, fallback_name: str) -> dict[str, Any]:
    """A reportingDescriptor; a code that no registered rule has (in a report built by hand, or
    from a plugin no longer installed) gets a bare one, so every result keeps a ``ruleIndex``."""
    if rule is None:
        return {"id": code, "name": fallback_name}
    documentation = rule.documentation() or rule.summary
    found = _WHAT_IT_DOES.search(documentation)
    what = found.group(1).strip() if found else documentation
    worst = max(rule.severity.values(), key=lambda s: s.rank, default=Severity.WARNING)
    tags = ["performance", *(tag for prefix, tag in GROUP_TAGS.items() if code.startswith(prefix))]
    return {
        "id": code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        # Plain text has no soft line breaks: the docstring's wrapped lines become one paragraph.
        "fullDescription": {"text": " ".join(what.split()), "markdown": what},
        "help": {"text": documentation, "markdown": documentation},
        "defaultConfiguration": {"level": LEVEL[worst]},
        "properties": {
            "tags": tags,
            "severityByTargetKind": {kind: s.value for kind, s in rule.severity.items()},
            "fix": rule.fix_applicability or "manual",
        },
    }


def location(d: Diagnostic) -> dict[str, Any]:
    path, line = (d.location.path, d.location.line) if d.location else (d.path, 1)
    result: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": artifact_location(path), "region": {"startLine": line}}
    }
    if d.node is not None:
        result["logicalLocations"] = [{"name": d.node, "fullyQualifiedName": f"{d.path}::{d.node}"}]
    return result


def locations(d: Diagnostic) -> list[dict[str, Any]]:
    """Every place of a finding on several identical operators, the first being its primary one."""
    return [location(each) for each in d.at_each_place()]


def related_locations(d: Diagnostic) -> list[dict[str, Any]]:
    """The other source lines of the operators (a BatchNorm folded into a conv): SARIF's
    relatedLocations, which code scanning shows beside the alert."""
    lines = [loc for each in d.at_each_place() for loc in each.related]
    return [
        {
            "id": index,
            "physicalLocation": {
                "artifactLocation": artifact_location(loc.path),
                "region": {"startLine": loc.line},
            },
            "message": {"text": "folded into this operator"},
        }
        for index, loc in enumerate(lines)
    ]


def result(d: Diagnostic, rule_index: int) -> dict[str, Any]:
    saving = f" Saves {units.seconds(d.saving_s)} on {d.target}." if d.saving_s > 0 else ""
    found: dict[str, Any] = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": LEVEL[d.severity],
        "message": {"text": f"[{d.target}] {d.message} Fix: {d.fix}{saving}"},
        "locations": locations(d),
        "partialFingerprints": {FINGERPRINT: fingerprint(d)},
        "properties": {"target": d.target, "node": d.node, "model": d.path, "saving_s": d.saving_s},
    }
    related = related_locations(d)
    if related:
        found["relatedLocations"] = related
    return found


class SarifReporter(Reporter):
    name = "sarif"
    description = "SARIF 2.1.0, for GitHub code scanning"

    def render(self, report: CheckReport) -> str:
        names = {d.code: d.name for d in report.diagnostics}
        codes = sorted(set(report.rules) | set(names))
        descriptors = [
            rule_descriptor(
                code, report.rules[code].rule if code in report.rules else None, names.get(code, code)
            )
            for code in codes
        ]
        index = {code: i for i, code in enumerate(codes)}
        driver = {
            "name": "archlint",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": descriptors,
        }
        run = {
            "tool": {"driver": driver},
            "results": [result(d, index[d.code]) for d in report.diagnostics],
            "properties": {
                "targets": list(report.targets),
                "models": [a.model.path for a in report.analyses],
            },
        }
        document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
