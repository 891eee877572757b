"""Resolve every shape and every small value a model's structure depends on, to a fixpoint.

Exporters compute shapes inside the graph (``Shape -> Gather -> Concat -> Reshape``), pick branches
on them (``Shape -> Gather -> Equal -> If``) and count loops with them. One round:

1. onnx's shape inference (C++, with data propagation) on a *skeleton* of the model: the same
   graph with large weights replaced by their type and dims, and with every value known so far
   turned into an initializer, so that inference reads folded Reshape targets as constants;
2. output shapes of onnxruntime's contrib operators, which onnx does not know (``contrib_shapes``);
3. values of the small tensors that are now computable (``values``), from the user's input values,
   stored constants and static shapes;
4. every main-graph If whose condition became known is replaced by the branch it takes
   (``inline``), so the outer shapes flow into it.

Rounds repeat while one of them learns something. Each round adds a value or a shape, or removes
an If, and there are finitely many of each, so the loop ends without a fixed cap. The caller's
proto is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint import contrib_shapes, values
from archlint.errors import ShapeError
from archlint.inline import branch_of, inline_branch, names_read, stored_tensors
from archlint.onnx_loader import SMALL_VALUE_LIMIT, small_value

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
_DEFAULT_DOMAINS = ("", "ai.onnx")
# Operators onnxruntime defines in the default domain (no onnx schema at the opsets they appear
# at): their shapes come from contrib_shapes like those of com.microsoft operators.
_RUNTIME_DEFAULT_DOMAIN_OPS = frozenset({"SimplifiedLayerNormalization", "LayerNormalization"})


@dataclass(frozen=True)
class Resolved:
    """The skeleton with every shape it could resolve, the main graph's known values, and the
    weights stored in the If branches that inlining left out."""

    proto: onnx.ModelProto
    values: Mapping[str, Array]
    untaken: Mapping[str, onnx.TensorProto]


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
        if _numel(init) <= SMALL_VALUE_LIMIT:
            target.initializer.append(init)
            continue
        stub = target.initializer.add()
        stub.name, stub.data_type = init.name, init.data_type
        stub.dims.extend(init.dims)
        weights[init.name] = init
    return copy, weights


def _numel(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1


def resolve(work: onnx.ModelProto, given: Mapping[str, Array]) -> Resolved:
    """Infer, fold and inline on ``work`` (a skeleton this call may change) until nothing changes."""
    known: dict[str, Array] = {**_stored_values(work.graph), **given}
    contrib_done: set[str] = set()
    untaken: dict[str, onnx.TensorProto] = {}
    opset = next((o.version for o in work.opset_import if o.domain in _DEFAULT_DOMAINS), 1)
    while True:
        inferred, kept = _infer_with_values(work, known)
        shapes, types = _static_shapes(inferred.graph)
        learned = _contrib_shapes(work, shapes, types, contrib_done)
        learned += _body_input_shapes(work.graph, shapes)
        learned += _loop_output_shapes(work, inferred, shapes, known)
        learned += _fold(work.graph, shapes, known, opset)
        learned += _fold_bodies(work.graph, known, opset)
        learned += _inline_known_ifs(work, known, untaken)
        if not learned:
            return Resolved(_assemble(work, inferred, kept, known), known, untaken)


def _stored_values(graph: onnx.GraphProto) -> dict[str, Array]:
    found: dict[str, Array] = {}
    for init in graph.initializer:
        value = small_value(init)  # None for the stubs: they are all larger than the limit
        if value is not None:
            found[init.name] = value
    return found


def _infer_with_values(
    work: onnx.ModelProto, known: Mapping[str, Array]
) -> tuple[onnx.ModelProto, list[int]]:
    """Shape inference on a copy of ``work`` where every known value is an initializer and the
    nodes that computed them are gone; returns it with the indices of the nodes it kept."""
    copy = onnx.ModelProto()
    copy.CopyFrom(work)
    # Before IR 4 an initializer counts only when it is also a graph input; the values turned
    # into initializers here are not, so the copy is read under IR 4 rules.
    copy.ir_version = max(copy.ir_version, 4)
    graph = copy.graph
    kept = [i for i, n in enumerate(work.graph.node) if not _computed(n, known)]
    nodes = [graph.node[i] for i in kept]
    del graph.node[:]
    graph.node.extend(nodes)
    inputs = [i for i in graph.input if i.name not in known]
    del graph.input[:]
    graph.input.extend(inputs)
    stored = {i.name for i in graph.initializer}
    for name, value in known.items():
        if name not in stored:
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return run_inference(copy), kept


def _computed(node: onnx.NodeProto, known: Mapping[str, Array]) -> bool:
    outputs = [o for o in node.output if o]
    return bool(outputs) and all(o in known for o in outputs) and not _has_subgraph(node)


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def run_inference(proto: onnx.ModelProto, strict: bool = False) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=strict, data_prop=True)
    except Exception as exc:  # an inconsistent model: say which check failed, in one line
        raise ShapeError(f"shape inference failed: {_last_line(exc)}") from exc


def _last_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _static_shapes(graph: onnx.GraphProto) -> tuple[dict[str, Shape], dict[str, int]]:
    """Static shapes and element types of the main graph's tensors."""
    shapes: dict[str, Shape] = {}
    types: dict[str, int] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor_type = info.type.tensor_type
        if not info.type.HasField("tensor_type"):
            continue
        types[info.name] = tensor_type.elem_type
        if tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in tensor_type.shape.dim):
            shapes[info.name] = tuple(d.dim_value for d in tensor_type.shape.dim)
    for init in graph.initializer:
        shapes[init.name], types[init.name] = tuple(init.dims), init.data_type
    return shapes, types


