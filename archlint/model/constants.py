"""Which tensors are fixed before the model runs, and which of those are weights.

A tensor is constant when it is an initializer, a Constant output, the Shape/Size of a tensor of
static shape, or the output of a deterministic default-domain node whose inputs are all constant.
Engines fold such nodes at load time, so they cost nothing per inference; this is how weights
built by ConstantOfShape, Cast or Reshape of constants are still found.

A *weight* is a constant consumed by a runtime node in a data slot: shape, axes, index and
quantization-parameter slots are metadata, and integer index types are never weights.
A weight produced by DequantizeLinear of a stored tensor is held in memory at the stored dtype.

A weight's *parameters* are the stored tensors it is computed from (an embedding table behind
a folded Gather, the int8 tensor behind a DequantizeLinear), or the tensor a generator such as
ConstantOfShape builds from constants. A constant computed from an input's shape (an attention
mask sized for the bound resolution, an expanded token-type row) is no parameter: it changes
with the binding, and nothing of it is trained or stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from archlint.analysis.costs.table import CONTROL_FLOW, REDUCE_OPS
from archlint.model.dtypes import DType
from archlint.model.graph import Graph, Node

_NEVER_FOLDED = CONTROL_FLOW | {
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Bernoulli",
    "Multinomial",
    "ImageDecoder",
    "Dropout",
}
_NON_WEIGHT_DTYPES = frozenset({"int64", "uint64", "bool", "string"})

_REDUCE_AXES = dict.fromkeys(REDUCE_OPS, frozenset({1}))  # the axes input (opset 13/18+)
_QLINEAR_PARAMS = frozenset({1, 2, 4, 5, 6, 7})
METADATA_SLOTS: dict[str, frozenset[int]] = {
    **_REDUCE_AXES,
    "Reshape": frozenset({1}),
    "Expand": frozenset({1}),
    "Tile": frozenset({1}),
    "Slice": frozenset({1, 2, 3, 4}),
    "Pad": frozenset({1, 2, 3}),
    "Resize": frozenset({1, 2, 3}),
    "Upsample": frozenset({1}),
    "Squeeze": frozenset({1}),
    "Unsqueeze": frozenset({1}),
    "Split": frozenset({1}),
    "TopK": frozenset({1}),
    "OneHot": frozenset({1, 2}),
    "Range": frozenset({0, 1, 2}),
    "ConstantOfShape": frozenset({0}),
    "CumSum": frozenset({1}),
    "Clip": frozenset({1, 2}),
    "Gather": frozenset({1}),
    "GatherElements": frozenset({1}),
    "GatherND": frozenset({1}),
    "ScatterND": frozenset({1}),
    "ScatterElements": frozenset({1}),
    "Compress": frozenset({1}),
    "NonMaxSuppression": frozenset({2, 3, 4}),
    "Trilu": frozenset({1}),
    "Loop": frozenset({0, 1}),
    "If": frozenset({0}),
    "Dropout": frozenset({1, 2}),
    "LSTM": frozenset({4, 5, 6}),
    "GRU": frozenset({4, 5}),
    "RNN": frozenset({4, 5}),
    "QuantizeLinear": frozenset({1, 2}),
    "DequantizeLinear": frozenset({1, 2}),
    "QLinearConv": _QLINEAR_PARAMS,
    "QLinearMatMul": _QLINEAR_PARAMS,
    "ConvInteger": frozenset({2, 3}),
    "MatMulInteger": frozenset({2, 3}),
    "DFT": frozenset({1, 2}),
    "STFT": frozenset({1, 3}),
    "CenterCropPad": frozenset({1}),
    "Attention": frozenset({3, 6}),
    "TensorScatter": frozenset({2}),
}


class Constants(NamedTuple):
    """The constant tensors of a graph, the nodes folded away, and where each weight comes from."""

    tensors: frozenset[str]  # every constant tensor, outer scopes included
    folded: frozenset[int]  # indices of nodes folded away at load time
    stored_dtype: dict[str, DType]  # weights held at a narrower dtype than the tensor they feed
    # The parameters each constant is computed from (a stored constant: itself); constants not
    # listed are their own source.
    sources: Mapping[str, frozenset[str]] = MappingProxyType({})
    # Folded nodes that compute on the shape of a tensor whose dims the file leaves symbolic
    # (Shape -> Gather -> Concat -> Reshape target): they fold here because the binding fixed
    # those dims, but an engine that loads the file runs them at every inference.
    symbolic_shape_work: frozenset[int] = frozenset()

    def parameter_sources(self, name: str) -> frozenset[str]:
        return self.sources.get(name, frozenset({name}))

    def weight_slots(self, node: Node, graph: Graph) -> Iterable[tuple[int, str]]:
        """(slot, tensor) of every weight this runtime node reads."""
        metadata = METADATA_SLOTS.get(node.op_type, frozenset())
        for slot, name in enumerate(node.inputs):
            if not name or name not in self.tensors or slot in metadata:
                continue
            tensor = graph.tensor(name)
            if tensor is not None and tensor.dtype.name not in _NON_WEIGHT_DTYPES:
                yield slot, name


_GENERATORS = frozenset({"Constant", "ConstantOfShape", "EyeLike", "Range"})
#: Stored constants of up to this many elements are compared by value when spotting repeated
#: nodes: onnxruntime's ConstantSharing pass merges single-element initializers of equal value
#: (onnxruntime/core/optimizer/constant_sharing.h).
SMALL_OPERAND = 1


def find_constants(
    graph: Graph, outer: frozenset[str] = frozenset(), symbolic_inputs: frozenset[str] = frozenset()
) -> Constants:
    constant = set(outer) | set(graph.initializers)
    folded: set[int] = set()
    stored: dict[str, DType] = {}
    sources: dict[str, frozenset[str]] = {}
    for index, node in enumerate(graph.nodes):
        if _is_constant(node, graph, constant):
            folded.add(index)
            constant.update(o for o in node.outputs if o)
            _track_stored_dtype(node, graph, stored)
            _track_sources(node, sources)
    shape_work = _symbolic_shape_work(graph, folded, symbolic_inputs)
    return Constants(frozenset(constant), frozenset(folded), stored, sources, shape_work)


def _symbolic_shape_work(graph: Graph, folded: set[int], symbolic_inputs: frozenset[str]) -> frozenset[int]:
    """The folded nodes whose values follow from a symbolic input's dims and that an engine
    reading the file still runs: a Shape or Size of a tensor computed from such an input, and the
    folded nodes reading what they computed.

    What onnxruntime's optimizer removes from such chains is left out: a repeat of an earlier
    node (same op, attributes and inputs, small constants compared by value: common
    subexpression elimination), a Cast to the type its input already has, and a Shape of a
    computed shape vector, whose own length is fixed."""
    if not symbolic_inputs:
        return frozenset()
    unsized = set(symbolic_inputs)  # tensors whose shape the file leaves open
    from_dims: set[str] = set()  # values computed from such shapes
    same: dict[str, str] = {}  # output of a repeated node -> the earlier node's output
    seen: dict[tuple[object, ...], tuple[str, ...]] = {}
    work: set[int] = set()
    for index, node in enumerate(graph.nodes):
        read = [name for name in node.inputs if name]
        if index not in folded:
            if any(name in unsized or name in from_dims for name in read):
                unsized.update(o for o in node.outputs if o)
            continue
        sizes = node.op_type in ("Shape", "Size") and bool(read) and read[0] in unsized
        if not (sizes or (node.op_type not in ("Shape", "Size") and any(n in from_dims for n in read))):
            continue
        from_dims.update(o for o in node.outputs if o)
        if _sized_by_dims(node, read, unsized, from_dims):
            unsized.update(o for o in node.outputs if o)
        key = (
            node.op_type,
            node.domain,
            repr(sorted(node.attrs.items())),
            *(_operand(graph, n, same) for n in node.inputs),
        )
        if key in seen:
            same.update(zip(node.outputs, seen[key], strict=False))
        elif node.op_type == "Cast" and _casts_to_own_type(graph, node):
            same[node.outputs[0]] = same.get(read[0], read[0])
        else:
            seen[key] = node.outputs
            work.add(index)
    return frozenset(work)


# Folded operators whose output's shape is an input's value: a Range up to a computed length,
# a ConstantOfShape, Expand, Tile or Reshape to a computed shape, a Slice to computed bounds.
_VALUE_SIZED = frozenset({"Range", "ConstantOfShape", "Expand", "Tile", "Reshape", "Slice", "Pad", "OneHot"})


def _sized_by_dims(node: Node, read: list[str], unsized: set[str], from_dims: set[str]) -> bool:
    """Whether a folded node's output has a shape that follows the symbolic dims, so that a Shape
    of it is more shape arithmetic the engine runs: it reads such a tensor (a Shape of it gives
    a fixed-length vector, which does not), or sizes its output by a value computed from dims."""
    if node.op_type in ("Shape", "Size"):
        return False
    return any(name in unsized for name in read) or (
        node.op_type in _VALUE_SIZED and any(name in from_dims for name in read)
    )


def _operand(graph: Graph, name: str, same: Mapping[str, str]) -> object:
    """What an input is, for telling repeated nodes apart: a small stored constant (initializer
    or Constant) by its value, anything else by the tensor it is."""
    value = graph.small_values.get(name) if name in graph.stored else None
    if value is not None and getattr(value, "size", SMALL_OPERAND + 1) <= SMALL_OPERAND:
        return (str(value.dtype), value.shape, tuple(value.ravel().tolist()))
    return same.get(name, name)


def _casts_to_own_type(graph: Graph, node: Node) -> bool:
    source, result = graph.tensor(node.inputs[0]), graph.tensor(node.outputs[0])
    return source is not None and result is not None and source.dtype == result.dtype


def _track_sources(node: Node, sources: dict[str, frozenset[str]]) -> None:
    """What a folded node's outputs are computed from, through its data slots (a Gather's table,
    not its indices; a DequantizeLinear's data, not its scale); an empty set marks a value
    computed from shapes. A generator is its own source unless its size comes from a shape."""
    metadata = METADATA_SLOTS.get(node.op_type, frozenset())
    data = [name for slot, name in enumerate(node.inputs) if name and slot not in metadata]
    result: frozenset[str] | None
    if node.op_type in ("Shape", "Size"):
        result = frozenset()
    elif node.op_type in _GENERATORS:
        sized_by_shape = any(sources.get(n) == frozenset() for n in node.inputs if n)
        result = frozenset() if sized_by_shape else None
    else:
        result = frozenset().union(*(sources.get(n, frozenset({n})) for n in data))
    if result is not None:
        sources.update((output, result) for output in node.outputs if output)


def _is_constant(node: Node, graph: Graph, constant: set[str]) -> bool:
    if node.op_type in _NEVER_FOLDED or node.subgraphs or node.domain:
        return False
    present = [name for name in node.inputs if name]
    if node.op_type in ("Shape", "Size"):
        tensor = graph.tensor(present[0])
        return tensor is not None and tensor.static_shape is not None
    if not present:
        return node.op_type in ("Constant", "EyeLike", "Range", "ConstantOfShape")
    return all(name in constant for name in present)


def _track_stored_dtype(node: Node, graph: Graph, stored: dict[str, DType]) -> None:
    if node.op_type != "DequantizeLinear":
        return
    source = graph.tensor(node.inputs[0])
    if source is not None:
        stored[node.outputs[0]] = stored.get(node.inputs[0], source.dtype)
