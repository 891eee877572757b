"""Small graph questions several rules ask."""

from __future__ import annotations

from dataclasses import replace

from archlint.analysis.costs.conv import conv_class
from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.analysis.whatif import cost_alternative
from archlint.lint.rule import RuleContext
from archlint.model.dtypes import DType
from archlint.model.graph import Tensor

# Operators that pass a tensor's channels through unchanged: looking through them finds where
# channels really come from (a model input) or go to (a model output).
_PASS_THROUGH = frozenset({OpClass.VIEW, OpClass.ELEMENTWISE, OpClass.NORMALIZATION, OpClass.QUANTIZE})


# Channel dimensions the data fixes rather than the designer: an image input's RGB channels, a
# classifier's number of classes.
INPUT_ROLES = frozenset({"input channels", "K (reduction)", "input size"})
OUTPUT_ROLES = frozenset({"output channels", "N (output features)"})


def designer_chosen(ctx: RuleContext, node: NodeCost) -> list[tuple[str, int]]:
    """(role, size) of the node's channel-like dims, without those the model's data fixes."""
    roles = node.padded_roles or ("dimension",) * len(node.padded_dims)
    pairs = list(zip(roles, node.padded_dims, strict=False))
    if fed_by_model_input(ctx, node):
        pairs = [(r, d) for r, d in pairs if r not in INPUT_ROLES]
    if feeds_model_output(ctx, node):
        pairs = [(r, d) for r, d in pairs if r not in OUTPUT_ROLES]
    return pairs


def fed_by_model_input(ctx: RuleContext, node: NodeCost) -> bool:
    """Whether the node's data input is a model input, possibly through pass-through ops."""
    name = node.node.inputs[0] if node.node.inputs else ""
    for _ in range(8):
        if name in ctx.cost.model.graph.inputs:
            return True
        producer = ctx.producers.get(name)
        if producer is None or producer.op_class not in _PASS_THROUGH or not producer.node.inputs:
            return False
        name = producer.node.inputs[0]
    return False


def feeds_model_output(ctx: RuleContext, node: NodeCost) -> bool:
    """Whether the node's output reaches a model output through pass-through ops only."""
    frontier = [o for o in node.node.outputs if o]
    for _ in range(8):
        if any(name in ctx.cost.model.graph.outputs for name in frontier):
            return True
        readers = [r for name in frontier for r in ctx.consumers.get(name, [])]
        if not readers or any(r.op_class not in _PASS_THROUGH for r in readers):
            return False
        frontier = [o for r in readers for o in r.node.outputs if o]
    return False


# Pointwise in the strict sense: each output element depends on the same element of the inputs,
# so the op can run as the epilogue of whatever wrote its input. Softmax-like ops reduce a row.
_ROW_REDUCING = frozenset({"Softmax", "LogSoftmax", "Hardmax"})
_EPILOGUE_HOSTS = frozenset({OpClass.CONV, OpClass.DEPTHWISE_CONV, OpClass.MATMUL})


def constant_tensors(ctx: RuleContext) -> frozenset[str]:
    """Tensors fixed before the model runs (initializers and what engines fold from them)."""
    return ctx.cost.constant_tensors


def sole_reader(ctx: RuleContext, name: str) -> NodeCost | None:
    """The one operator that reads ``name``, when nothing else (a model output included) does."""
    readers = ctx.consumers.get(name, [])
    if len(readers) != 1 or name in ctx.cost.model.graph.outputs:
        return None
    return readers[0]


def is_pointwise(node: NodeCost) -> bool:
    if node.op_type == "BatchNormalization":  # an affine map per channel at inference
        return True
    return node.op_class is OpClass.ELEMENTWISE and node.op_type not in _ROW_REDUCING


def fusable_chains(ctx: RuleContext) -> list[tuple[NodeCost, ...]]:
    """Runs an engine can execute as one kernel: pointwise ops that each read the previous op's
    output as its only reader, headed by the Conv or matrix product whose epilogue they become
    when one writes the first input. Runs of a single op are left out."""
    chains: list[list[NodeCost]] = []
    chain_of: dict[int, list[NodeCost]] = {}
    for node in ctx.cost.nodes:
        if not is_pointwise(node) or len(node.node.outputs) != 1:
            continue
        upstream = _fusable_producer(ctx, node)
        if upstream is None:
            chain = [node]
            chains.append(chain)
        elif id(upstream) in chain_of:
            chain = chain_of[id(upstream)]
            chain.append(node)
        else:
            chain = [upstream, node]
            chains.append(chain)
            chain_of[id(upstream)] = chain
        chain_of[id(node)] = chain
    return [tuple(chain) for chain in chains if len(chain) > 1]


