"""Apply archlint's mechanical fixes to an ONNX model, one finding at a time (for precision.py).

A finding (``archlint check --format json``) names the operators it holds on (``locations``) and
says what to change in words. Each rewrite here turns one rule's advice into a graph edit on a
copy of the model, at every location:

* AL303 unfused-patterns: the BatchNormalization / constant Mul, Div, Add, Sub run after a Conv,
  Gemm or MatMul is folded into its weights and bias (a rank-2 MatMul with a bias becomes one
  Gemm; a higher-rank one keeps one bias Add); ``x * Sigmoid(x)`` becomes one com.microsoft
  QuickGelu (alpha 1), the fused SiLU onnxruntime has;
* AL101 channel-alignment: the unaligned widths are rounded down to the channel block the
  finding names (its "round down" advice, the one its saving is for);
* AL304 unequal-pointwise-widths: the 1x1 conv's input and output widths both become
  round(sqrt(c1 * c2)), the width the finding proposes;
* AL202 many-groups: the conv gets the group count the finding proposes;
* AL203 conv-fast-paths: a large kernel becomes the stack of 3x3 convs the finding proposes;
* AL401 denormal-weights: the subnormal and tiny weights the located operators read are set
  to zero (archlint's own flush).

A width is a property of a tensor, so changing one changes every layer that makes or reads it:
the change is propagated through the operators that act on each channel alone (activations,
BatchNormalization, pooling, depthwise convs, elementwise operators with per-channel constants,
residual adds whose other side then changes too) to the convs and matrix products that produce
and consume it, whose weights are cut or tiled to match. Where the width reaches anything else
(a Concat, a Reshape, a model input or output) the fix is not mechanical and the rewrite says
why instead. Weights of resized layers are cut or repeated, not trained: only time is measured.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint.fixes.flush_denormals import SMALLEST_NORMAL, TINY, dtype_name, flush_mask, flushed

Array = np.ndarray[Any, Any]


class NotApplicableError(Exception):
    """The finding's fix cannot be applied mechanically here; the message says why."""


@dataclass(frozen=True)
class Finding:
    """One diagnostic of ``archlint check --format json`` (schema archlint.check/2)."""

    code: str
    node: str | None
    severity: str
    saving_s: float
    locations: tuple[str, ...]
    message: str
    fix: str

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Finding:
        places = tuple(p["node"] for p in item.get("locations", []) if p.get("node"))
        return cls(
            item["code"],
            item.get("node"),
            item["severity"],
            float(item.get("saving_s") or 0.0),
            places or ((item["node"],) if item.get("node") else ()),
            item.get("message", ""),
            item.get("fix", ""),
        )


@dataclass(frozen=True)
class Rewrite:
    """What a rule's fix does to the model and whether the outputs must stay the same."""

    name: str
    preserves_outputs: bool
    apply: Callable[[Graph, Finding], str]  # edits the graph in place; returns what it did


# --- the model being rewritten -------------------------------------------------------------------


