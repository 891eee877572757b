"""``archlint diff --format json``: the archlint.diff/1 document, every layer and finding change."""

from __future__ import annotations

import json
from typing import Any

from archlint.diff.model_diff import Figures, ModelDiff
from archlint.report.check_json import diagnostic_dict

SCHEMA = "archlint.diff/1"


def figures(f: Figures | None, targets: tuple[str, ...]) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"flops": f.flops, "bytes": f.bytes, "time_s": dict(zip(targets, f.time_s, strict=True))}


def render(diff: ModelDiff) -> str:
    targets = diff.targets
    document = {
        "schema": SCHEMA,
        "base": diff.base_path,
        "head": diff.head_path,
        "targets": list(targets),
        "totals": {
            "base": {**(figures(diff.base, targets) or {}), "params": diff.base_params},
            "head": {**(figures(diff.head, targets) or {}), "params": diff.head_params},
        },
        # Unchanged layers are left out: the document answers "what did this change cost".
        "layers": [
            {
                "name": layer.name,
                "op_type": layer.op_type,
                "status": layer.status,
                "base": figures(layer.base, targets),
                "head": figures(layer.head, targets),
            }
            for layer in diff.changed_layers
        ],
        "new": [diagnostic_dict(d) for d in diff.new],
        "fixed": [diagnostic_dict(d) for d in diff.fixed],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
