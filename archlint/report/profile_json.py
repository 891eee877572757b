"""``archlint profile --format json``: the archlint.profile/1 document (docs/schemas/)."""

from __future__ import annotations

import json
from typing import Any

from archlint.measure.profile_result import FindingProfile, NodeProfile, ProfileResult

SCHEMA = "archlint.profile/1"


def document(result: ProfileResult) -> dict[str, Any]:
    totals = result.totals
    settings = result.settings
    return {
        "schema": SCHEMA,
        "model": result.model,
        "target": result.target,
        "runtime": "onnxruntime",
        "runtime_version": result.runtime_version,
        "threads": settings.threads,
        "optimization": settings.optimization,
        "warmup": settings.warmup,
        "runs": result.runs,
        "totals": {
            "measured_latency_s": totals.measured_latency_s,
            "measured_latency_min_s": totals.measured_latency_min_s,
            "measured_latency_max_s": totals.measured_latency_max_s,
            "measured_kernel_sum_s": totals.measured_kernel_sum_s,
            "predicted_latency_s": totals.predicted_latency_s,
            "ratio": totals.ratio,
        },
        "nodes": [_node(node) for node in result.nodes],
        "by_op_type": [
            {
                "op_type": row.op_type,
                "count": row.count,
                "measured_s": row.measured_s,
                "predicted_s": row.predicted_s,
                "ratio": row.ratio,
            }
            for row in result.by_op_type
        ],
        "findings": [_finding(finding) for finding in result.findings],
    }


def _node(node: NodeProfile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": node.name,
        "op_type": node.op_type,
        "status": node.status,
        "measured_s": node.measured_s,
        "predicted_s": node.predicted_s,
        "ratio": node.ratio,
    }
    if node.status == "measured":
        entry["group_predicted_s"] = node.group_predicted_s
    if node.kernel is not None:
        entry["kernel"] = node.kernel
    if node.status == "fused":
        entry["fused_into"] = node.fused_into
    return entry


def _finding(finding: FindingProfile) -> dict[str, Any]:
    diagnostic = finding.diagnostic
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "nodes": list(finding.nodes),
        "measured_s": finding.measured_s,
        "share": finding.share,
    }


def render(result: ProfileResult) -> str:
    return json.dumps(document(result), indent=2) + "\n"