class Graph:
    """The main graph of a model copy, with the lookups the rewrites need.

    ``shapes`` are the static shapes of the original model at its binding (onnx shape inference),
    used to tell a per-channel operand from one broadcast over channels.
    """

    def __init__(self, proto: onnx.ModelProto, shapes: dict[str, tuple[int | None, ...]]) -> None:
        self.proto = proto
        self.shapes = shapes
        self.refresh()

    def refresh(self) -> None:
        graph = self.proto.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant" and n.output}
        self.by_name = {n.name: n for n in graph.node if n.name}
        self.producers = {o: n for n in graph.node for o in n.output if o}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in dict.fromkeys(node.input):
                self.consumers.setdefault(name, []).append(node)
        self.inputs = {i.name for i in graph.input} - set(self.initializers)
        self.outputs = {o.name for o in graph.output}
        self.subgraph_reads = {
            name
            for node in graph.node
            for a in node.attribute
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for name in _names_read(a)
        }

    def node(self, name: str) -> onnx.NodeProto:
        found = self.by_name.get(name)
        if found is None:
            raise NotApplicableError(f"node {name!r} is not in the main graph (a subgraph's, or renamed)")
        return found

    def is_const(self, name: str) -> bool:
        name = self._through_identity(name)
        return name in self.initializers or name in self.constants

    def _through_identity(self, name: str) -> str:
        """TorchScript exports share equal weights through Identity nodes: read the stored one."""
        for _ in range(8):
            producer = self.producers.get(name)
            if producer is None or producer.op_type != "Identity":
                break
            name = producer.input[0]
        return name

    def value(self, name: str) -> Array:
        name = self._through_identity(name)
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        if name in self.constants:
            return numpy_helper.to_array(helper.get_attribute_value(self.constants[name].attribute[0]))
        raise NotApplicableError(f"{name!r} is computed at run time, not a stored constant")

    def set_input(self, node: onnx.NodeProto, index: int, values: Array) -> None:
        """Give ``node`` its own copy of a constant input with new values (others keep theirs)."""
        stem = (
            node.input[index] if index < len(node.input) and node.input[index] else f"{node.name}_in{index}"
        )
        name = self.fresh(f"{stem}_fixed")
        self.proto.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(values), name))
        self.initializers[name] = self.proto.graph.initializer[-1]
        while len(node.input) <= index:
            node.input.append("")
        node.input[index] = name

    def fresh(self, stem: str) -> str:
        taken = set(self.producers) | set(self.initializers) | {t.name for t in self.proto.graph.initializer}
        name, index = stem, 1
        while name in taken:
            index += 1
            name = f"{stem}_{index}"
        return name

    def sole_reader(self, name: str) -> onnx.NodeProto | None:
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or name in self.outputs or name in self.subgraph_reads:
            return None
        return readers[0] if list(readers[0].input).count(name) == 1 else None

    def splice(self, removed: Sequence[onnx.NodeProto], added: Sequence[onnx.NodeProto]) -> None:
        """Remove ``removed`` and put ``added`` where the last of them was (its inputs exist there).

        Nodes are told apart by their first output (protobuf wrappers are not stable objects).
        Call before renaming any removed node's output; refresh() afterwards.
        """
        gone = {n.output[0] for n in removed}
        nodes = list(self.proto.graph.node)
        last = max(i for i, n in enumerate(nodes) if n.output and n.output[0] in gone)
        kept = [n for n in nodes[: last + 1] if n.output[0] not in gone]
        rest = [n for n in nodes[last + 1 :] if n.output[0] not in gone]
        fresh = [onnx.NodeProto() for _ in range(len(kept) + len(added) + len(rest))]
        for target, source in zip(fresh, [*kept, *added, *rest], strict=True):
            target.CopyFrom(source)
        del self.proto.graph.node[:]
        self.proto.graph.node.extend(fresh)

    def forget_shapes(self, names: set[str]) -> None:
        kept = [v for v in self.proto.graph.value_info if v.name not in names]
        del self.proto.graph.value_info[:]
        self.proto.graph.value_info.extend(kept)

    def drop_unread(self) -> None:
        read = {i for n in self.proto.graph.node for i in n.input} | self.subgraph_reads | self.outputs
        kept = [t for t in self.proto.graph.initializer if t.name in read]
        del self.proto.graph.initializer[:]
        self.proto.graph.initializer.extend(kept)


def _names_read(attribute: onnx.AttributeProto) -> set[str]:
    graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
    names: set[str] = set()
    for graph in graphs:
        for node in graph.node:
            names.update(node.input)
            for inner in node.attribute:
                if inner.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    names.update(_names_read(inner))
    return names


def attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def set_attr(node: onnx.NodeProto, name: str, value: Any) -> None:
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(name, value)])


def static_shapes(
    proto: onnx.ModelProto, inputs: dict[str, Sequence[int]]
) -> dict[str, tuple[int | None, ...]]:
    """Shapes of every tensor onnx infers once the inputs are bound (None for unknown dims)."""
    bound = onnx.ModelProto()
    bound.CopyFrom(proto)
    for value in bound.graph.input:
        if value.name in inputs and value.type.HasField("tensor_type"):
            dims = value.type.tensor_type.shape.dim
            del dims[:]
            for size in inputs[value.name]:
                dims.add().dim_value = int(size)
    with contextlib.suppress(Exception):  # onnx cannot infer some exports: fewer shapes, then
        bound = onnx.shape_inference.infer_shapes(bound, data_prop=True)
    shapes: dict[str, tuple[int | None, ...]] = {}
    graph = bound.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
            dims = value.type.tensor_type.shape.dim
            shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    return shapes


