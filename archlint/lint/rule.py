"""The contract for rules, built-in and third-party.

A rule is a class with a code (``AL101``), a kebab-case name, a severity per target kind, an
options model, and a ``check`` that reads the analysis of one model on one target and yields
Findings. The class docstring is the rule's documentation, in ruff's structure (What it does /
Why is this bad? / Example / Use instead / Options / References): ``archlint rule CODE`` prints
it and docs/rules/<name>.md is generated from it.

Rules never recompute costs: to say what a fix saves they build the changed operator
(``RuleContext.alternative``: other shapes, attributes or types) and let the cost table and the
roofline price it, then compare (``RuleContext.saving_by``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from archlint.analysis.analysis import Analysis
from archlint.analysis.model_cost import ModelCost, NodeCost
from archlint.analysis.roofline import NodeTime, Prediction, node_time
from archlint.analysis.whatif import changed
from archlint.lint.diagnostics import Finding, Severity
from archlint.model.graph import Graph
from archlint.targets.profile import HardwareProfile


def options_text(options_type: type[RuleOptions]) -> str:
    """One line per option: name, default and the field's description (the docs' Options)."""
    lines = []
    shared = RuleOptions.model_fields
    # The rule's own options first, then the ones every rule has.
    ordered = [n for n in options_type.model_fields if n not in shared] + list(shared)
    for name in ordered:
        field = options_type.model_fields[name]
        text = field.description or ""
        lines.append(f"- `{name}` (default `{field.default}`): {text[:1].lower()}{text[1:]}".rstrip())
    return "\n".join(lines) + "\n" if lines else "None.\n"


def severity_by_kind(**kinds: Severity) -> Mapping[str, Severity]:
    """A rule's severity per target kind, e.g. ``severity_by_kind(gpu=Severity.WARNING)``."""
    return MappingProxyType(kinds)


class RuleOptions(BaseModel):
    """Base of every rule's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_saving_share: float | None = Field(
        None,
        ge=0,
        lt=1,
        description=(
            "A finding whose fix saves less than this share of the predicted latency is info, not "
            "a warning; unset: the global `min-saving-share`."
        ),
    )


class Rule(ABC):
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # one line, shown by `archlint rules`
    # Severity on each kind of target ("gpu", "cpu", "npu", "other"); a kind that is absent
    # means the pattern costs nothing there and the rule stays silent.
    severity: ClassVar[Mapping[str, Severity]]
    options_type: ClassVar[type[RuleOptions]] = RuleOptions
    fix_applicability: ClassVar[str | None] = None  # "safe" or "unsafe" when `archlint fix` can apply it

    def __init__(self, options: RuleOptions | None = None) -> None:
        self.options = options if options is not None else self.options_type()

    @abstractmethod
    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        """Yield a Finding per problem in ``ctx`` (one model on one target)."""

    @classmethod
    def documentation(cls) -> str:
        """The docstring, its ``## Options`` section written from the options model: each option
        is described once, by its pydantic field, and the docs cannot drift from it."""
        doc = inspect.cleandoc(cls.__doc__ or "")
        head, found, tail = doc.partition("## Options")
        if not found:
            return doc
        rest = tail[tail.find("\n## ") :] if "\n## " in tail else ""
        return f"{head}## Options\n{options_text(cls.options_type)}{rest}"

    @classmethod
    def applies_to(cls, profile: HardwareProfile) -> bool:
        return profile.kind in cls.severity


@dataclass(frozen=True)
class RuleContext:
    """One model on one target, as a rule sees it."""

    analysis: Analysis
    prediction: Prediction

    @property
    def cost(self) -> ModelCost:
        return self.analysis.cost

    @property
    def profile(self) -> HardwareProfile:
        return self.prediction.profile

    @property
    def latency_s(self) -> float:
        return self.prediction.latency_s

    @cached_property
    def _by_node(self) -> dict[int, NodeTime]:
        return {id(t.cost): t for t in self.prediction.nodes}

    def timed(self, node: NodeCost) -> NodeTime:
        return self._by_node.get(id(node)) or node_time(node, self.profile)

    def time(self, node: NodeCost) -> float:
        return self.timed(node).time_s

    def share(self, node: NodeCost) -> float:
        """Fraction of the predicted batch-1 latency this operator takes."""
        return self.time(node) / self.latency_s if self.latency_s else 0.0

    @cached_property
    def _graphs(self) -> dict[int, Graph]:
        """The graph (main or a control-flow body) each operator lives in, by id of its Node."""
        found: dict[int, Graph] = {}
        pending = [self.cost.model.graph]
        while pending:
            graph = pending.pop()
            for node in graph.nodes:
                found[id(node)] = graph
                pending.extend(node.subgraphs.values())
        return found

    def alternative(self, node: NodeCost, **changes: Any) -> NodeCost | None:
        """``node``'s operator changed (see archlint.analysis.whatif.changed for ``changes``),
        costed by the cost table; None when it cannot be costed."""
        graph = self._graphs.get(id(node.node), self.cost.model.graph)
        return changed(node, graph, self.cost.constant_tensors | graph.initializers, **changes)

    def time_of(self, nodes: Iterable[NodeCost]) -> float:
        """Predicted time of operators that are not in the model (an alternative), unfused."""
        return sum(node_time(n, self.profile).time_s for n in nodes)

    def saving_by(self, replaced: Sequence[NodeCost], alternative: Sequence[NodeCost] | None) -> float | None:
        """Latency saved by running ``alternative`` instead of ``replaced`` (negative: slower).

        The replaced operators count as predicted (fused ones cost nothing), less the layout
        conversions charged at their edges: the alternative sits at the same edges and pays them
        alike, and ``time_of`` does not see them."""
        if alternative is None:
            return None
        spent = sum(self.timed(n).time_s - self.timed(n).layout_s for n in replaced)
        return spent - self.time_of(alternative)

    @cached_property
    def nodes_by_name(self) -> dict[str, NodeCost]:
        return {n.name: n for n in self.cost.nodes}

    @cached_property
    def producers(self) -> dict[str, NodeCost]:
        return {out: n for n in self.cost.nodes for out in n.node.outputs if out}

    @cached_property
    def consumers(self) -> dict[str, list[NodeCost]]:
        readers: dict[str, list[NodeCost]] = {}
        for n in self.cost.nodes:
            for name in n.node.inputs:
                if name:
                    readers.setdefault(name, []).append(n)
        return readers


@dataclass(frozen=True)
class RegisteredRule:
    """A rule with the plugin that registered it (the distribution, or the built-in module)."""

    rule: type[Rule]
    plugin: str
