"""Peak activation memory by liveness over the graph's (topological) node order.

Each activation is allocated when its producer runs and freed after its last consumer (graph
outputs stay to the end). View operators alias their input and allocate nothing. Weights are
resident throughout and added by the caller. Subgraph internals are not tracked: a control-flow
node counts its outputs, which is what the outer graph must hold.
"""

from __future__ import annotations

from collections.abc import Iterator

from archlint.analysis.costs.families import view
from archlint.analysis.costs.table import handler_for
from archlint.model.constants import Constants
from archlint.model.graph import Graph, Node


def peak_activation_bytes(graph: Graph, constants: Constants) -> int:
    alias: dict[str, str] = {}
    runtime = [(i, n) for i, n in enumerate(graph.nodes) if i not in constants.folded]
    for _, node in runtime:
        if _is_alias(node) and node.inputs and node.outputs:
            alias[node.outputs[0]] = alias.get(node.inputs[0], node.inputs[0])
    last_use: dict[str, int] = {}
    for step, (_, node) in enumerate(runtime):
        for name in _consumed(node):
            last_use[alias.get(name, name)] = step
    for name in graph.outputs:
        last_use[alias.get(name, name)] = len(runtime)

    live = sum(_size(graph, name) for name in graph.inputs)
    peak = live
    freed: set[str] = set()
    for step, (_, node) in enumerate(runtime):
        produced = [o for o in node.outputs if o and o not in alias]
        live += sum(_size(graph, o) for o in produced)
        peak = max(peak, live)
        for name in {alias.get(n, n) for n in (*_consumed(node), *produced)}:
            if last_use.get(name, step) <= step and name not in constants.tensors and name not in freed:
                live -= _size(graph, name)
                freed.add(name)
    return peak


def _is_alias(node: Node) -> bool:
    return handler_for(node.domain, node.op_type) is view


def _consumed(node: Node) -> Iterator[str]:
    yield from (name for name in node.inputs if name)
    for body in node.subgraphs.values():
        yield from _outer_references(body)


def _outer_references(graph: Graph) -> Iterator[str]:
    """Names a subgraph reads from enclosing scopes (what keeps them alive in the outer graph)."""
    defined = set(graph.inputs) | set(graph.initializers)
    for node in graph.nodes:
        for name in _consumed(node):
            if name and name not in defined:
                yield name
        defined.update(node.outputs)


def _size(graph: Graph, name: str) -> int:
    tensor = graph.tensor(name)
    size = tensor.nbytes if tensor is not None else None
    return size or 0