# --- AL303: fold a per-channel affine run into the layer before it ---------------------------------

_LINEAR = ("Conv", "Gemm", "MatMul")
_AFFINE = frozenset({"BatchNormalization", "Mul", "Div", "Add", "Sub"})


def fold_or_fuse(graph: Graph, finding: Finding) -> str:
    done = [_fold_or_fuse_one(graph, name) for name in finding.locations]
    graph.drop_unread()
    return f"{len(done)}x {done[0]}"


def _fold_or_fuse_one(graph: Graph, name: str) -> str:
    node = graph.node(name)
    if node.op_type == "Mul" and _swish_gate(graph, node) is not None:
        return _fuse_swish(graph, node)
    described = _fold(graph, node)
    graph.refresh()
    return described


def _swish_gate(graph: Graph, mul: onnx.NodeProto) -> onnx.NodeProto | None:
    for x, gate in ((mul.input[0], mul.input[1]), (mul.input[1], mul.input[0])):
        sigmoid = graph.producers.get(gate)
        if sigmoid is not None and sigmoid.op_type == "Sigmoid" and sigmoid.input[0] == x:
            reader = graph.sole_reader(gate)
            if reader is not None and reader.output[0] == mul.output[0]:
                return sigmoid
    return None


def _fuse_swish(graph: Graph, mul: onnx.NodeProto) -> str:
    sigmoid = _swish_gate(graph, mul)
    assert sigmoid is not None
    fused = helper.make_node(
        "QuickGelu",
        [sigmoid.input[0]],
        [mul.output[0]],
        name=f"{mul.name}_silu",
        domain="com.microsoft",
        alpha=1.0,
    )
    graph.splice([sigmoid, mul], [fused])
    if not any(o.domain == "com.microsoft" for o in graph.proto.opset_import):
        graph.proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    graph.refresh()
    return "Sigmoid + Mul fused into one com.microsoft QuickGelu (alpha 1)"


def _fold(graph: Graph, first: onnx.NodeProto) -> str:
    data = next(
        (i for i in first.input if graph.producers.get(i) is not None and not graph.is_const(i)), None
    )
    host = graph.producers.get(data) if data else None
    if host is None or host.op_type not in _LINEAR or not graph.is_const(host.input[1]):
        raise NotApplicableError(
            f"{first.op_type} {first.name!r} does not follow a Conv, Gemm or MatMul with constant weights"
        )
    weight = graph.value(host.input[1])
    channels, from_right = _output_channels(host, weight)
    scale, shift = np.ones(channels), np.zeros(channels)
    run, name = [], host.output[0]
    shifted = False
    while (reader := graph.sole_reader(name)) is not None and reader.op_type in _AFFINE:
        step = _affine_step(graph, reader, name, channels, from_right)
        if step is None:
            break
        scale, shift = scale * step[0], shift * step[0] + step[1]
        shifted |= reader.op_type != "Mul" and reader.op_type != "Div"
        run.append(reader)
        name = reader.output[0]
    if all(n.output[0] != first.output[0] for n in run):
        raise NotApplicableError(
            f"{first.op_type} {first.name!r} is not a per-channel constant scale or shift of {host.name!r}"
        )
    output = run[-1].output[0]
    graph.splice(run, [])
    graph.refresh()
    host = graph.producers[host.output[0]]
    _apply_affine(graph, host, weight, scale, shift, shifted, output)
    return f"{' + '.join(n.op_type for n in run)} folded into {host.op_type}"


def _output_channels(host: onnx.NodeProto, weight: Array) -> tuple[int, int]:
    """Output channels of a linear layer and their axis counted from the right of its output."""
    if host.op_type == "Conv":
        return int(weight.shape[0]), weight.ndim - 1
    if host.op_type == "Gemm":
        return int(weight.shape[0] if attr(host, "transB", 0) else weight.shape[1]), 1
    if weight.ndim != 2:
        raise NotApplicableError(f"MatMul {host.name!r} has a {weight.ndim}-d weight")
    return int(weight.shape[1]), 1


