"""Resolve every shape and every small value a model's structure depends on, to a fixpoint.

Exporters compute shapes inside the graph (``Shape -> Gather -> Concat -> Reshape``), pick branches
on them (``Shape -> Gather -> Equal -> If``) and count loops with them. One round:

1. onnx's shape inference (C++, with data propagation) on a *skeleton* of the model: the same
   graph with large weights replaced by their type and dims, and with every value known so far
   turned into an initializer, so that inference reads folded Reshape targets as constants;
2. the shapes onnx's inference leaves out (``declared_shapes``): onnxruntime's contrib operators'
   outputs, Loop and Scan body inputs, a Loop's outputs;
3. values of the small tensors that are now computable (``folding``), from the user's input
   values, stored constants and static shapes, and the constant computations inside bodies;
4. every main-graph If whose condition became known is replaced by the branch it takes
   (``inline``), so the outer shapes flow into it.

Rounds repeat while one of them learns something. Each round adds a value or a shape, or removes
an If, and there are finitely many of each, so the loop ends without a fixed cap. The caller's
proto is never modified.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint.errors import ShapeError
from archlint.model.declared_shapes import (
    body_input_shapes,
    contrib_output_shapes,
    loop_output_shapes,
    onnx_infers,
)
from archlint.model.folding import fold_bodies, fold_values, stored_values
from archlint.model.graph import Tensor
from archlint.model.inline import inline_known_ifs
from archlint.model.node_shapes import NodeShapes
from archlint.model.onnx_loader import SMALL_VALUE_LIMIT
from archlint.model.proto_graph import (
    DEFAULT_DOMAINS,
    NodeFacts,
    has_subgraph,
    node_facts,
    set_static_type,
    static_dims,
    static_shape,
)

Array = np.ndarray[Any, Any]
Shape = tuple[int, ...]


class Resolved(NamedTuple):
    """The skeleton with every shape it could resolve, the main graph's known values, and the
    weights stored in the If branches that inlining left out."""

    proto: onnx.ModelProto
    values: Mapping[str, Array]
    untaken: Mapping[str, onnx.TensorProto]
    decided_ifs: tuple[str, ...] = ()  # Ifs the binding decided, inlined as their taken branch


def skeleton(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, onnx.TensorProto]]:
    """A copy of ``proto`` whose large main-graph initializers carry only name, type and dims,
    and the original initializers those stubs stand for (by name)."""
    copy = onnx.ModelProto()
    for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        setattr(copy, name, getattr(proto, name))
    copy.opset_import.extend(proto.opset_import)
    copy.metadata_props.extend(proto.metadata_props)
    copy.functions.extend(proto.functions)
    graph, target = proto.graph, copy.graph
    target.name = graph.name
    for name in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(target, name).extend(getattr(graph, name))
    weights: dict[str, onnx.TensorProto] = {}
    for init in graph.initializer:
        if math.prod(init.dims) <= SMALL_VALUE_LIMIT:
            target.initializer.append(init)
            continue
        stub = target.initializer.add()
        stub.name, stub.data_type = init.name, init.data_type
        stub.dims.extend(init.dims)
        weights[init.name] = init
    return copy, weights


def resolve(work: onnx.ModelProto, given: Mapping[str, Array]) -> Resolved:
    """Infer, fold and inline on ``work`` (a skeleton this call may change) until nothing changes."""
    known: dict[str, Array] = {**stored_values(work.graph), **given}
    contrib_done: set[str] = set()
    untaken: dict[str, onnx.TensorProto] = {}
    decided: list[str] = []
    opset = next((o.version for o in work.opset_import if o.domain in DEFAULT_DOMAINS), 1)
    # Shape sub-graphs that read only bound inputs and stored constants fold before the first
    # inference, so that it already sees their Reshape targets: one inference in the common case.
    # The main graph's node facts: they hold until inlining replaces nodes.
    facts = node_facts(work.graph)
    control_flow, contrib = _passes_needed(facts)
    shapes, types = _static_shapes(work.graph)
    fold_values(work.graph, shapes, known, opset, facts)
    as_initializers: dict[str, onnx.TensorProto] = {}
    while True:
        inferred, kept = _infer_with_values(work, known, as_initializers, facts)
        shapes, types = _static_shapes(inferred.graph, shapes, types)
        _add_value_shapes(shapes, types, known)
        learned = 0
        # Operators behind a value onnx could not propagate, or behind a contrib operator, get
        # their shapes here, one by one, so that what follows them is resolved in this round.
        node_shapes = NodeShapes(shapes, types, known, opset, work.opset_import, _inference_ir(work))
        if contrib:
            learned += contrib_output_shapes(work, facts, shapes, types, contrib_done, node_shapes)
        if control_flow:
            learned += body_input_shapes(work.graph, shapes)
            learned += loop_output_shapes(work, inferred, shapes, known)
        learned += fold_values(work.graph, shapes, known, opset, facts, node_shapes)
        inlined = 0
        if control_flow:
            learned += fold_bodies(work.graph, known, opset)
            inlined = inline_known_ifs(work, known, untaken, decided)
        if not learned + inlined:
            return Resolved(_assemble(work, inferred, kept, known), known, untaken, tuple(decided))
        if not control_flow and not contrib and _settled(facts, shapes, known):
            # Every tensor has a static shape or a value now: another inference could only
            # confirm them. The shapes this round inferred node by node join the proto here.
            final = _assemble(work, inferred, kept, known, (shapes, types))
            return Resolved(final, known, untaken, tuple(decided))
        if inlined:  # the main graph's nodes changed (fold_bodies edits only inside bodies)
            facts = node_facts(work.graph)
            control_flow, contrib = _passes_needed(facts)


def _passes_needed(facts: Sequence[NodeFacts]) -> tuple[bool, bool]:
    """Whether the graph has control flow, and operators onnx cannot infer: most graphs have
    neither, and resolution skips the passes for them."""
    control_flow = any(f.control_flow for f in facts)
    return control_flow, any(not onnx_infers(f.domain, f.op_type) for f in facts)


def _infer_with_values(
    work: onnx.ModelProto,
    known: Mapping[str, Array],
    as_initializers: dict[str, onnx.TensorProto],
    facts: Sequence[NodeFacts],
) -> tuple[onnx.ModelProto, list[int]]:
    """Shape inference on a copy of ``work`` where every known value is an initializer and the
    nodes that computed them are gone; returns it with the indices of the nodes it kept.
    ``as_initializers`` keeps each value's tensor form from one round to the next (values
    never change once known)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(work)
    copy.ir_version = _inference_ir(work)
    graph = copy.graph
    kept = [i for i, fact in enumerate(facts) if not _computed(fact, known)]
    read = _read_by(facts, kept, graph)
    del graph.node[:]
    graph.node.extend(facts[i].node for i in kept)  # copies of work's nodes
    inputs = [i for i in graph.input if i.name not in known]
    del graph.input[:]
    graph.input.extend(inputs)
    stored = {i.name for i in graph.initializer}
    for name, value in known.items():
        if name not in stored and (read is None or name in read):
            if name not in as_initializers:
                as_initializers[name] = numpy_helper.from_array(np.asarray(value), name)
            graph.initializer.append(as_initializers[name])
    return run_inference(copy), kept


