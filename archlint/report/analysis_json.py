"""``archlint analyze --format json``: the archlint.analysis/2 document (docs/schemas/)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archlint.analysis.analysis import Analysis
from archlint.analysis.roofline import Prediction
from archlint.analysis.throughput import BatchPoint, Throughput

SCHEMA = "archlint.analysis/2"


def macs(flops: int) -> int | float:
    """MACs are FLOPs / 2; an odd FLOP count (pointwise work) keeps its half."""
    return flops // 2 if flops % 2 == 0 else flops / 2


def document(
    analysis: Analysis, prediction: Prediction | None, throughput: Throughput | None = None
) -> dict[str, Any]:
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
            "symbolic_shape_operators": len(cost.symbolic_shape_nodes),
            "predicted_shape_time_s": prediction.shape_s if prediction else None,
            "subgraph_runs": cost.subgraph_runs,
            "predicted_engine_time_s": prediction.engine_s if prediction else None,
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
        "throughput": throughput_document(throughput) if throughput else None,
        "notes": list(cost.notes),
    }


def throughput_document(throughput: Throughput) -> dict[str, Any]:
    given, saturated = throughput.given, throughput.saturated
    return {
        "batch": given.batch,
        "samples_per_s": given.samples_per_s,
        "saturated_samples_per_s": saturated.samples_per_s if saturated else None,
        "saturating_batch": saturated.batch if saturated else None,
        "largest_batch": throughput.largest_batch,
        "curve": [_point(p) for p in throughput.curve],
        "costed": [_point(p) for p in throughput.points],
        "note": throughput.note,
    }


def _point(point: BatchPoint) -> dict[str, Any]:
    return {
        "batch": point.batch,
        "latency_s": point.latency_s,
        "samples_per_s": point.samples_per_s,
        "memory_bytes": point.memory_bytes,
        "fits": point.fits,
    }


def render(analysis: Analysis, throughputs: Sequence[Throughput] = ()) -> str:
    """One object for one target; a JSON array of objects, one per target, for several.
    ``throughputs``, when given, holds one per target, in the order of the predictions."""
    found = list(throughputs)
    documents = [
        document(analysis, p, found[i] if i < len(found) else None)
        for i, p in enumerate(analysis.predictions)
    ] or [document(analysis, None)]
    return json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n"
