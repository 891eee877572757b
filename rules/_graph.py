"""Small graph questions several rules ask."""

from __future__ import annotations

from archlint.costs.record import OpClass
from archlint.model_cost import NodeCost
from archlint.rule import RuleContext

# Operators that pass a tensor's channels through unchanged: looking through them finds where
# channels really come from (a model input) or go to (a model output).
_PASS_THROUGH = frozenset({OpClass.VIEW, OpClass.ELEMENTWISE, OpClass.NORMALIZATION, OpClass.QUANTIZE})


def fed_by_model_input(ctx: RuleContext, node: NodeCost) -> bool:
    """Whether the node's data input is a model input, possibly through pass-through ops."""
    name = node.node.inputs[0] if node.node.inputs else ""
    for _ in range(8):
        if name in ctx.cost.model.graph.inputs:
            return True
        producer = ctx.producers.get(name)
        if producer is None or producer.op_class not in _PASS_THROUGH or not producer.node.inputs:
            return False
        name = producer.node.inputs[0]
    return False


def feeds_model_output(ctx: RuleContext, node: NodeCost) -> bool:
    """Whether the node's output reaches a model output through pass-through ops only."""
    frontier = [o for o in node.node.outputs if o]
    for _ in range(8):
        if any(name in ctx.cost.model.graph.outputs for name in frontier):
            return True
        readers = [r for name in frontier for r in ctx.consumers.get(name, [])]
        if not readers or any(r.op_class not in _PASS_THROUGH for r in readers):
            return False
        frontier = [o for r in readers for o in r.node.outputs if o]
    return False