def _contrib_shapes(
    work: onnx.ModelProto, shapes: Mapping[str, Shape], types: Mapping[str, int], done: set[str]
) -> int:
    """Declare the output shapes of contrib operators whose inputs are resolved."""
    added = 0
    outputs = {o.name: o for o in work.graph.output}
    for node in work.graph.node:
        onnx_knows = node.domain in _DEFAULT_DOMAINS and node.op_type not in _RUNTIME_DEFAULT_DOMAIN_OPS
        if onnx_knows or all(o in shapes or o in done for o in node.output if o):
            continue
        in_shapes = [shapes.get(n) if n else None for n in node.input]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        results = contrib_shapes.output_shapes(node.op_type, in_shapes, attrs)
        for index, (name, shape) in enumerate(zip(node.output, results, strict=False)):
            if not name or shape is None or name in shapes or name in done:
                continue
            elem_type = contrib_shapes.OUTPUT_TYPES.get(node.op_type, {}).get(index)
            elem_type = elem_type or types.get(node.input[0], onnx.TensorProto.FLOAT)
            _declare(work, name, types.get(name) or elem_type, shape, outputs)
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


def _loop_output_shapes(
    work: onnx.ModelProto, inferred: onnx.ModelProto, shapes: Mapping[str, Shape], known: Mapping[str, Array]
) -> int:
    """Shapes of a Loop's outputs, which onnx leaves unknown ("shape may change across
    iterations"): a carried value whose body output has its body input's shape keeps it, and
    a scan output stacks one body output per trip when the trip count is known."""
    added = 0
    outputs = {o.name: o for o in work.graph.output}
    for node in inferred.graph.node:
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        if node.op_type != "Loop" or body is None or node.domain not in _DEFAULT_DOMAINS:
            continue
        carried = len(node.input) - 2
        body_in, body_out = _graph_shapes(body.input), _graph_shapes(body.output)
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


def _graph_shapes(infos: Sequence[onnx.ValueInfoProto]) -> list[Shape | None]:
    result: list[Shape | None] = []
    for info in infos:
        tensor_type = info.type.tensor_type
        static = info.type.HasField("tensor_type") and _is_static(tensor_type)
        result.append(tuple(d.dim_value for d in tensor_type.shape.dim) if static else None)
    return result


def _body_input_shapes(graph: onnx.GraphProto, shapes: Mapping[str, Shape]) -> int:
    """Declare Loop and Scan body inputs from the outer tensors that feed them.

    onnx infers a body with the outer types but does not write them back, and the declared ones
    are dropped after a rebinding; without them nothing in the body resolves."""
    added = 0
    for node in graph.node:
        body = next(
            (a.g for a in node.attribute if a.name == "body" and a.type == onnx.AttributeProto.GRAPH), None
        )
        if body is None or node.domain not in _DEFAULT_DOMAINS:
            continue
        for info, shape in zip(body.input, _body_shapes(node, body, shapes), strict=False):
            tensor_type = info.type.tensor_type
            if shape is None or not info.type.HasField("tensor_type") or _is_static(tensor_type):
                continue
            tensor_type.shape.SetInParent()
            tensor_type.shape.ClearField("dim")
            for dim in shape:
                tensor_type.shape.dim.add().dim_value = dim
            added += 1
    return added


def _is_static(tensor_type: onnx.TypeProto.Tensor) -> bool:
    return tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in tensor_type.shape.dim)


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


def _fold(graph: onnx.GraphProto, shapes: Mapping[str, Shape], known: dict[str, Array], opset: int) -> int:
    """Compute every small value that the known shapes and values determine; count new ones."""
    added = 0
    for node in graph.node:
        outputs = [o for o in node.output if o]
        if not outputs or all(o in known for o in outputs) or not _evaluable(node):
            continue
        for name, value in zip(node.output, _node_values(node, shapes, known, opset) or [], strict=False):
            value = np.asarray(value)
            if name and name not in known and value.size <= SMALL_VALUE_LIMIT and value.dtype.kind in "biuf":
                known[name] = value
                added += 1
    return added


