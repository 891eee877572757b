"""Small facts and edits over onnx's graph protos that resolution, folding and inlining share."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import onnx

#: The default ONNX domain, as exporters write it.
DEFAULT_DOMAINS = ("", "ai.onnx")


#: The default-domain operators with graph attributes (If's branches, the bodies of Loop, Scan
#: and SequenceMap, in the ONNX operator specification). Reading a node's op type and domain is
#: a third of the cost of walking its attributes, and most graphs have none of these.
SUBGRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def may_have_subgraph(op_type: str, domain: str) -> bool:
    """False for an operator whose attributes cannot hold a graph: a default-domain one other
    than those of SUBGRAPH_OPS (another domain's operator may have any attribute)."""
    return op_type in SUBGRAPH_OPS or domain not in DEFAULT_DOMAINS


def has_subgraph(node: onnx.NodeProto) -> bool:
    return may_have_subgraph(node.op_type, node.domain) and _graph_attribute(node)


def _graph_attribute(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


@functools.cache
def op_schema(op_type: str, opset: int, domain: str = "") -> onnx.defs.OpSchema | None:
    """onnx's schema of an operator at an opset, None where onnx has none (looked up once)."""
    try:
        return onnx.defs.get_schema(op_type, max(opset, 1), domain)
    except Exception:  # no schema at this opset, or at all
        return None


class NodeFacts(NamedTuple):
    """A node's names, read from its proto once: protobuf builds a new Python object on every
    field read, and resolution asks each node the same questions in every round. (A named
    tuple: it is built for every node, and builds faster than a frozen dataclass.)"""

    node: onnx.NodeProto
    op_type: str
    inputs: tuple[str, ...]  # as written, "" for an absent optional input
    outputs: tuple[str, ...]  # as written
    named_outputs: tuple[str, ...]  # the outputs that are not ""
    domain: str
    control_flow: bool  # has a subgraph (If, Loop, Scan)


def node_facts(graph: onnx.GraphProto) -> list[NodeFacts]:
    """Facts of the graph's nodes, in order; valid until its node list or their names change
    (edits inside a node's subgraphs leave them valid)."""
    facts = []
    for node in graph.node:
        op_type, domain, outputs = node.op_type, node.domain, tuple(node.output)
        named = tuple(o for o in outputs if o)
        control_flow = may_have_subgraph(op_type, domain) and _graph_attribute(node)
        facts.append(NodeFacts(node, op_type, tuple(node.input), outputs, named, domain, control_flow))
    return facts


def replace_nodes(graph: onnx.GraphProto, nodes: Sequence[onnx.NodeProto]) -> None:
    """Make ``nodes`` the graph's node list. They are copied first: some of them may be the
    graph's own messages, which clearing the repeated field would take from under them."""
    copies = [onnx.NodeProto() for _ in nodes]
    for copy, node in zip(copies, nodes, strict=True):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def static_shape(info: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    """A tensor's declared shape when every dimension is a number; None otherwise (a symbol, an
    unknown rank, or no tensor type at all)."""
    type_proto = info.type
    return static_dims(type_proto.tensor_type) if type_proto.HasField("tensor_type") else None


def static_dims(tensor_type: onnx.TypeProto.Tensor) -> tuple[int, ...] | None:
    """``static_shape`` of a tensor type."""
    if not tensor_type.HasField("shape"):
        return None
    # One pass that stops at the first symbol: every field read builds a Python object, and
    # resolution reads every tensor of every graph this way.
    shape = []
    for dim in tensor_type.shape.dim:
        if not dim.HasField("dim_value"):
            return None
        shape.append(dim.dim_value)
    return tuple(shape)


def set_shape(info: onnx.ValueInfoProto, shape: Sequence[int]) -> None:
    """Declare ``shape`` for a tensor; a rank-0 tensor still gets a (known, empty) shape."""
    _set_dims(info.type, shape)


def set_static_type(type_proto: onnx.TypeProto, elem_type: int, shape: Sequence[int]) -> None:
    """Make ``type_proto`` a tensor type of ``elem_type`` and static ``shape``, in place: what
    onnx.helper's make_tensor_type_proto builds, without the checks and copies that made it a
    third of assembling a resolved graph of many tensors."""
    type_proto.tensor_type.elem_type = elem_type
    _set_dims(type_proto, shape)


def _set_dims(type_proto: onnx.TypeProto, shape: Sequence[int]) -> None:
    tensor_shape = type_proto.tensor_type.shape
    tensor_shape.ClearField("dim")
    tensor_shape.SetInParent()
    for dim in shape:
        tensor_shape.dim.add().dim_value = dim
