"""Quantized kernels: the DequantizeLinear -> op -> QuantizeLinear groups an engine runs as one.

A QDQ model (onnxruntime's static quantizer, torch's PT2E export) writes each quantized
operator in float: its inputs come through DequantizeLinear (DQ), its output goes through
QuantizeLinear (Q). An engine with ``quantized_kernels`` in its profile replaces such a group by
one integer kernel (``{Conv: QLinearConv}``), priced with that op type's figures on 8-bit
tensors; an op mapped to itself (``{Reshape: Reshape}``) only moves data and runs on the 8-bit
tensor, the DQ and Q dropped. The group qualifies as onnxruntime's QDQ selectors decide
(onnxruntime/core/optimizer/qdq_transformer/selectors_actions/qdq_selectors.cc):

* every float input of the op comes straight from a DQ (a bias the exporter passes through an
  Identity does not), and for an op that only moves data, its data input; a DQ read by several
  operators counts for each (the engine gives every reader a copy of it first);
* the op's output is read by exactly one Q and is no graph output; a Relu or Clip between them,
  read only by that Q, runs inside the kernel (the Q's range clips it anyway);
* the DQ inputs and the Q output are 8-bit and of one type; int8 activations need int8 weights;
  an op that only moves data keeps its DQ's scale and zero point in its Q.

With ``dequantizes_weights`` the engine also runs, at every inference, the DequantizeLinear of
a stored weight whose reader is not such a kernel (onnxruntime folds no DequantizeLinear when it
loads a model): the reader pays for converting its weight to float.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import ModelCost, NodeCost
from archlint.model.graph import Graph, Node
from archlint.targets.profile import HardwareProfile

_EIGHT_BIT = frozenset({"int8", "uint8"})
_CLIPS = frozenset({"Relu", "Clip"})
_POINTWISE_CLASSES = frozenset({OpClass.ELEMENTWISE, OpClass.NORMALIZATION})


class QuantizedPlan(NamedTuple):
    """What the engine runs instead of a QDQ model's float operators, by index into ``model.nodes``."""

    kernels: Mapping[int, NodeCost]  # op -> its integer kernel
    absorbed: frozenset[int]  # the groups' DQ, Q (and Relu/Clip): no kernel of their own
    dequantized: Mapping[int, tuple[NodeCost, ...]]  # operator -> its stored weights made float

    def costs(self, model: ModelCost) -> tuple[NodeCost, ...]:
        """``model.nodes`` as the engine runs them: each grouped op as its integer kernel."""
        return tuple(self.kernels.get(i, cost) for i, cost in enumerate(model.nodes))


def quantized_plan(model: ModelCost, profile: HardwareProfile) -> QuantizedPlan:
    if not profile.quantized_kernels and not profile.dequantizes_weights:
        return QuantizedPlan({}, frozenset(), {})
    view = _View(model)
    kernels: dict[int, NodeCost] = {}
    grouped_dq: Counter[int] = Counter()  # runtime DQ -> how many of its readers became kernels
    absorbed: set[int] = set()
    for index, cost in enumerate(model.nodes):
        kernel = profile.quantized_kernels.get(cost.op_type)
        if kernel is None or cost.node.domain or view.index_of.get(id(cost.node)) != index:
            continue
        group = _group(cost, kernel, view)
        if group is None:
            continue
        dqs, tail = group
        kernels[index] = _kernel_cost(cost, kernel, dqs, tail[-1], view)
        absorbed.update(view.index_of[id(node)] for node in tail)
        grouped_dq.update(view.index_of[id(dq)] for dq in dqs if id(dq) in view.index_of)
    # A runtime DQ disappears only when every operator reading it became a kernel.
    absorbed.update(
        dq for dq, count in grouped_dq.items() if count == len(view.readers[model.nodes[dq].node.outputs[0]])
    )
    dequantized = _dequantized_weights(model, kernels, view) if profile.dequantizes_weights else {}
    return QuantizedPlan(kernels, frozenset(absorbed), dequantized)


class _View:
    """The main graph's producers (folded nodes included) and runtime readers of each tensor."""

    def __init__(self, model: ModelCost) -> None:
        self.graph = model.model.graph
        self.constants = model.constant_tensors
        self.outputs = set(self.graph.outputs)
        main = {id(node) for node in self.graph.nodes}
        self.index_of = {id(c.node): i for i, c in enumerate(model.nodes) if id(c.node) in main}
        self.producer = {name: node for node in self.graph.nodes for name in node.outputs if name}
        self.readers: dict[str, list[Node]] = {}
        for cost in model.nodes:
            for name in dict.fromkeys(cost.node.inputs):
                if name:
                    self.readers.setdefault(name, []).append(cost.node)

    def dtype(self, name: str) -> str:
        tensor = self.graph.tensor(name)
        return tensor.dtype.name if tensor is not None else ""

    def is_float(self, name: str) -> bool:
        tensor = self.graph.tensor(name)
        return tensor is not None and tensor.dtype.is_float

    def nbytes(self, name: str) -> int:
        tensor = self.graph.tensor(name)
        return (tensor.nbytes or 0) if tensor is not None else 0


