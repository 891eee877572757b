"""What an operator would cost if it were changed: "what if" questions answered by the cost table.

A rule that suggests a change (round a width, fold a BatchNormalization, replace a depthwise
pair with one dense conv) prices the alternative by building it as operators and costing them
with the same handlers, the same weight and byte accounting and the same roofline hints
(``reduction_length``, ``row_width``, padding) as the model's own operators. An alternative
therefore costs exactly what the same operators cost in a real model, and no rule re-derives a
formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from archlint.analysis.model_cost import NodeCost, cost_nodes
from archlint.model.dtypes import DType
from archlint.model.graph import Dim, Graph, Node, Tensor


def cost_alternative(
    nodes: Sequence[Node], tensors: Iterable[Tensor], weights: Iterable[str] = (), repeats: int = 1
) -> tuple[NodeCost, ...] | None:
    """Cost ``nodes`` (with every tensor they read or write in ``tensors``; ``weights`` are the
    stored ones) as if they were a model's; None when an operator cannot be costed."""
    by_name = {t.name: t for t in tensors}
    graph = Graph(
        name="alternative",
        nodes=tuple(nodes),
        inputs=tuple(n for n in by_name if n not in set(weights)),
        outputs=(),
        tensors=by_name,
        initializers=frozenset(weights),
    )
    return cost_nodes(graph, repeats=repeats)


def changed(
    cost: NodeCost,
    graph: Graph,
    constants: frozenset[str],
    shapes: Mapping[str, Sequence[Dim]] | None = None,
    attrs: Mapping[str, Any] | None = None,
    dtypes: Mapping[str, DType] | None = None,
    inputs: Sequence[Tensor] = (),
) -> NodeCost | None:
    """``cost``'s operator with some tensors reshaped or retyped, attributes changed, or extra
    inputs appended (``inputs``: a bias a fold adds), costed by its handler."""
    shapes, dtypes = shapes or {}, dtypes or {}
    node = cost.node
    added = tuple(t.name for t in inputs)
    alternative = replace(node, attrs={**node.attrs, **(attrs or {})}, inputs=node.inputs + added)
    tensors = list(inputs)
    for name in dict.fromkeys(n for n in (*node.inputs, *node.outputs) if n):
        original = graph.tensors.get(name)
        if original is None:
            return None
        shape = shapes.get(name, original.shape)
        dims = tuple(shape) if shape is not None else None
        tensors.append(Tensor(name, dtypes.get(name, original.dtype), dims))
    weights = {n for n in node.inputs if n in constants} | set(added)
    found = cost_alternative([alternative], tensors, weights, cost.repeats)
    return replace(found[0], name=cost.name) if found else None


def fused_kernel(chain: Sequence[NodeCost]) -> NodeCost:
    """A chain of operators run as one kernel, as an engine fuses pointwise epilogues: every
    member's arithmetic and inputs, and no intermediate tensor (each is written by one member
    and read once by the next, its only reader), so only the last member's output is written."""
    intermediate = sum(n.bytes_written for n in chain[:-1])
    return replace(
        chain[0],
        flops=sum(n.flops for n in chain),
        bytes_read=sum(n.bytes_read for n in chain) - intermediate,
        bytes_written=chain[-1].bytes_written,
        weight_bytes=sum(n.weight_bytes for n in chain),
    )
