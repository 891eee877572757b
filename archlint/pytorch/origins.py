"""Record, on each exported node, the torch operations it absorbed when the exporter fused them.

The exporter's optimizer folds a BatchNorm into the convolution before it (and a bias Add into a
Gemm, a Cast into a constant, ...) and keeps the metadata of the last operation only: the fused
Conv says it ran in ``features.0.bn``, not in ``features.0.conv``. The traced program still knows
every torch operation, its module and its stack. An operation that no exported node carries any
more was absorbed by the nodes that consume it; those nodes get an ``archlint.origins`` entry
(JSON: module path, innermost module class, torch operator, innermost repository frame) so that
source_locations can place the node on the module whose operator it now performs.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from archlint.model.source_locations import NAME_SCOPES, ORIGINS_KEY, innermost_project_frame

if TYPE_CHECKING:
    import onnx
    import torch.fx

#: Producers followed back from one node: fused chains are a few operations long, and a constant
#: folded from a long computation must not make every line of it a location of its consumer.
_MAX_ABSORBED = 8


def annotate(proto: onnx.ModelProto, graph: torch.fx.Graph) -> None:
    """Add ``archlint.origins`` to the nodes of ``proto`` that absorbed operations of ``graph``."""
    operations = {node.name: node for node in graph.nodes if node.op == "call_function"}
    nodes = list(_all_nodes(proto.graph))
    carried = {name for node in nodes if (name := _operation(node)) is not None}
    for node in nodes:
        own = operations.get(_operation(node) or "")
        if own is None:
            continue
        absorbed = [_origin(op) for op in _absorbed(own, carried) if _is_operator(op)]
        if absorbed:
            node.metadata_props.add(key=ORIGINS_KEY, value=json.dumps(absorbed))


def _all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.HasField("g") else []
            for subgraph in [*subgraphs, *attribute.graphs]:
                yield from _all_nodes(subgraph)


def _operation(node: onnx.NodeProto) -> str | None:
    """The traced operation a node was exported from: the last of its name scopes."""
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return None
            return str(scopes[-1]) if isinstance(scopes, list) and scopes else None
    return None


def _absorbed(own: torch.fx.Node, carried: set[str]) -> list[torch.fx.Node]:
    """The operations feeding ``own`` (transitively) that no exported node carries."""
    found: list[torch.fx.Node] = []
    pending = list(own.all_input_nodes)
    seen = {own.name}
    while pending and len(found) < _MAX_ABSORBED:
        producer = pending.pop(0)
        if producer.name in seen or producer.op != "call_function" or producer.name in carried:
            continue
        seen.add(producer.name)
        found.append(producer)
        pending.extend(producer.all_input_nodes)
    return found


def _is_operator(operation: torch.fx.Node) -> bool:
    """A torch operator (``aten.conv2d``), not plumbing such as ``getitem`` on a tuple result."""
    return hasattr(operation.target, "_schema")


def _origin(operation: torch.fx.Node) -> dict[str, Any]:
    stack = operation.meta.get("nn_module_stack") or {}
    module, layer = list(stack.values())[-1] if stack else ("", "")
    frame = innermost_project_frame(str(operation.meta.get("stack_trace") or ""))
    return {
        "module": str(module),
        "layer": layer if isinstance(layer, str) else f"{layer.__module__}.{layer.__qualname__}",
        "op": str(operation.target),
        "frame": [frame.path, frame.line] if frame is not None else None,
    }
