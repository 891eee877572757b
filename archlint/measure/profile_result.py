"""Join a measurement with the roofline prediction and the rules' findings, node by node.

Every main-graph node of the model gets one row: *measured* (a kernel of its own; the kernel's
time includes whatever was fused into it), *fused* (no kernel: its work runs inside
``fused_into``'s kernel, or was removed when ``fused_into`` is None), plus one row per
*engine-created* kernel (layout reorders, copies) that no model node accounts for. A measured
node's ratio compares the prediction for everything its kernel runs (itself and the nodes fused
into it) with the kernel's measured time: above 1 the roofline is pessimistic, below 1 optimistic.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from archlint.analysis.analysis import Analysis
from archlint.analysis.roofline import Prediction
from archlint.lint.diagnostics import Diagnostic
from archlint.measure.ort_mapping import NodeMapping, map_nodes
from archlint.measure.profiling import Measurement, RunSettings
from archlint.model.graph import Graph

Status = Literal["measured", "fused", "engine-created"]


def _ratio(predicted: float | None, measured: float) -> float | None:
    return predicted / measured if predicted is not None and measured > 0 else None


@dataclass(frozen=True)
class NodeProfile:
    name: str
    op_type: str
    status: Status
    measured_s: float  # median over the measured runs; 0 for fused nodes
    predicted_s: float | None  # its own roofline time; None: engine-created, folded, or no cost model
    group_predicted_s: float | None = None  # measured nodes: itself plus the nodes fused into it
    kernel: str | None = None  # the engine's op type for it ("FusedConv"), when it has a kernel
    fused_into: str | None = None

    @property
    def ratio(self) -> float | None:
        return _ratio(self.group_predicted_s, self.measured_s)


@dataclass(frozen=True)
class OpTypeProfile:
    op_type: str
    count: int
    measured_s: float
    predicted_s: float | None

    @property
    def ratio(self) -> float | None:
        return _ratio(self.predicted_s, self.measured_s)


@dataclass(frozen=True)
class FindingProfile:
    diagnostic: Diagnostic
    nodes: tuple[str, ...]  # the main-graph nodes it names; () for a whole-model finding
    measured_s: float | None  # their measured time; None for a whole-model finding
    share: float | None  # of the measured kernel time


@dataclass(frozen=True)
class Totals:
    measured_latency_s: float  # median wall-clock of session.run
    measured_latency_min_s: float
    measured_latency_max_s: float
    measured_kernel_sum_s: float  # median over runs of the kernels' summed time
    predicted_latency_s: float

    @property
    def ratio(self) -> float | None:
        return _ratio(self.predicted_latency_s, self.measured_latency_s)


@dataclass(frozen=True)
class ProfileResult:
    model: str
    target: str
    settings: RunSettings
    runtime_version: str
    runs: int
    totals: Totals
    nodes: tuple[NodeProfile, ...]  # model nodes in graph order, then engine-created kernels
    by_op_type: tuple[OpTypeProfile, ...]  # most measured time first
    findings: tuple[FindingProfile, ...]  # most measured time first, whole-model findings last

    def share(self, seconds: float) -> float:
        total = self.totals.measured_kernel_sum_s
        return seconds / total if total > 0 else 0.0


def build(
    analysis: Analysis, prediction: Prediction, measurement: Measurement, diagnostics: Sequence[Diagnostic]
) -> ProfileResult:
    graph = analysis.model.graph
    mapping = map_nodes(graph, measurement.engine, analysis.cost.constant_tensors)
    nodes = _node_rows(graph, mapping, _predicted_by_node(graph, prediction), measurement)
    kernels = measurement.kernels
    wall = measurement.wall_s
    kernel_sums = kernels.run_totals([n.name for n in measurement.engine.nodes])
    totals = Totals(
        measured_latency_s=statistics.median(wall),
        measured_latency_min_s=min(wall),
        measured_latency_max_s=max(wall),
        measured_kernel_sum_s=statistics.median(kernel_sums),
        predicted_latency_s=prediction.latency_s,
    )
    findings = _findings(graph, nodes, diagnostics, totals.measured_kernel_sum_s)
    return ProfileResult(
        model=analysis.model.path,
        target=prediction.profile.name,
        settings=measurement.settings,
        runtime_version=measurement.runtime_version,
        runs=kernels.runs,
        totals=totals,
        nodes=nodes,
        by_op_type=_by_op_type(nodes),
        findings=findings,
    )


def owners(graph: Graph) -> Callable[[str], str | None]:
    """Name -> the main-graph node it belongs to: itself, or the control-flow node whose
    subgraph holds it (the cost model names subgraph nodes "loop/body/inner")."""
    names = {node.name for node in graph.nodes}
    holders = sorted((node.name for node in graph.nodes if node.subgraphs), key=len, reverse=True)

    def owner(name: str) -> str | None:
        if name in names:
            return name
        return next((h for h in holders if name.startswith(h + "/")), None)

    return owner


def _predicted_by_node(graph: Graph, prediction: Prediction) -> dict[str, float]:
    owner = owners(graph)
    predicted: dict[str, float] = defaultdict(float)
    for timed in prediction.nodes:
        predicted[owner(timed.cost.name) or timed.cost.name] += timed.time_s
    return predicted


def _node_rows(
    graph: Graph, mapping: NodeMapping, predicted: Mapping[str, float], measurement: Measurement
) -> tuple[NodeProfile, ...]:
    kernels = measurement.kernels
    by_anchor: dict[str, list[str]] = defaultdict(list)  # model node -> its engine nodes
    for engine_node in measurement.engine.nodes:
        anchor = mapping.anchors[engine_node.name]
        if anchor is not None:
            by_anchor[anchor].append(engine_node.name)
    op_types = {e.name: e.op_type for e in measurement.engine.nodes}
    absorbed: dict[str, list[float]] = defaultdict(list)  # measured node -> predictions fused into it
    for name, into in mapping.fused_into.items():
        if into is not None and name in predicted:
            absorbed[into].append(predicted[name])
    rows = []
    for node in graph.nodes:
        own = predicted.get(node.name)
        if node.name in by_anchor:
            engine_names = by_anchor[node.name]
            group = [*([] if own is None else [own]), *absorbed[node.name]]
            rows.append(
                NodeProfile(
                    name=node.name,
                    op_type=node.op_type,
                    status="measured",
                    measured_s=sum(kernels.median(n) for n in engine_names),
                    predicted_s=own,
                    group_predicted_s=sum(group) if group else None,
                    kernel="+".join(dict.fromkeys(op_types[n] for n in engine_names)),
                )
            )
        else:
            rows.append(
                NodeProfile(
                    name=node.name,
                    op_type=node.op_type,
                    status="fused",
                    measured_s=0.0,
                    predicted_s=own,
                    fused_into=mapping.fused_into.get(node.name),
                )
            )
    return (*rows, *_engine_created(mapping, measurement))


def _engine_created(mapping: NodeMapping, measurement: Measurement) -> list[NodeProfile]:
    return [
        NodeProfile(
            name=node.name,
            op_type=node.op_type,
            status="engine-created",
            measured_s=measurement.kernels.median(node.name),
            predicted_s=None,
            kernel=node.op_type,
        )
        for node in measurement.engine.nodes
        if mapping.anchors[node.name] is None
    ]


def _by_op_type(nodes: Iterable[NodeProfile]) -> tuple[OpTypeProfile, ...]:
    groups: dict[str, list[NodeProfile]] = defaultdict(list)
    for node in nodes:
        groups[node.op_type].append(node)
    rows = []
    for op_type, members in groups.items():
        predicted = [m.predicted_s for m in members if m.predicted_s is not None]
        rows.append(
            OpTypeProfile(
                op_type=op_type,
                count=len(members),
                measured_s=sum(m.measured_s for m in members),
                predicted_s=sum(predicted) if predicted else None,
            )
        )
    return tuple(sorted(rows, key=lambda r: (-r.measured_s, -(r.predicted_s or 0.0), r.op_type)))


def _findings(
    graph: Graph, nodes: Sequence[NodeProfile], diagnostics: Sequence[Diagnostic], kernel_sum_s: float
) -> tuple[FindingProfile, ...]:
    measured = {n.name: n.measured_s for n in nodes if n.status != "engine-created"}
    owner = owners(graph)
    rows = []
    for diagnostic in diagnostics:
        found = owner(diagnostic.node) if diagnostic.node else None
        names = (found,) if found else ()
        seconds = sum(measured.get(n, 0.0) for n in names) if names else None
        share = seconds / kernel_sum_s if seconds is not None and kernel_sum_s > 0 else None
        rows.append(FindingProfile(diagnostic, names, seconds, share))
    return tuple(sorted(rows, key=lambda f: (f.measured_s is None, -(f.measured_s or 0.0))))