def _group(cost: NodeCost, kernel: str, view: _View) -> tuple[list[Node], list[Node]] | None:
    """The DQ nodes feeding ``cost``'s op and the nodes after it up to its Q (a Relu/Clip, the
    Q), or None where the engine would not run the group as one kernel."""
    node = cost.node
    moves_data = kernel == node.op_type
    inputs = [name for name in node.inputs if name]
    data = inputs[:1] if moves_data else [name for name in inputs if view.is_float(name)]
    dqs = [view.producer.get(name) for name in data]
    dq_nodes = [dq for dq in dqs if dq is not None and dq.op_type == "DequantizeLinear" and not dq.domain]
    if not data or len(dq_nodes) != len(data):
        return None
    tail = _tail(node, view)
    if tail is None:
        return None
    activation, result = view.dtype(dq_nodes[0].inputs[0]), view.dtype(tail[-1].outputs[0])
    if activation not in _EIGHT_BIT or result != activation:
        return None
    if moves_data:
        return (dq_nodes, tail) if _same_params(dq_nodes[0], tail[-1], view.graph) else None
    for dq in dq_nodes[1:]:
        stored = view.dtype(dq.inputs[0])
        if stored not in _EIGHT_BIT | {"int32"} or (activation == "int8" and stored == "uint8"):
            return None
    return dq_nodes, tail


def _tail(node: Node, view: _View) -> list[Node] | None:
    """[Relu/Clip,] Q: the op's output read by exactly one Q, possibly through one Relu or Clip."""
    if len([o for o in node.outputs if o]) != 1:
        return None
    current, tail = node, list[Node]()
    while True:
        out = current.outputs[0]
        readers = view.readers.get(out, [])
        if out in view.outputs or len(readers) != 1 or id(readers[0]) not in view.index_of:
            return None
        reader = readers[0]
        if reader.op_type == "QuantizeLinear" and not reader.domain:
            return [*tail, reader]
        if reader.op_type not in _CLIPS or reader.domain or tail:
            return None
        current, tail = reader, [reader]


def _kernel_cost(cost: NodeCost, kernel: str, dqs: list[Node], q: Node, view: _View) -> NodeCost:
    """``cost`` as the integer kernel: 8-bit activations in and out, integer arithmetic."""
    written = view.nbytes(q.outputs[0])
    if kernel == cost.op_type:  # moves data only: the same op on 8-bit elements
        scale = written / cost.bytes_written if cost.bytes_written else 1.0
        return dataclasses.replace(
            cost,
            bytes_read=round(cost.bytes_read * scale),
            bytes_written=written,
            weight_bytes=round(cost.weight_bytes * scale),
        )
    # Weights behind a DQ are already counted at their stored size; activations were float.
    activations = [dq for dq in dqs if dq.outputs[0] not in view.constants]
    float_bytes = sum(view.nbytes(dq.outputs[0]) for dq in activations)
    integer_bytes = sum(view.nbytes(dq.inputs[0]) for dq in activations)
    # archlint's cost table classes the integer kernels of pointwise operators and of Softmax
    # (QLinearAdd, QLinearSigmoid, QLinearSoftmax) as quantize work; convs, matmuls, pools and
    # Concat keep their class.
    op_class = OpClass.QUANTIZE if cost.op_class in _POINTWISE_CLASSES else cost.op_class
    return dataclasses.replace(
        cost,
        node=dataclasses.replace(cost.node, op_type=kernel),
        op_class=op_class,
        bytes_read=max(cost.bytes_read - float_bytes, 0) + integer_bytes,
        bytes_written=written,
        compute_dtype="int8",
    )


def _dequantized_weights(
    model: ModelCost, kernels: Mapping[int, NodeCost], view: _View
) -> dict[int, tuple[NodeCost, ...]]:
    """Per operator left in float, the DequantizeLinear of each stored weight it reads: run by
    the engine at every inference, since it folds none at load time."""
    found: dict[int, tuple[NodeCost, ...]] = {}
    for index, cost in enumerate(model.nodes):
        if index in kernels:
            continue
        dqs = [
            _dequantize_cost(dq, view)
            for name in dict.fromkeys(cost.node.inputs)
            if name in view.constants
            and (dq := view.producer.get(name)) is not None
            and dq.op_type == "DequantizeLinear"
            and not dq.domain
            and id(dq) not in view.index_of
        ]
        if dqs:
            found[index] = tuple(dqs)
    return found


def _dequantize_cost(dq: Node, view: _View) -> NodeCost:
    """One run of a weight's DequantizeLinear: read the stored integers, write floats."""
    tensor = view.graph.tensor(dq.outputs[0])
    elements = (tensor.numel or 0) if tensor is not None else 0
    stored = view.nbytes(dq.inputs[0])
    return NodeCost(
        name=dq.name,
        node=dq,
        op_class=OpClass.QUANTIZE,
        flops=2 * elements,
        bytes_read=stored,
        bytes_written=view.nbytes(dq.outputs[0]),
        weight_bytes=stored,
        params=0,
        repeats=1,
        padded_dims=(),
        compute_dtype="fp32",
    )


def _same_params(dq: Node, q: Node, graph: Graph) -> bool:
    """Whether the Q quantizes with the DQ's own scale and zero point (constants both)."""
    if graph.small_values.get(dq.input(1)) is None:
        return False
    for slot in (1, 2):
        a, b = graph.small_values.get(dq.input(slot)), graph.small_values.get(q.input(slot))
        if (a is None) != (b is None) or (a is not None and not np.array_equal(np.asarray(a), np.asarray(b))):
            return False
    return True
