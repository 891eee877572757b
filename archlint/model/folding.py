"""Compute the small values a model's shapes and control flow depend on.

Exporters compute shapes inside the graph: ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``
in the main graph, ``Unsqueeze`` of an outer Constant as a Slice's axes inside a Loop body. The
main graph's values are computed from stored constants, static shapes and the user's input
values (``fold_values``); a body's constant computations become Constant nodes of the body
(``fold_bodies``), since onnx infers a body without propagating values into it. Only small
tensors are evaluated, with ``values``' numpy evaluators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint.model import values
from archlint.model.node_shapes import NodeShapes
from archlint.model.onnx_loader import SMALL_VALUE_LIMIT, small_value
from archlint.model.proto_graph import DEFAULT_DOMAINS, NodeFacts, has_subgraph, node_facts, replace_nodes

Array = np.ndarray[Any, Any]
Shape = tuple[int, ...]

# Operators whose output can be far larger than their inputs: evaluated only when shape
# inference already says the output is small (a ConstantOfShape that builds a weight is not).
_EXPANDING = frozenset(
    {"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot", "EyeLike"}
)


_NEVER_EVALUATED = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial"}
)


def stored_values(graph: onnx.GraphProto) -> dict[str, Array]:
    found: dict[str, Array] = {}
    for init in graph.initializer:
        value = small_value(init)  # None for the stubs: they are all larger than the limit
        if value is not None:
            found[init.name] = value
    return found


def fold_values(
    graph: onnx.GraphProto,
    shapes: Mapping[str, Shape],
    known: dict[str, Array],
    opset: int,
    facts: Sequence[NodeFacts] | None = None,
    node_shapes: NodeShapes | None = None,
) -> int:
    """Compute every small value that the known shapes and values determine; count new ones.
    ``facts``: the graph's ``node_facts``, when the caller holds them already. ``node_shapes``:
    infers, on the way, the outputs ``shapes`` lacks (it updates ``shapes``)."""
    added = 0
    for fact in node_facts(graph) if facts is None else facts:
        outputs = fact.named_outputs
        if not outputs or all(o in known for o in outputs):
            continue
        if node_shapes is not None and not all(o in shapes for o in outputs):
            node_shapes.infer(fact)
        # Whether the inputs are there first: it reads no proto, and most nodes stop at it.
        if not _inputs_ready(fact, shapes, known) or not _evaluable(fact.node):
            continue
        node_values = _node_values(fact.node, shapes, known, opset) or []
        for name, value in zip(fact.outputs, node_values, strict=False):
            value = np.asarray(value)
            if name and name not in known and value.size <= SMALL_VALUE_LIMIT and value.dtype.kind in "biuf":
                known[name] = value
                added += 1
    return added


def _inputs_ready(fact: NodeFacts, shapes: Mapping[str, Shape], known: Mapping[str, Array]) -> bool:
    """``_node_values``'s first test, on the facts: False where it would return None for want
    of an input's shape or value."""
    if fact.op_type in ("Shape", "Size"):
        return bool(fact.inputs) and shapes.get(fact.inputs[0]) is not None
    if fact.op_type == "Constant":
        return True
    present = [n for n in fact.inputs if n]
    return bool(present) and all(n in known and known[n].size <= SMALL_VALUE_LIMIT for n in present)


def fold_bodies(graph: onnx.GraphProto, outer: Mapping[str, Array], opset: int) -> int:
    """Turn the constant computations inside control-flow bodies into Constant nodes.

    Exporters compute a body's Slice axes or Reshape targets from constants (``Unsqueeze`` of an
    outer Constant); onnx infers a body without propagating such values, and reads no value of
    an outer-scope tensor, so the body's shapes stay unknown. A node rewritten here depends on
    nothing that varies between iterations; outer values a body node reads are copied into the
    body as Constant nodes of their own."""
    folded = 0
    for node in graph.node:
        for attr in node.attribute:
            for body in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                local = {k: v for k, v in outer.items() if k not in {i.name for i in body.input}}
                # Integer values (axes, starts, targets) decide shapes; float ones are weights.
                folded += _localize_outer_values(
                    body, {k: v for k, v in local.items() if v.dtype.kind in "biu"}
                )
                local |= stored_values(body)
                folded += _fold_constant_nodes(body, local, opset)
                folded += fold_bodies(body, local, opset)
    return folded


