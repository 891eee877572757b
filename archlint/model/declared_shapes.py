"""Shapes archlint declares where onnx's shape inference gives none.

onnx knows no schema for onnxruntime's contrib operators (``contrib_shapes`` has their output
shapes); it infers a Loop or Scan body from the outer types without writing them back, and
leaves a Loop's outputs shapeless because a carried value "may change shape across
iterations". Each function here declares what it can tell as value infos of the graph being
resolved and returns how many it declared, so that the resolution loop knows it learned
something.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper

from archlint.model import contrib_shapes
from archlint.model.proto_graph import DEFAULT_DOMAINS, NodeFacts, set_shape, static_shape

if TYPE_CHECKING:
    from archlint.model.node_shapes import NodeShapes

Array = np.ndarray[Any, Any]
Shape = tuple[int, ...]

# Operators onnxruntime defines in the default domain (no onnx schema at the opsets they appear
# at): their shapes come from contrib_shapes like those of com.microsoft operators.
_RUNTIME_DEFAULT_DOMAIN_OPS = frozenset({"SimplifiedLayerNormalization", "LayerNormalization"})


def onnx_infers(domain: str, op_type: str) -> bool:
    """Whether onnx's own shape inference knows the operator (else contrib_shapes does)."""
    return domain in DEFAULT_DOMAINS and op_type not in _RUNTIME_DEFAULT_DOMAIN_OPS


def contrib_output_shapes(
    work: onnx.ModelProto,
    facts: Sequence[NodeFacts],
    shapes: dict[str, Shape],
    types: dict[str, int],
    done: set[str],
    node_shapes: NodeShapes | None = None,
) -> int:
    """Declare the output shapes of contrib operators whose inputs are resolved. They go into
    ``shapes`` and ``types`` too; with ``node_shapes``, the onnx operators between two contrib
    operators are inferred on the way, so that a chain of them (a quantized encoder's
    QLinearMatMul, QLinearAdd, ...) is declared in one walk, not one link per inference.
    ``facts``: the main graph's ``node_facts``."""
    added = 0
    outputs = {o.name: o for o in work.graph.output}
    for fact in facts:
        if all(o in shapes or o in done for o in fact.named_outputs):
            continue
        if onnx_infers(fact.domain, fact.op_type):
            if node_shapes is not None:
                node_shapes.infer(fact)
            continue
        node = fact.node
        in_shapes = [shapes.get(n) if n else None for n in fact.inputs]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        results = contrib_shapes.output_shapes(fact.op_type, in_shapes, attrs)
        for index, (name, shape) in enumerate(zip(fact.outputs, results, strict=False)):
            if not name or shape is None or name in shapes or name in done:
                continue
            elem_type = contrib_shapes.OUTPUT_TYPES.get(fact.op_type, {}).get(index)
            elem_type = types.get(name) or elem_type or types.get(fact.inputs[0], onnx.TensorProto.FLOAT)
            _declare(work, name, elem_type, shape, outputs)
            shapes[name], types[name] = shape, elem_type
            done.add(name)
            added += 1
    return added


def _declare(
    work: onnx.ModelProto, name: str, elem_type: int, shape: Shape, outputs: Mapping[str, onnx.ValueInfoProto]
) -> None:
    info = helper.make_tensor_value_info(name, elem_type, shape)
    if name in outputs:  # inference reads a graph output's type from the output itself
        outputs[name].CopyFrom(info)
    else:
        work.graph.value_info.append(info)


def loop_output_shapes(
    work: onnx.ModelProto, inferred: onnx.ModelProto, shapes: Mapping[str, Shape], known: Mapping[str, Array]
) -> int:
    """Shapes of a Loop's outputs, which onnx leaves unknown ("shape may change across
    iterations"): a carried value whose body output has its body input's shape keeps it, and
    a scan output stacks one body output per trip when the trip count is known."""
    added = 0
    outputs = {o.name: o for o in work.graph.output}
    for node in inferred.graph.node:
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        if node.op_type != "Loop" or body is None or node.domain not in DEFAULT_DOMAINS:
            continue
        carried = len(node.input) - 2
        body_in, body_out = [static_shape(i) for i in body.input], [static_shape(o) for o in body.output]
        for index, name in enumerate(node.output):
            out = body_out[index + 1] if index + 1 < len(body_out) else None
            if not name or name in shapes or out is None:
                continue
            if index < carried:
                shape = out if 2 + index < len(body_in) and body_in[2 + index] == out else None
            else:
                trips = known.get(node.input[0]) if node.input[0] else None
                shape = (
                    (int(np.asarray(trips).reshape(-1)[0]), *out)
                    if trips is not None and np.asarray(trips).size == 1
                    else None
                )
            if shape is not None:
                _declare(work, name, body.output[index + 1].type.tensor_type.elem_type, shape, outputs)
                added += 1
    return added


def body_input_shapes(graph: onnx.GraphProto, shapes: Mapping[str, Shape]) -> int:
    """Declare Loop and Scan body inputs from the outer tensors that feed them.

    onnx infers a body with the outer types but does not write them back, and the declared ones
    are dropped after a rebinding; without them nothing in the body resolves."""
    added = 0
    for node in graph.node:
        body = next(
            (a.g for a in node.attribute if a.name == "body" and a.type == onnx.AttributeProto.GRAPH), None
        )
        if body is None or node.domain not in DEFAULT_DOMAINS:
            continue
        for info, shape in zip(body.input, _body_shapes(node, body, shapes), strict=False):
            if shape is None or not info.type.HasField("tensor_type") or static_shape(info) is not None:
                continue
            set_shape(info, shape)
            added += 1
    return added


def _body_shapes(
    node: onnx.NodeProto, body: onnx.GraphProto, shapes: Mapping[str, Shape]
) -> list[Shape | None]:
    """Loop: iteration number and condition (scalars), then the carried values; Scan: the
    state values, then one slice of each scanned input."""
    if node.op_type == "Loop":
        return [(), (), *(shapes.get(name) for name in node.input[2:])]
    if node.op_type != "Scan":
        return []
    scan_count = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
    states = len(node.input) - scan_count
    axes = next((list(a.ints) for a in node.attribute if a.name == "scan_input_axes"), [0] * scan_count)
    result: list[Shape | None] = [shapes.get(name) for name in node.input[:states]]
    for name, axis in zip(node.input[states:], axes, strict=False):
        shape = shapes.get(name)
        result.append(
            None
            if shape is None or not shape
            else shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
        )
    return result