def _affine_step(
    graph: Graph, node: onnx.NodeProto, name: str, channels: int, from_right: int
) -> tuple[Array, Array] | None:
    """(scale, shift) per channel of ``node`` applied to ``name``, if it is one."""
    if node.op_type == "BatchNormalization":  # normalizes axis 1: the channel axis of NCHW or (N, C)
        known = graph.shapes.get(name)
        rank = len(known) if known else from_right + 1  # a Conv's or Gemm's output; checked by running it
        if rank - from_right != 1 or len([o for o in node.output if o]) != 1:
            return None
        if not all(graph.is_const(i) for i in node.input[1:5]):
            return None
        gamma, beta, mean, var = (graph.value(i).astype(np.float64) for i in node.input[1:5])
        s = gamma / np.sqrt(var + float(attr(node, "epsilon", 1e-5)))
        return s, beta - mean * s
    if len(node.input) != 2:
        return None
    other = node.input[1] if node.input[0] == name else node.input[0]
    if (node.op_type in ("Div", "Sub") and node.input[0] != name) or not graph.is_const(other):
        return None
    vector = per_channel(graph.value(other), channels, from_right)
    if vector is None or (node.op_type == "Div" and not vector.all()):
        return None
    ones, zeros = np.ones(channels), np.zeros(channels)
    if node.op_type == "Div":
        return 1 / vector, zeros
    return {
        "Mul": (vector, zeros),
        "Add": (ones, vector),
        "Sub": (ones, -vector),
    }[node.op_type]


def per_channel(value: Array, channels: int, from_right: int) -> Array | None:
    """A constant as one float64 per channel, if it broadcasts over everything but the channel axis."""
    shape = value.shape
    axis = len(shape) - from_right
    if any(d != 1 for i, d in enumerate(shape) if i != axis):
        return None
    size = shape[axis] if 0 <= axis < len(shape) else 1
    if size not in (1, channels):
        return None
    return np.broadcast_to(value.astype(np.float64).reshape(-1), (channels,)).copy()


