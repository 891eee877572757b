"""Read an onnxruntime profile: the kernel time of every node in every measured run.

The profile is a Chrome trace (a JSON array of events, times in microseconds). onnxruntime writes
one ``Session`` event named ``model_run`` per ``InferenceSession.run`` and, inside its time span,
one ``Node`` event named ``<node>_kernel_time`` per kernel executed, with the kernel's op type in
``args.op_name``. Warm-up runs are in the profile too: they are the first ``warmup`` runs and are
dropped, so that one-time work (allocations, weight pre-packing) does not count.
"""

from __future__ import annotations

import bisect
import json
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlint.errors import ArchlintError

_KERNEL_SUFFIX = "_kernel_time"
_US = 1e-6


@dataclass(frozen=True)
class KernelTimes:
    """Seconds per engine node and measured run; a node that did not run in a run has 0 there."""

    runs: int
    per_node: Mapping[str, tuple[float, ...]]  # engine node name -> seconds in each measured run
    op_types: Mapping[str, str]  # engine node name -> the kernel's op type

    def median(self, name: str) -> float:
        times = self.per_node.get(name)
        return statistics.median(times) if times else 0.0

    def run_totals(self, names: Collection[str]) -> tuple[float, ...]:
        """Per measured run, the kernel time summed over ``names``."""
        rows = [self.per_node[n] for n in names if n in self.per_node]
        return tuple(sum(row[run] for row in rows) for run in range(self.runs))


def read(path: Path, warmup: int) -> KernelTimes:
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchlintError(f"cannot read the onnxruntime profile {path}: {exc}") from exc
    return from_events(events, warmup)


def from_events(events: Sequence[Mapping[str, Any]], warmup: int) -> KernelTimes:
    spans = sorted((int(e["ts"]), int(e["ts"]) + int(e["dur"])) for e in events if _is_run(e))[warmup:]
    if not spans:
        raise ArchlintError("the onnxruntime profile holds no measured run (no 'model_run' events)")
    starts = [start for start, _ in spans]
    per_node: dict[str, list[float]] = {}
    op_types: dict[str, str] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith(_KERNEL_SUFFIX):
            continue
        ts = int(event["ts"])
        run = bisect.bisect_right(starts, ts) - 1
        if run < 0 or ts > spans[run][1]:
            continue  # a warm-up run's kernel, or one outside every run
        name = str(event["name"])[: -len(_KERNEL_SUFFIX)]
        times = per_node.setdefault(name, [0.0] * len(spans))
        times[run] += int(event["dur"]) * _US  # a node can run more than once per run
        op_types[name] = str(event.get("args", {}).get("op_name", ""))
    return KernelTimes(len(spans), {n: tuple(t) for n, t in per_node.items()}, op_types)


def _is_run(event: Mapping[str, Any]) -> bool:
    return event.get("cat") == "Session" and event.get("name") == "model_run"
