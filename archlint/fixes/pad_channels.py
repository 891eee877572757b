"""pad-channels: round a Conv's output channels up to the target's channel block (unsafe).

Engines pad a 30-channel Conv to 32 anyway (AL101); padding the model itself lets the next Conv
use the channel layout directly, and makes room for the designer to train the extra channels.
The Conv gets zero filters (and zero bias), every Conv that reads it gets matching zero
input-channel slices, so the original channels compute exactly what they computed before: the
new channels are multiplied by zero weights wherever they are read. Between the two Convs only
per-channel operators are allowed: activations, BatchNormalization (neutral parameters for the
new channels) and depthwise Convs (zero filters, one more group per new channel, as in a
MobileNet block), and the padded tensors must not reach a model output.

It is unsafe because the model's structure changes (channel counts, parameter count, the shapes
other tools see), even though its outputs do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from archlint.fixes.proto import MainGraph, attr, plural, set_values
from archlint.model import dtypes

# Operators that act on each channel alone and map a zero channel to a finite value, so the
# padded channels stay apart from the real ones and never turn into NaN (which zero weights
# would not cancel).
_CHANNELWISE = frozenset(
    {
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu",
        "Celu", "Softplus", "Softsign", "Identity", "Gelu", "Mish",
    }
)  # fmt: skip
# New channels of a BatchNormalization: gamma 0, beta 0, mean 0, var 1 give exactly 0.
_NEUTRAL_BN = (0.0, 0.0, 0.0, 1.0)
_MAX_CHAIN = 64


@dataclass
class _Plan:
    """What padding one Conv touches: its consumers' weights, BatchNorms on the way, tensors."""

    conv: onnx.NodeProto
    channels: int
    padded: int
    readers: list[onnx.NodeProto] = field(default_factory=list)
    depthwise: list[onnx.NodeProto] = field(default_factory=list)
    batchnorms: list[onnx.NodeProto] = field(default_factory=list)
    tensors: set[str] = field(default_factory=set)


def pad_channels(proto: onnx.ModelProto, alignment: Callable[[str], int]) -> tuple[int, str]:
    """Pad in place; ``alignment`` maps a compute dtype ("fp32") to the target's channel block."""
    graph = MainGraph(proto)
    plans = [p for node in list(proto.graph.node) if (p := _plan(graph, node, alignment)) is not None]
    for plan in plans:
        _apply(graph, plan)
    added = sum(p.padded - p.channels for p in plans)
    padded, channels = plural(len(plans), "Conv"), plural(added, "zero output channel")
    return len(plans), f"{padded} padded with {channels} to the channel block"


def _plan(graph: MainGraph, conv: onnx.NodeProto, alignment: Callable[[str], int]) -> _Plan | None:
    weight = _own_weight(graph, conv)
    if weight is None:
        return None
    channels = weight.dims[0]
    block = alignment(dtypes.from_onnx(weight.data_type).compute)
    padded = -(-channels // block) * block if block > 1 else channels
    if padded == channels:
        return None
    plan = _Plan(conv, channels, padded)
    return plan if _walk(graph, plan) else None


def _own_weight(graph: MainGraph, conv: onnx.NodeProto, group: int = 1) -> onnx.TensorProto | None:
    """The stored weight of a Conv with ``group`` groups, if that Conv alone reads it (and its bias)."""
    if conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or int(attr(conv, "group", 1)) != group:
        return None
    stored = [name for name in conv.input[1:] if name]
    if len(conv.input) < 2 or any(name not in graph.initializers for name in stored):
        return None
    if not all(graph.only_reader_is(name, conv) for name in stored):
        return None
    return graph.initializers[conv.input[1]]  # type: ignore[no-any-return]


def _walk(graph: MainGraph, plan: _Plan) -> bool:
    """Follow the Conv's output to the Convs that read it; False if anything else reads it."""
    frontier = [plan.conv.output[0]]
    while frontier and len(plan.tensors) < _MAX_CHAIN:
        name = frontier.pop()
        readers = graph.consumers(name)
        in_main = sum(list(node.input).count(name) for node in readers)
        if name in graph.outputs or graph.reads.get(name, 0) != in_main or not readers:
            return False  # a model output, or a reader inside a subgraph
        plan.tensors.add(name)
        for node in readers:
            if not _follow(graph, plan, node, name, frontier):
                return False
    return not frontier and bool(plan.readers)


def _follow(graph: MainGraph, plan: _Plan, node: onnx.NodeProto, name: str, frontier: list[str]) -> bool:
    if list(node.input).index(name) != 0 or list(node.input).count(name) != 1:
        return False
    if node.op_type == "Conv" and int(attr(node, "group", 1)) == plan.channels > 1:
        weight = _own_weight(graph, node, group=plan.channels)
        if weight is None or weight.dims[0] != plan.channels or weight.dims[1] != 1:
            return False  # a channel multiplier > 1 would interleave new and old channels
        plan.depthwise.append(node)
    elif node.op_type == "Conv":
        weight = _own_weight(graph, node)
        if weight is None or weight.dims[1] != plan.channels:
            return False
        plan.readers.append(node)
        return True
    elif node.op_type == "BatchNormalization" and _own_parameters(graph, node):
        plan.batchnorms.append(node)
    elif node.op_type not in _CHANNELWISE or node.domain not in ("", "ai.onnx"):
        return False
    frontier.append(node.output[0])
    return True


def _own_parameters(graph: MainGraph, bn: onnx.NodeProto) -> bool:
    params = list(bn.input[1:5])
    inference = attr(bn, "training_mode", 0) == 0 and len([o for o in bn.output if o]) == 1
    return inference and all(p in graph.initializers and graph.only_reader_is(p, bn) for p in params)


def _apply(graph: MainGraph, plan: _Plan) -> None:
    extra = plan.padded - plan.channels
    for name in [n for n in plan.conv.input[1:] if n]:
        _extend(graph.initializers[name], axis=0, count=extra, fill=0.0)
    for conv in plan.depthwise:
        for name in [n for n in conv.input[1:] if n]:
            _extend(graph.initializers[name], axis=0, count=extra, fill=0.0)
        _set_group(conv, plan.padded)
    for bn in plan.batchnorms:
        for name, fill in zip(bn.input[1:5], _NEUTRAL_BN, strict=True):
            _extend(graph.initializers[name], axis=0, count=extra, fill=fill)
    for reader in plan.readers:
        _extend(graph.initializers[reader.input[1]], axis=1, count=extra, fill=0.0)
    graph.forget_shapes(plan.tensors)


def _extend(tensor: onnx.TensorProto, axis: int, count: int, fill: float) -> None:
    values = numpy_helper.to_array(tensor)
    shape = list(values.shape)
    shape[axis] = count
    set_values(tensor, np.concatenate([values, np.full(shape, fill, values.dtype)], axis=axis))


def _set_group(conv: onnx.NodeProto, group: int) -> None:
    kept = [a for a in conv.attribute if a.name != "group"]
    del conv.attribute[:]
    conv.attribute.extend([*kept, onnx.helper.make_attribute("group", group)])
