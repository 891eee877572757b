"""What changed between two versions of a model: costs per layer and per target, and findings.

Layers are matched by node name (an exporter keeps the names of unchanged modules), the k-th
unnamed or repeated name with the k-th; a name on one side only is an added or removed layer.
A finding's identity is its code, node and target, not its message: a fix that changes a layer's
figures but not its problem leaves the finding "unchanged", not "fixed and new again".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from archlint.analysis.analysis import Analysis
from archlint.lint.diagnostics import Diagnostic, Severity


@dataclass(frozen=True, slots=True)
class Figures:
    """One layer (or a whole model) on one side: FLOPs, bytes moved and time per target."""

    flops: int
    bytes: int
    time_s: tuple[float, ...]  # in ModelDiff.targets order


@dataclass(frozen=True, slots=True)
class LayerDelta:
    name: str
    op_type: str
    base: Figures | None  # None: added in head
    head: Figures | None  # None: removed in head

    @property
    def status(self) -> str:
        if self.base is None:
            return "added"
        if self.head is None:
            return "removed"
        return "changed" if self.base != self.head else "same"


@dataclass(frozen=True)
class ModelDiff:
    base_path: str
    head_path: str
    targets: tuple[str, ...]
    base: Figures  # whole-model totals; time_s is the predicted batch-1 latency
    head: Figures
    base_params: int
    head_params: int
    layers: tuple[LayerDelta, ...]  # head's graph order, removed layers after
    new: tuple[Diagnostic, ...]
    fixed: tuple[Diagnostic, ...]

    @property
    def changed_layers(self) -> tuple[LayerDelta, ...]:
        return tuple(layer for layer in self.layers if layer.status != "same")

    def new_at_or_above(self, level: Severity) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.new if d.severity.rank >= level.rank)


def layer_figures(analysis: Analysis) -> dict[tuple[str, int], tuple[str, Figures]]:
    """Every layer by (name, occurrence), with its op type and figures, in graph order."""
    seen: Counter[str] = Counter()
    layers = {}
    for i, node in enumerate(analysis.cost.nodes):
        times = tuple(p.nodes[i].time_s for p in analysis.predictions)
        layers[(node.name, seen[node.name])] = (node.op_type, Figures(node.flops, node.bytes, times))
        seen[node.name] += 1
    return layers


def totals(analysis: Analysis) -> Figures:
    cost = analysis.cost
    return Figures(cost.flops, cost.bytes, tuple(p.latency_s for p in analysis.predictions))


def match_layers(base: Analysis, head: Analysis) -> tuple[LayerDelta, ...]:
    before, after = layer_figures(base), layer_figures(head)
    matched = [
        LayerDelta(key[0], op_type, before[key][1] if key in before else None, figures)
        for key, (op_type, figures) in after.items()
    ]
    removed = [
        LayerDelta(key[0], op, figures, None) for key, (op, figures) in before.items() if key not in after
    ]
    return (*matched, *removed)


def identity(d: Diagnostic) -> tuple[str, str | None, str]:
    return (d.code, d.node, d.target)


def beyond(findings: Iterable[Diagnostic], other: Sequence[Diagnostic]) -> tuple[Diagnostic, ...]:
    """The findings of ``findings`` that ``other`` has fewer of (a multiset difference)."""
    left = Counter(identity(d) for d in other)
    extra = []
    for d in findings:
        if left[identity(d)] > 0:
            left[identity(d)] -= 1
        else:
            extra.append(d)
    return tuple(extra)


def compare(
    base: Analysis, head: Analysis, base_findings: Sequence[Diagnostic], head_findings: Sequence[Diagnostic]
) -> ModelDiff:
    targets = tuple(p.profile.name for p in head.predictions)
    if targets != tuple(p.profile.name for p in base.predictions):
        raise ValueError("both models must be analyzed for the same targets, in the same order")
    return ModelDiff(
        base_path=base.model.path,
        head_path=head.model.path,
        targets=targets,
        base=totals(base),
        head=totals(head),
        base_params=base.cost.params,
        head_params=head.cost.params,
        layers=match_layers(base, head),
        new=beyond(head_findings, base_findings),
        fixed=beyond(base_findings, head_findings),
    )