def _fusable_producer(ctx: RuleContext, node: NodeCost) -> NodeCost | None:
    """The op whose output ``node`` alone reads, when ``node`` can run inside that op's kernel."""
    for name in filter(None, node.node.inputs):
        producer = ctx.producers.get(name)
        if producer is None or producer.repeats != node.repeats or sole_reader(ctx, name) is not node:
            continue
        if len(producer.node.outputs) == 1 and (
            is_pointwise(producer) or producer.op_class in _EPILOGUE_HOSTS
        ):
            return producer
    return None


def static_shape(ctx: RuleContext, name: str) -> tuple[int, ...] | None:
    """The resolved shape of a main-graph tensor; None when unknown or local to a subgraph."""
    tensor = ctx.cost.model.graph.tensor(name) if name else None
    return tensor.static_shape if tensor is not None else None


def conv_weight(ctx: RuleContext, node: NodeCost) -> tuple[tuple[int, ...], DType] | None:
    """Shape (OC, IC/G, *kernel) and dtype of the weight of an NCHW convolution (Conv,
    ConvInteger, QLinearConv, FusedConv); None for other operators, an unknown shape, or an
    empty weight (a zero dimension: nothing to advise on)."""
    slot = {"Conv": 1, "ConvInteger": 1, "FusedConv": 1, "QLinearConv": 3}.get(node.op_type)
    tensor = ctx.cost.model.graph.tensor(node.node.input(slot)) if slot is not None else None
    if tensor is None or tensor.static_shape is None or len(tensor.static_shape) < 3:
        return None
    if 0 in tensor.static_shape:
        return None
    return tensor.static_shape, tensor.dtype


def conv_ints(node: NodeCost, key: str, rank: int) -> tuple[int, ...]:
    """A per-spatial-axis Conv attribute (strides, dilations), 1 on every axis when absent."""
    return tuple(int(v) for v in node.node.attr(key, [1] * rank))


def next_through_pass_through(ctx: RuleContext, node: NodeCost) -> NodeCost | None:
    """The operator that consumes ``node``'s output, looking through pass-through ops
    (BatchNorm, activations, views) whose only runtime input is that output. None when the
    output has several readers or reaches a model output on the way."""
    current = node
    for _ in range(8):
        outputs = [o for o in current.node.outputs if o]
        if len(outputs) != 1 or outputs[0] in ctx.cost.model.graph.outputs:
            return None
        readers = ctx.consumers.get(outputs[0], [])
        if len(readers) != 1:
            return None
        reader = readers[0]
        if reader.op_class not in _PASS_THROUGH:
            return reader
        others = [name for name in reader.node.inputs if name and name != outputs[0]]
        if any(name in ctx.producers or name in ctx.cost.model.graph.inputs for name in others):
            return None
        current = reader
    return None


def producer_through_pass_through(ctx: RuleContext, node: NodeCost) -> NodeCost | None:
    """The operator that made ``node``'s data input, looking back through pass-through ops."""
    name = node.node.inputs[0] if node.node.inputs else ""
    for _ in range(8):
        producer = ctx.producers.get(name)
        if producer is None or producer.op_class not in _PASS_THROUGH or not producer.node.inputs:
            return producer
        name = producer.node.inputs[0]
    return None


def conv_padding(
    groups: int, in_per_group: int, out_channels: int
) -> tuple[OpClass, tuple[int, ...], tuple[str, ...]]:
    """Op class, padded channel dims and their roles of a conv with this grouping, exactly as the
    Conv cost handler records them: re-costed alternatives must pad like the real thing."""
    return conv_class(groups, in_per_group, out_channels)


def conv_alternative(
    ctx: RuleContext,
    like: NodeCost,
    weight_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    group: int = 1,
    in_shape: tuple[int, ...] | None = None,
) -> NodeCost | None:
    """A conv like ``like`` (its data type, strides, pads, dilations) with other channel counts,
    kernel, groups or output, costed by the Conv cost handler: what a rule's alternative costs."""
    graph = ctx.cost.model.graph
    quantized = like.op_type in ("QLinearConv", "ConvInteger")
    slot = 3 if like.op_type == "QLinearConv" else 1
    data, weight = graph.tensor(like.node.input(0)), graph.tensor(like.node.input(slot))
    out = graph.tensor(like.node.outputs[0])
    x_shape = in_shape or (data.static_shape if data is not None else None)
    if data is None or weight is None or out is None or x_shape is None:
        return None
    attrs = {k: v for k, v in like.node.attrs.items() if k != "kernel_shape"}
    node = replace(
        like.node,
        op_type="ConvInteger" if quantized else "Conv",
        domain="",
        inputs=("x", "w"),
        outputs=("y",),
        attrs={**attrs, "group": group},
    )
    tensors = [
        Tensor("x", data.dtype, tuple(x_shape)),
        Tensor("w", weight.dtype, tuple(weight_shape)),
        Tensor("y", out.dtype, tuple(out_shape)),
    ]
    found = cost_alternative([node], tensors, weights=["w"], repeats=like.repeats)
    return replace(found[0], name=like.name) if found else None