def _apply_affine(
    graph: Graph, host: onnx.NodeProto, weight: Array, scale: Array, shift: Array, shifted: bool, output: str
) -> None:
    dtype = weight.dtype
    if host.op_type == "Conv":
        bias = graph.value(host.input[2]).astype(np.float64) if len(host.input) > 2 and host.input[2] else 0.0
        graph.set_input(host, 1, (weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(dtype))
        graph.set_input(host, 2, (bias * scale + shift).astype(dtype))
    elif host.op_type == "Gemm":
        _fold_gemm(graph, host, weight, scale, shift)
    else:
        graph.set_input(host, 1, (weight * scale[None, :]).astype(dtype))
        if shifted:
            _matmul_bias(graph, host, shift.astype(dtype), output)
            return
    host.output[0] = output


def _fold_gemm(graph: Graph, host: onnx.NodeProto, weight: Array, scale: Array, shift: Array) -> None:
    trans_b, alpha, beta = (
        attr(host, "transB", 0),
        float(attr(host, "alpha", 1.0)),
        float(attr(host, "beta", 1.0)),
    )
    scaled = weight * (scale[:, None] if trans_b else scale[None, :]) * alpha
    old = (
        graph.value(host.input[2]).astype(np.float64)
        if len(host.input) > 2 and host.input[2]
        else np.zeros(1)
    )
    bias = per_channel(old, len(scale), 1)
    if bias is None:
        raise NotApplicableError(f"Gemm {host.name!r} has a bias that is not one value per output feature")
    graph.set_input(host, 1, scaled.astype(weight.dtype))
    graph.set_input(host, 2, (beta * bias * scale + shift).astype(weight.dtype))
    set_attr(host, "alpha", 1.0)
    set_attr(host, "beta", 1.0)


def _matmul_bias(graph: Graph, host: onnx.NodeProto, bias: Array, output: str) -> None:
    """A 2-d MatMul and its bias become one Gemm; otherwise the bias stays one Add after it."""
    rank = len(graph.shapes.get(host.input[0], ()))
    if rank == 2:
        gemm = helper.make_node(
            "Gemm", [host.input[0], host.input[1], ""], [output], name=f"{host.name}_gemm"
        )
        graph.set_input(gemm, 2, bias)
        graph.splice([host], [gemm])
        return
    add = helper.make_node(
        "Add", [graph.fresh(f"{host.output[0]}_product"), ""], [output], name=f"{host.name}_bias"
    )
    graph.set_input(add, 1, bias)
    product = onnx.NodeProto()
    product.CopyFrom(host)
    product.output[0] = add.input[0]
    graph.splice([host], [product, add])


# --- widths: AL101, AL304 --------------------------------------------------------------------------

_CHANNELWISE = frozenset(
    {
        "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu",
        "Celu", "Softplus", "Softsign", "Identity", "Gelu", "Mish", "Erf", "Sqrt", "Abs", "Neg", "Exp",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Dropout", "Cast", "QuickGelu",
    }
)  # fmt: skip
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"})


@dataclass
class Width:
    """A set of tensors that must share a channel count, and the layers that set or read it."""

    channels: int
    from_right: int  # the channel axis, counted from the right (1: last axis)
    tensors: set[str] = field(default_factory=set)
    makers: list[onnx.NodeProto] = field(default_factory=list)  # their weights' output axis changes
    readers: list[onnx.NodeProto] = field(default_factory=list)  # their weights' input axis changes
    channelwise: list[onnx.NodeProto] = field(default_factory=list)  # per-channel parameters change


def width_of(graph: Graph, start: str, channels: int, from_right: int) -> Width:
    """Every tensor that must keep ``start``'s channel count, and the layers around them."""
    width = Width(channels, from_right)
    queue = [start]
    while queue:
        name = queue.pop()
        if name in width.tensors:
            continue
        if name in graph.outputs or name in graph.inputs or name in graph.subgraph_reads:
            raise NotApplicableError(
                f"the width of {name!r} is a model input's or output's, or a subgraph reads it"
            )
        width.tensors.add(name)
        producer = graph.producers.get(name)
        if producer is None:
            raise NotApplicableError(f"{name!r} has no producer in the main graph")
        queue.extend(_upstream(graph, width, producer, name))
        for reader in graph.consumers.get(name, []):
            queue.extend(_downstream(graph, width, reader, name))
    return width


def _weight(graph: Graph, node: onnx.NodeProto, index: int) -> Array | None:
    return (
        graph.value(node.input[index])
        if len(node.input) > index and graph.is_const(node.input[index])
        else None
    )


def _is_depthwise(graph: Graph, node: onnx.NodeProto, channels: int) -> bool:
    weight = _weight(graph, node, 1)
    return (
        weight is not None and int(attr(node, "group", 1)) == channels and weight.shape[:2] == (channels, 1)
    )


def _upstream(graph: Graph, width: Width, node: onnx.NodeProto, name: str) -> list[str]:
    op, c = node.op_type, width.channels
    weight = _weight(graph, node, 1)
    if op == "Conv" and _is_depthwise(graph, node, c):
        _add(width.channelwise, node)
        return [node.input[0]]
    if op == "Conv" and weight is not None and int(attr(node, "group", 1)) == 1 and weight.shape[0] == c:
        _add(width.makers, node)
        return []
    if op == "MatMul" and weight is not None and weight.ndim == 2 and weight.shape[1] == c:
        _add(width.makers, node)
        return []
    if op == "Gemm" and weight is not None and weight.shape[0 if attr(node, "transB", 0) else 1] == c:
        _add(width.makers, node)
        return []
    return _passing(graph, width, node, name)


def _downstream(graph: Graph, width: Width, node: onnx.NodeProto, name: str) -> list[str]:
    op, c = node.op_type, width.channels
    weight = _weight(graph, node, 1)
    data_input = node.input[0] == name and list(node.input).count(name) == 1
    if op == "Conv" and data_input and _is_depthwise(graph, node, c):
        _add(width.channelwise, node)
        return [node.output[0]]
    if data_input and weight is not None and _reads_channels(node, weight) == c:
        _add(width.readers, node)
        return []
    return [node.output[0], *_passing(graph, width, node, name)]


def _reads_channels(node: onnx.NodeProto, weight: Array) -> int | None:
    """The input channels (K) a dense Conv, MatMul or Gemm reduces over, from its weight."""
    if node.op_type == "Conv" and int(attr(node, "group", 1)) == 1:
        return int(weight.shape[1])
    if node.op_type == "MatMul" and weight.ndim == 2:
        return int(weight.shape[0])
    if node.op_type == "Gemm" and not attr(node, "transA", 0):
        return int(weight.shape[1 if attr(node, "transB", 0) else 0])
    return None


def _passing(graph: Graph, width: Width, node: onnx.NodeProto, name: str) -> list[str]:
    """Tensors tied to ``name`` through an operator that acts on each channel alone."""
    op = node.op_type
    if op in _CHANNELWISE or op == "BatchNormalization":
        if op == "BatchNormalization" or op == "PRelu":
            _add(width.channelwise, node)
        return [node.input[0], node.output[0]]
    if op in _BINARY and len(node.input) == 2:
        tied = [node.output[0]]
        for other in node.input:
            if graph.is_const(other):
                if per_channel(graph.value(other), width.channels, width.from_right) is None:
                    raise NotApplicableError(f"{op} {node.name!r} has a constant that is not per channel")
                _add(width.channelwise, node)
            elif other != name:
                size = _channel_dim(graph, other, width.from_right)
                if size == width.channels:
                    tied.append(other)
                elif size != 1:
                    raise NotApplicableError(
                        f"{op} {node.name!r} reads {other!r}, whose channels are unknown"
                    )
        return tied
    raise NotApplicableError(
        f"the width reaches {op} {node.name!r}, which does not act on each channel alone"
    )


def _channel_dim(graph: Graph, name: str, from_right: int) -> int | None:
    shape = graph.shapes.get(name)
    if shape is None or len(shape) < from_right:
        return 1 if shape is not None else None
    return shape[len(shape) - from_right]


def _add(nodes: list[onnx.NodeProto], node: onnx.NodeProto) -> None:
    if all(n is not node for n in nodes):
        nodes.append(node)


def resize(graph: Graph, widths: Sequence[tuple[Width, int]]) -> None:
    """Give each width its new channel count: weights cut, or repeated when it grows."""
    tensors = [w.tensors for w, _ in widths]
    if any(a & b for i, a in enumerate(tensors) for b in tensors[i + 1 :]):
        raise NotApplicableError("the widths to change are tied to each other")
    for width, size in widths:
        keep = np.arange(size) % width.channels
        for node in width.makers:
            _take(graph, node, 1, keep, _maker_axis(node))
            if len(node.input) > 2 and node.input[2]:
                _take_vector(graph, node, 2, keep, width.channels)
        for node in width.readers:
            _take(graph, node, 1, keep, _reader_axis(node))
        for node in width.channelwise:
            _resize_channelwise(graph, node, width, keep, size)
        graph.forget_shapes(width.tensors)
    graph.drop_unread()


def _maker_axis(node: onnx.NodeProto) -> int:
    if node.op_type == "Gemm":
        return 0 if attr(node, "transB", 0) else 1
    return 0 if node.op_type == "Conv" else 1


def _reader_axis(node: onnx.NodeProto) -> int:
    if node.op_type == "Gemm":
        return 1 if attr(node, "transB", 0) else 0
    return 1 if node.op_type == "Conv" else 0


def _take(graph: Graph, node: onnx.NodeProto, index: int, keep: Array, axis: int) -> None:
    graph.set_input(node, index, np.take(graph.value(node.input[index]), keep, axis=axis))


def _take_vector(graph: Graph, node: onnx.NodeProto, index: int, keep: Array, channels: int) -> None:
    value = graph.value(node.input[index])
    if value.size == channels:
        graph.set_input(node, index, np.take(value.reshape(value.shape), keep, axis=value.ndim - 1))
    elif value.size != 1:
        raise NotApplicableError(f"{node.op_type} {node.name!r} has a bias that is not one value per channel")


def _resize_channelwise(graph: Graph, node: onnx.NodeProto, width: Width, keep: Array, size: int) -> None:
    if node.op_type == "Conv":  # depthwise
        _take(graph, node, 1, keep, 0)
        if len(node.input) > 2 and node.input[2]:
            _take(graph, node, 2, keep, 0)
        set_attr(node, "group", size)
    elif node.op_type == "BatchNormalization":
        for index in range(1, 5):
            _take(graph, node, index, keep, 0)
    else:  # PRelu's slope, an elementwise operator's per-channel constant
        for index, name in enumerate(node.input):
            if not graph.is_const(name):
                continue
            value = graph.value(name)
            axis = value.ndim - width.from_right
            if 0 <= axis < value.ndim and value.shape[axis] == width.channels:
                graph.set_input(node, index, np.take(value, keep, axis=axis))


def _channel_axis_from_right(graph: Graph, node: onnx.NodeProto) -> int:
    weight = _weight(graph, node, 1)
    if node.op_type == "Conv" and weight is not None:
        return weight.ndim - 1
    return 1


# "channels" alone is a depthwise conv's: one width in and out.
_ROLE = re.compile(r"(\d+) (input channels|output channels|channels|K \(reduction\)|N \(output features\))")
_BLOCK = re.compile(r"in blocks of (\d+)")


def round_down_widths(graph: Graph, finding: Finding) -> str:
    """AL101: every unaligned width of every location, rounded down to the channel block."""
    head = finding.message.split(";")[0]
    roles = [(int(d), role) for d, role in _ROLE.findall(head)]
    block = _BLOCK.search(finding.message)
    if not roles or block is None:
        raise NotApplicableError("the message names no unaligned width")
    alignment = int(block.group(1))
    widths: list[tuple[Width, int]] = []
    for name in finding.locations:
        node = graph.node(name)
        if node.op_type not in _LINEAR:
            raise NotApplicableError(
                f"{node.op_type} {name!r}: only Conv, Gemm and MatMul widths are changed"
            )
        for size, role in roles:
            target = size // alignment * alignment
            start = node.output[0] if role in ("output channels", "N (output features)") else node.input[0]
            if any(start in w.tensors for w, _ in widths):
                continue
            widths.append((width_of(graph, start, size, _channel_axis_from_right(graph, node)), target))
    resize(graph, widths)
    changed = sum(len(w.makers) + len(w.readers) for w, _ in widths)
    return (
        f"{len(widths)} width(s) rounded down to the block of {alignment} ({changed} layers' weights changed)"
    )


def equal_widths(graph: Graph, finding: Finding) -> str:
    """AL304: the 1x1 conv's widths c1 -> c2 both become round(sqrt(c1 * c2))."""
    widths: list[tuple[Width, int]] = []
    for name in finding.locations:
        node = graph.node(name)
        weight = _weight(graph, node, 1)
        if node.op_type != "Conv" or weight is None:
            raise NotApplicableError(f"{node.op_type} {name!r} is not a Conv with constant weights")
        c2, c1 = int(weight.shape[0]), int(weight.shape[1])
        size = round(math.sqrt(c1 * c2))
        for start, channels in ((node.input[0], c1), (node.output[0], c2)):
            if not any(start in w.tensors for w, _ in widths):
                widths.append((width_of(graph, start, channels, weight.ndim - 1), size))
    resize(graph, widths)
    changed = sum(len(w.makers) + len(w.readers) for w, _ in widths)
    return f"{len(finding.locations)} conv(s) given equal widths ({changed} layers' weights changed)"


# --- AL202, AL203, AL401 ----------------------------------------------------------------------------

_GROUPS = re.compile(r"use (\d+) groups?\b")
_STACK = re.compile(r"use (\d+) stacked 3x3 convs ([\d >-]+)")


def fewer_groups(graph: Graph, finding: Finding) -> str:
    """AL202: the conv with the group count the fix names (new random weights of that shape)."""
    match = _GROUPS.search(finding.fix)
    if match is None:
        raise NotApplicableError("the fix names no group count")
    fewer = int(match.group(1))
    rng = np.random.default_rng(0)
    for name in finding.locations:
        node = graph.node(name)
        weight, groups = graph.value(node.input[1]), int(attr(node, "group", 1))
        shape = (weight.shape[0], weight.shape[1] * groups // fewer, *weight.shape[2:])
        fan_in = math.prod(shape[1:])
        graph.set_input(node, 1, (rng.standard_normal(shape) / math.sqrt(fan_in)).astype(weight.dtype))
        set_attr(node, "group", fewer)
    graph.drop_unread()
    return f"{len(finding.locations)} conv(s) regrouped to {fewer} group(s)"


def stack_of_3x3(graph: Graph, finding: Finding) -> str:
    """AL203: a large-kernel conv becomes the stack of 3x3 convs the fix names."""
    match = _STACK.search(finding.fix)
    if match is None:
        raise NotApplicableError("the fix proposes no 3x3 stack")
    channels = [int(c) for c in match.group(2).replace(" ", "").split("->") if c]
    for name in finding.locations:
        _stack(graph, graph.node(name), channels)
    graph.refresh()
    graph.drop_unread()
    return f"{len(finding.locations)} conv(s) replaced by {len(channels) - 1} stacked 3x3 convs"


def _stack(graph: Graph, node: onnx.NodeProto, channels: list[int]) -> None:
    weight = graph.value(node.input[1])
    groups = int(attr(node, "group", 1))
    if weight.ndim != 4 or any(int(d) != 1 for d in attr(node, "dilations", [1, 1])):
        raise NotApplicableError(f"Conv {node.name!r} is not a 2-d undilated conv")
    depthwise = groups > 1 and groups == weight.shape[0] and weight.shape[1] == 1
    if groups > 1 and not depthwise:
        raise NotApplicableError(f"Conv {node.name!r} is grouped, not depthwise")
    rng = np.random.default_rng(0)
    strides = list(attr(node, "strides", [1, 1]))
    x, layers, stack = node.input[0], len(channels) - 1, []
    for i in range(layers):
        cin, cout = channels[i], channels[i + 1]
        per_group = 1 if depthwise else cin
        w = (rng.standard_normal((cout, per_group, 3, 3)) / math.sqrt(9 * per_group)).astype(weight.dtype)
        y = node.output[0] if i == layers - 1 else graph.fresh(f"{node.output[0]}_3x3_{i}")
        conv = helper.make_node(
            "Conv", [x, ""], [y], name=f"{node.name}_3x3_{i}", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
            strides=strides if i == 0 else [1, 1], group=cout if depthwise else 1,
        )  # fmt: skip
        graph.set_input(conv, 1, w)
        if i == layers - 1 and len(node.input) > 2 and node.input[2]:
            conv.input.append(node.input[2])
        stack.append(conv)
        x = y
    graph.splice([node], stack)
    graph.refresh()


def flush_weights(graph: Graph, finding: Finding) -> str:
    """AL401: subnormal and tiny weights of the located operators set to ±0 (archlint fix's flush)."""
    flushed_values = 0
    for name in finding.locations:
        node = graph.node(name)
        for index, tensor_name in enumerate(node.input):
            tensor = graph.initializers.get(tensor_name)
            smallest = SMALLEST_NORMAL.get(dtype_name(tensor)) if tensor is not None else None
            if tensor is None or smallest is None:
                continue
            values = numpy_helper.to_array(tensor)
            mask = flush_mask(values, smallest, TINY)
            if mask.any():
                graph.set_input(node, index, flushed(values, mask))
                flushed_values += int(mask.sum())
    graph.drop_unread()
    if not flushed_values:
        raise NotApplicableError("the located operators read no subnormal or tiny weights")
    return f"{flushed_values} subnormal or tiny weights set to ±0"


REWRITES: dict[str, Rewrite] = {
    "AL101": Rewrite("round widths down to the channel block", False, round_down_widths),
    "AL202": Rewrite("fewer groups", False, fewer_groups),
    "AL203": Rewrite("stack of 3x3 convs", False, stack_of_3x3),
    "AL303": Rewrite("fold into the layer before / fuse SiLU", True, fold_or_fuse),
    "AL304": Rewrite("equal 1x1 widths", False, equal_widths),
    "AL401": Rewrite("flush subnormal weights", True, flush_weights),
}


def apply_fix(
    proto: onnx.ModelProto, finding: Finding, shapes: dict[str, tuple[int | None, ...]]
) -> tuple[onnx.ModelProto, str]:
    """A copy of ``proto`` with the finding's fix at every location, and what was done.

    Raises NotApplicableError when the rule has no mechanical fix or this model's graph rules it out.
    """
    rewrite = REWRITES.get(finding.code)
    if rewrite is None:
        raise NotApplicableError(f"{finding.code} has no mechanical fix")
    if not finding.locations:
        raise NotApplicableError("a finding about the whole model names no operator to change")
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    return copy, rewrite.apply(Graph(copy, shapes), finding)