def _fold_bodies(graph: onnx.GraphProto, outer: Mapping[str, Array], opset: int) -> int:
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
                local |= _stored_values(body)
                folded += _fold_constant_nodes(body, local, opset)
                folded += _fold_bodies(body, local, opset)
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
    nodes = [*constants, *body.node]
    copies = [onnx.NodeProto() for _ in nodes]
    for copy, node in zip(copies, nodes, strict=True):
        copy.CopyFrom(node)
    del body.node[:]
    body.node.extend(copies)
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
    return (
        node.domain in _DEFAULT_DOMAINS and node.op_type not in _NEVER_EVALUATED and not _has_subgraph(node)
    )


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


def _inline_known_ifs(
    work: onnx.ModelProto, known: Mapping[str, Array], untaken: dict[str, onnx.TensorProto]
) -> int:
    """Replace each main-graph If whose condition is known by its taken branch; the weights of
    the other branch go to ``untaken``."""
    graph, inlined = work.graph, 0
    nodes: list[onnx.NodeProto] = []
    for index, node in enumerate(graph.node):
        condition = known.get(node.input[0]) if node.op_type == "If" and node.input else None
        replacement = None
        if condition is not None and node.domain in _DEFAULT_DOMAINS and np.asarray(condition).size == 1:
            taken = bool(np.asarray(condition).reshape(-1)[0])
            label = node.name or f"If_{index}"
            replacement = inline_branch(node, label, taken)
            other = branch_of(node, not taken)
            if replacement is not None and other is not None:
                skipped = "else_branch" if taken else "then_branch"
                untaken |= stored_tensors(other, f"{label}/{skipped}/")
                outer = {i.name: i for i in graph.initializer}
                untaken |= {name: outer[name] for name in names_read(other) if name in outer}
        if replacement is None:
            nodes.append(node)
            continue
        branch_nodes, initializers = replacement
        nodes.extend(branch_nodes)
        graph.initializer.extend(initializers)
        inlined += 1
    if inlined:
        copies = [onnx.NodeProto() for _ in nodes]
        for copy, node in zip(copies, nodes, strict=True):
            copy.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(copies)
    return inlined


def _assemble(
    work: onnx.ModelProto, inferred: onnx.ModelProto, kept: list[int], known: Mapping[str, Array]
) -> onnx.ModelProto:
    """``work``'s nodes with the inferred shapes: control-flow nodes come from the inferred copy
    (their subgraphs carry inferred shapes), and folded tensors get value infos of their own."""
    final = onnx.ModelProto()
    final.CopyFrom(work)
    graph = final.graph
    inferred_nodes = dict(zip(kept, inferred.graph.node, strict=True))
    for index, node in enumerate(graph.node):
        if _has_subgraph(node) and index in inferred_nodes:
            node.CopyFrom(inferred_nodes[index])
    del graph.value_info[:]
    graph.value_info.extend(inferred.graph.value_info)
    outputs = {o.name: o for o in inferred.graph.output}
    for output in graph.output:
        if output.name in outputs:
            output.CopyFrom(outputs[output.name])
    stored = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    for name, value in known.items():
        if name not in stored and value.dtype.kind in "biuf":
            elem_type = helper.np_dtype_to_tensor_dtype(value.dtype)
            graph.value_info.append(helper.make_tensor_value_info(name, elem_type, value.shape))
    return final


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


def check_consistency(resolved: Resolved) -> None:
    """Refuse a model that cannot run at the bound shapes: a node whose inputs all resolved but
    whose outputs onnx cannot infer is one where a frozen size (a weight's dimension, a traced
    constant) contradicts the shapes flowing in. Strict inference names the node and the sizes."""
    shapes, _ = _static_shapes(resolved.proto.graph)
    if not any(_stuck(node, shapes) for node in resolved.proto.graph.node):
        return
    try:
        onnx.shape_inference.infer_shapes(resolved.proto, check_type=False, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise ShapeError(
            f"{_last_line(exc)}: the model does not run with these input shapes "
            "(a size it fixes, such as a weight's dimension or a traced constant, disagrees)"
        ) from None


def _stuck(node: onnx.NodeProto, shapes: Mapping[str, Shape]) -> bool:
    if node.domain not in _DEFAULT_DOMAINS or node.op_type in _DATA_DEPENDENT:
        return False
    inputs = [n for n in node.input if n]
    return (
        bool(inputs) and all(n in shapes for n in inputs) and any(o not in shapes for o in node.output if o)
    )