def _read_by(facts: Sequence[NodeFacts], kept: Sequence[int], graph: onnx.GraphProto) -> set[str] | None:
    """The tensors inference can read a value of (None: any): the kept nodes' inputs and the
    graph's outputs. A known value only folded nodes read (most of a ``Shape -> Gather ->
    Concat`` chain) has no reader left: as an initializer it would only be copied, serialised,
    parsed by inference and parsed back, and ``_assemble`` gives it its value info. A kept node
    with a subgraph may read any outer value."""
    if any(facts[i].control_flow for i in kept):
        return None
    return {name for i in kept for name in facts[i].inputs} | {o.name for o in graph.output}


def _inference_ir(work: onnx.ModelProto) -> int:
    """The IR version inference reads ``work`` under. Before IR 4 an initializer counts only
    when it is also a graph input; the known values resolution turns into initializers are not."""
    return max(work.ir_version, 4)


def _computed(fact: NodeFacts, known: Mapping[str, Array]) -> bool:
    outputs = fact.named_outputs
    return bool(outputs) and not fact.control_flow and all(o in known for o in outputs)


def run_inference(proto: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # an inconsistent model: say which check failed, in one line
        raise ShapeError(f"shape inference failed: {_last_line(exc)}") from exc


def _last_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _static_shapes(
    graph: onnx.GraphProto,
    before: Mapping[str, Shape] | None = None,
    before_types: Mapping[str, int] | None = None,
) -> tuple[dict[str, Shape], dict[str, int]]:
    """Static shapes and element types of the main graph's tensors. ``before`` (and its types):
    what an earlier round found; a static shape stays what it was, so its proto is not read again."""
    shapes: dict[str, Shape] = {}
    types: dict[str, int] = {}
    before, before_types = before or {}, before_types or {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        name = info.name
        if name in before and name in before_types:
            shapes[name], types[name] = before[name], before_types[name]
            continue
        type_proto = info.type
        if not type_proto.HasField("tensor_type"):
            continue
        tensor_type = type_proto.tensor_type
        types[name] = tensor_type.elem_type
        shape = static_dims(tensor_type)
        if shape is not None:
            shapes[name] = shape
    for init in graph.initializer:
        shapes[init.name], types[init.name] = tuple(init.dims), init.data_type
    return shapes, types


def _add_value_shapes(shapes: dict[str, Shape], types: dict[str, int], known: Mapping[str, Array]) -> None:
    """The shape and type of each known value inference was not given (no kept node reads it)."""
    for name, value in known.items():
        if name not in shapes:
            shapes[name] = value.shape
            types[name] = _tensor_type(value.dtype)


@functools.cache
def _tensor_type(dtype: np.dtype[Any]) -> int:
    return helper.np_dtype_to_tensor_dtype(dtype)


def _settled(facts: Sequence[NodeFacts], shapes: Mapping[str, Shape], known: Mapping[str, Array]) -> bool:
    """Whether every node output of the main graph has a static shape or a known value."""
    return all(name in shapes or name in known for fact in facts for name in fact.named_outputs)


def _assemble(
    work: onnx.ModelProto,
    inferred: onnx.ModelProto,
    kept: list[int],
    known: Mapping[str, Array],
    found: tuple[Mapping[str, Shape], Mapping[str, int]] | None = None,
) -> onnx.ModelProto:
    """``work``'s nodes with the inferred shapes: control-flow nodes come from the inferred copy
    (their subgraphs carry inferred shapes), and folded tensors get value infos of their own.
    ``found``: static shapes and element types learned since ``inferred`` was inferred, for the
    tensors it has no static shape for."""
    final = onnx.ModelProto()
    final.CopyFrom(work)
    graph = final.graph
    inferred_nodes = dict(zip(kept, inferred.graph.node, strict=True))
    for index, node in enumerate(graph.node):
        if has_subgraph(node) and index in inferred_nodes:
            node.CopyFrom(inferred_nodes[index])
    del graph.value_info[:]
    graph.value_info.extend(inferred.graph.value_info)
    outputs = {o.name: o for o in inferred.graph.output}
    for output in graph.output:
        if output.name in outputs:
            output.CopyFrom(outputs[output.name])
    stored = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    if found is not None:
        _add_static_shapes(graph, stored, *found)
    for name, value in known.items():
        if name not in stored and value.dtype.kind in "biuf":
            info = graph.value_info.add()
            info.name = name
            set_static_type(info.type, _tensor_type(value.dtype), value.shape)
    return final


def _add_static_shapes(
    graph: onnx.GraphProto, stored: set[str], shapes: Mapping[str, Shape], types: Mapping[str, int]
) -> None:
    """A static type for every node output in ``shapes`` (graph outputs included, ``stored``
    tensors left out) whose value info has none."""
    infos = {info.name: info for info in [*graph.value_info, *graph.output]}
    for node in graph.node:
        for name in node.output:
            if not name or name in stored or name not in shapes or name not in types:
                continue
            info = infos.get(name)
            if info is not None and static_shape(info) is not None:
                continue
            if info is None:
                info = graph.value_info.add()
                info.name = name
            set_static_type(info.type, types[name], shapes[name])


# Operators whose output shape depends on data values: unresolved outputs are expected there.
_DATA_DEPENDENT = frozenset(
    [
        "NonZero",
        "Unique",
        "NonMaxSuppression",
        "Compress",
        "TopK",
        "Loop",
        "Scan",
        "If",
        "Resize",
        "Upsample",
        "Range",
        "Expand",
        "Tile",
        "Pad",
        "ConstantOfShape",
        "Reshape",
        "Slice",
        "Split",
        "OneHot",
        "StringSplit",
        "CenterCropPad",
    ]
)


def check_consistency(resolved: Resolved, declared: Mapping[str, Tensor]) -> None:
    """Refuse a model that cannot run at the bound shapes: a node whose inputs all resolved but
    whose outputs onnx cannot infer is one where a frozen size (a weight's dimension, a traced
    constant) contradicts the shapes flowing in. Strict inference names the node and the sizes.
    ``declared``: the resolved main graph's ``onnx_loader.declared_tensors``."""
    shapes = {name: t.static_shape for name, t in declared.items() if t.static_shape is not None}
    shapes.update((init.name, tuple(init.dims)) for init in resolved.proto.graph.initializer)
    if not any(_stuck(node, shapes) for node in resolved.proto.graph.node):
        return
    try:
        onnx.shape_inference.infer_shapes(resolved.proto, check_type=False, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise ShapeError(
            f"{_refusal(_last_line(exc), resolved.proto.graph, shapes)}: the model does not run with these "
            "input shapes (a size it fixes, such as a weight's dimension or a traced constant, disagrees)"
        ) from None


# onnx's strict-mode message: "... (op_type:MatMul, node name: mix): [ShapeInferenceError] why".
_INFERENCE_ERROR = re.compile(
    r"\(op_type:(?P<op>[^,]+), node name: (?P<node>[^)]*)\): (?:\[\w+\] )?(?P<why>.*)"
)


def _refusal(message: str, graph: onnx.GraphProto, shapes: Mapping[str, Shape]) -> str:
    """onnx's message retold: the node, the shapes it was given, and why it cannot take them."""
    match = _INFERENCE_ERROR.search(message)
    if match is None:
        return message
    node = next((n for n in graph.node if n.name == match["node"]), None)
    given = [shapes[i] for i in node.input if i in shapes] if node is not None else []
    inputs = " and ".join(str(s) for s in given)
    return f"node {match['node']!r} ({match['op']}) cannot take inputs {inputs}: {match['why'].rstrip('.')}"


def _stuck(node: onnx.NodeProto, shapes: Mapping[str, Shape]) -> bool:
    if node.domain not in DEFAULT_DOMAINS or node.op_type in _DATA_DEPENDENT:
        return False
    inputs = [n for n in node.input if n]
    return (
        bool(inputs) and all(n in shapes for n in inputs) and any(o not in shapes for o in node.output if o)
    )
