"""``archlint analyze --format json``: the archlint.analysis/1 document (docs/schemas/)."""

from __future__ import annotations

import json
from typing import Any

from archlint.analysis.analysis import Analysis
from archlint.analysis.roofline import Prediction

SCHEMA = "archlint.analysis/1"


def macs(flops: int) -> int | float:
    """MACs are FLOPs / 2; an odd FLOP count (pointwise work) keeps its half."""
    return flops // 2 if flops % 2 == 0 else flops / 2


def document(analysis: Analysis, prediction: Prediction | None) -> dict[str, Any]:
    cost = analysis.cost
    times = {id(t.cost): t for t in prediction.nodes} if prediction else {}
    nodes = []
    for node in cost.nodes:
        timed = times.get(id(node))
        nodes.append(
            {
                "name": node.name,
                "op_type": node.op_type,
                "domain": node.node.domain,
                "op_class": node.op_class.value,
                "flops": node.flops,
                "macs": macs(node.flops),
                "params": node.params,
                "bytes": node.bytes,
                "activation_bytes": node.activation_bytes,
                "intensity": node.intensity,
                "repeats": node.repeats,
                "predicted_time_s": timed.time_s if timed else None,
                "bound": timed.bound if timed else None,
            }
        )
    return {
        "schema": SCHEMA,
        "model": cost.model.path,
        "target": prediction.profile.name if prediction else None,
        "totals": {
            "flops": cost.flops,
            "macs": macs(cost.flops),
            "params": cost.params,
            "bytes": cost.bytes,
            "activation_bytes": cost.activation_bytes,
            "weight_bytes": cost.weight_bytes,
            "peak_memory_bytes": cost.peak_memory_bytes,
            "predicted_latency_s": prediction.latency_s if prediction else None,
            "max_batch": prediction.max_batch if prediction else None,
            "throughput_qps": prediction.throughput_qps if prediction else None,
            "complete": cost.complete,
            "operators": cost.operator_count,
            "costed_operators": len(cost.nodes),
            "uncosted": [u.name for u in cost.unknown_ops],
            "flops_range": list(cost.flops_range),
            "predicted_latency_range_s": [prediction.latency_min_s, prediction.latency_s]
            if prediction
            else None,
        },
        "nodes": nodes,
        "unknown_ops": [
            {"name": u.name, "op_type": u.op_type, "domain": u.domain, "reason": u.reason}
            for u in cost.unknown_ops
        ],
        "notes": list(cost.notes),
    }


def render(analysis: Analysis) -> str:
    """One object for one target; a JSON array of objects, one per target, for several."""
    documents = [document(analysis, p) for p in analysis.predictions] or [document(analysis, None)]
    return json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n"
