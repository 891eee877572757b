"""What changed between two versions of a model: costs per layer and per target, and findings.

Operators are matched by their anchor and op type, the k-th with the k-th: the anchor is the
module path for a model exported from PyTorch (``features.3.conv``: torch numbers its node names
through the whole graph, so one layer more renames every node after it) and the node name
otherwise (an exporter keeps the names of unchanged layers). An operator on one side only is an
added or removed layer. A finding is matched place by place on its code, target, anchor and op
type, never on its message or figures: a change that makes the model faster, or changes a layer's
figures but not its problem, leaves the finding "unchanged", not "fixed and new again".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from archlint.analysis.analysis import Analysis
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Diagnostic, Place, Severity
from archlint.model.source_locations import module_path


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
    new: tuple[Diagnostic, ...]  # at their new places only
    fixed: tuple[Diagnostic, ...]  # at their fixed places only
    # node name -> anchor (module path or node name), per side: a finding names its places by it
    base_anchors: Mapping[str, str] = field(default_factory=dict)
    head_anchors: Mapping[str, str] = field(default_factory=dict)

    @property
    def changed_layers(self) -> tuple[LayerDelta, ...]:
        return tuple(layer for layer in self.layers if layer.status != "same")

    def new_at_or_above(self, level: Severity) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.new if d.severity.rank >= level.rank)


def anchor(node: NodeCost) -> str:
    """What identifies an operator across revisions: its module path, else its node name."""
    module = module_path(node.node)
    return module or node.name


def anchors(analysis: Analysis) -> dict[str, str]:
    return {node.name: anchor(node) for node in analysis.cost.nodes}


LayerKey = tuple[str, str, int]  # anchor, op type, occurrence


def layer_figures(analysis: Analysis) -> dict[LayerKey, tuple[str, Figures]]:
    """Every layer by (anchor, op type, occurrence), with its op type and figures, in graph order."""
    seen: Counter[tuple[str, str]] = Counter()
    layers = {}
    for i, node in enumerate(analysis.cost.nodes):
        times = tuple(p.nodes[i].time_s for p in analysis.predictions)
        kind = (anchor(node), node.op_type)
        layers[(*kind, seen[kind])] = (node.op_type, Figures(node.flops, node.bytes, times))
        seen[kind] += 1
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


@dataclass(frozen=True)
class Side:
    """One revision's findings, and how to name the operators they are about."""

    findings: Sequence[Diagnostic]
    anchors: Mapping[str, str]  # node name -> anchor
    op_types: Mapping[str, str]  # node name -> op type

    @classmethod
    def of(cls, analysis: Analysis, findings: Sequence[Diagnostic]) -> Side:
        op_types = {node.name: node.op_type for node in analysis.cost.nodes}
        return cls(findings, anchors(analysis), op_types)

    def identity(self, d: Diagnostic, place: Place) -> tuple[str, str, str | None, str | None]:
        """Code, target, anchor and op type: no message, severity or figure, which all move
        when any operator of the model gets faster or slower."""
        node = place.node
        if node is None:
            return (d.code, d.target, None, None)
        return (d.code, d.target, self.anchors.get(node, node), self.op_types.get(node))


def beyond(side: Side, other: Side) -> tuple[Diagnostic, ...]:
    """The findings of ``side`` at places ``other`` has fewer of (a multiset difference), each
    narrowed to those places."""
    left = Counter(other.identity(d, place) for d in other.findings for place in d.places)
    extra = []
    for d in side.findings:
        fresh = []
        for place in d.places:
            key = side.identity(d, place)
            if left[key] > 0:
                left[key] -= 1
            else:
                fresh.append(place)
        if fresh:
            extra.append(_at_places(d, fresh))
    return tuple(extra)


def _at_places(d: Diagnostic, places: Sequence[Place]) -> Diagnostic:
    if len(places) == len(d.places):
        return d
    first, *rest = places
    share = d.saving_s * len(places) / len(d.places)  # identical operators save the same each
    return replace(
        d,
        node=first.node,
        location=first.location,
        related=first.related,
        repeats=tuple(rest),
        saving_s=share,
    )


def compare(
    base: Analysis, head: Analysis, base_findings: Sequence[Diagnostic], head_findings: Sequence[Diagnostic]
) -> ModelDiff:
    targets = tuple(p.profile.name for p in head.predictions)
    if targets != tuple(p.profile.name for p in base.predictions):
        raise ValueError("both models must be analyzed for the same targets, in the same order")
    before, after = Side.of(base, base_findings), Side.of(head, head_findings)
    return ModelDiff(
        base_path=base.model.path,
        head_path=head.model.path,
        targets=targets,
        base=totals(base),
        head=totals(head),
        base_params=base.cost.params,
        head_params=head.cost.params,
        layers=match_layers(base, head),
        new=beyond(after, before),
        fixed=beyond(before, after),
        base_anchors=before.anchors,
        head_anchors=after.anchors,
    )