_LOCAL_SUFFIX = "::value"


def _localize_outer_values(body: onnx.GraphProto, outer: Mapping[str, Array]) -> int:
    """Read each outer value a body node uses from a Constant node inside the body."""
    defined = {o for n in body.node for o in n.output} | {i.name for i in body.initializer}
    read = [name for n in body.node for name in n.input if name in outer and name not in defined]
    constants = [
        helper.make_node("Constant", [], [name + _LOCAL_SUFFIX], value=numpy_helper.from_array(outer[name]))
        for name in dict.fromkeys(read)
        if name + _LOCAL_SUFFIX not in defined
    ]
    if not constants:
        return 0
    for node in body.node:
        for i, name in enumerate(node.input):
            if name in outer and name not in defined:
                node.input[i] = name + _LOCAL_SUFFIX
    replace_nodes(body, [*constants, *body.node])
    return len(constants)


def _fold_constant_nodes(graph: onnx.GraphProto, known: dict[str, Array], opset: int) -> int:
    folded = 0
    for node in graph.node:
        outputs = [o for o in node.output if o]
        if node.op_type == "Constant" or len(outputs) != 1 or not _evaluable(node):
            stored = _constant_value(node) if node.op_type == "Constant" and outputs else None
            if stored is not None:
                known[outputs[0]] = stored[0]
            continue
        result = _node_values(node, {}, known, opset)
        value = np.asarray(result[0]) if result else None
        if value is None or value.size > SMALL_VALUE_LIMIT or value.dtype.kind not in "biuf":
            continue
        known[outputs[0]] = value
        node.CopyFrom(
            helper.make_node("Constant", [], outputs, name=node.name, value=numpy_helper.from_array(value))
        )
        folded += 1
    return folded


def _evaluable(node: onnx.NodeProto) -> bool:
    return node.domain in DEFAULT_DOMAINS and node.op_type not in _NEVER_EVALUATED and not has_subgraph(node)


def _node_values(
    node: onnx.NodeProto, shapes: Mapping[str, Shape], known: Mapping[str, Array], opset: int
) -> list[Array] | None:
    if node.op_type in ("Shape", "Size"):
        shape = shapes.get(node.input[0]) if node.input else None
        return None if shape is None else [_shape_value(node, shape)]
    if node.op_type == "Constant":
        return _constant_value(node)
    present = [n for n in node.input if n]
    if not present or any(n not in known or known[n].size > SMALL_VALUE_LIMIT for n in present):
        return None
    if node.op_type in _EXPANDING and not all(
        o in shapes and int(np.prod(shapes[o])) <= SMALL_VALUE_LIMIT for o in node.output if o
    ):
        return None
    return values.evaluate(node, [known[n] if n else None for n in node.input], opset)


def _shape_value(node: onnx.NodeProto, shape: Shape) -> Array:
    dims = np.array(shape, dtype=np.int64)
    if node.op_type == "Size":
        return np.array(int(np.prod(dims)), dtype=np.int64)
    attrs = {a.name: a.i for a in node.attribute}
    rank = len(dims)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
    return dims[start:end]


def _constant_value(node: onnx.NodeProto) -> list[Array] | None:
    for attr in node.attribute:
        if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
            value = small_value(attr.t)
            return None if value is None else [value]
        if attr.name in ("value_int", "value_ints", "value_float", "value_floats"):
            return [
                np.array(
                    helper.get_attribute_value(attr), dtype=np.int64 if "int" in attr.name else np.float32
                )
            ]
    return None
