"""Small graph questions several rules ask."""

from __future__ import annotations

from dataclasses import replace

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.analysis.whatif import cost_alternative
from archlint.lint.rule import RuleContext
from archlint.model.dtypes import DType, from_onnx
from archlint.model.graph import Tensor
from archlint.model.source_locations import SOURCE_MAP_KEY

# Operators that pass a tensor's channels through unchanged: looking through them finds where
# channels really come from (a model input) or go to (a model output).
_PASS_THROUGH = frozenset({OpClass.VIEW, OpClass.ELEMENTWISE, OpClass.NORMALIZATION, OpClass.QUANTIZE})


# Channel dimensions the data fixes rather than the designer: an image input's RGB channels, a
# classifier's number of classes.
INPUT_ROLES = frozenset({"input channels", "K (reduction)", "input size"})
OUTPUT_ROLES = frozenset({"output channels", "N (output features)"})


# Operators that learn nothing: a width that reaches a model output through only these is the
# width the output needs (a detector's class or box head), and one that comes from a model input
# through only these is the data's (an image's 3 channels).
_LEARNED = frozenset(
    {OpClass.CONV, OpClass.DEPTHWISE_CONV, OpClass.MATMUL, OpClass.ATTENTION, OpClass.RECURRENT}
)
_MAX_HOPS = 16


def designer_chosen(ctx: RuleContext, node: NodeCost) -> list[tuple[str, int]]:
    """(role, size) of the node's channel-like dims, without those the task fixes."""
    fixed = task_fixed(ctx, node)
    return [(r, d) for r, d in channel_dims(node) if r not in fixed]


def channel_dims(node: NodeCost) -> list[tuple[str, int]]:
    roles = node.padded_roles or ("dimension",) * len(node.padded_dims)
    return list(zip(roles, node.padded_dims, strict=False))


def task_fixed(ctx: RuleContext, node: NodeCost) -> dict[str, str]:
    """The node's channel roles that the model's data or task fixes, each with the reason."""
    if node.op_class is OpClass.MATMUL and not _has_constant_operand(ctx, node):
        reason = (
            "a product of two activations (attention scores or their weighted sum): its sizes are "
            "sequence lengths and head widths, set by the input and by the layers that project them"
        )
        return {role: reason for role, _ in channel_dims(node)}
    fixed: dict[str, str] = {}
    source = model_input_behind(ctx, node)
    if source is not None:
        reason = f"its input channels come from the model input {source!r} with no learned layer between"
        fixed.update(dict.fromkeys(INPUT_ROLES, reason))
    sink = model_output_ahead(ctx, node)
    if sink is not None:
        reason = (
            f"its output reaches the model output {sink!r} with no learned layer after it: the task "
            "fixes that width (classes, box coordinates, bins)"
        )
        fixed.update(dict.fromkeys(OUTPUT_ROLES, reason))
    return fixed


def _has_constant_operand(ctx: RuleContext, node: NodeCost) -> bool:
    constants = ctx.cost.constant_tensors
    return any(name in constants for name in node.node.inputs[:2])


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


def model_input_behind(ctx: RuleContext, node: NodeCost) -> str | None:
    """The model input the node's data comes from through operators that learn nothing."""
    frontier, seen = [node.node.input(0)], set()
    for _ in range(_MAX_HOPS):
        inputs = [name for name in frontier if name in ctx.cost.model.graph.inputs]
        if inputs:
            return inputs[0]
        producers = [ctx.producers.get(name) for name in frontier if name and name not in seen]
        seen.update(frontier)
        if not producers or any(p is None or p.op_class in _LEARNED for p in producers):
            return None
        frontier = [i for p in producers if p is not None for i in p.node.inputs[:1] if i]
    return None


def model_output_ahead(ctx: RuleContext, node: NodeCost) -> str | None:
    """The model output the node's output reaches through operators that learn nothing only."""
    frontier = [o for o in node.node.outputs if o]
    outputs = set(ctx.cost.model.graph.outputs)
    for _ in range(_MAX_HOPS):
        reached = [name for name in frontier if name in outputs]
        if reached:
            return reached[0]
        readers = [r for name in frontier for r in ctx.consumers.get(name, [])]
        if not readers or any(r.op_class in _LEARNED for r in readers):
            return None
        frontier = list(dict.fromkeys(o for r in readers for o in r.node.outputs if o))
    return None


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


def resized(ctx: RuleContext, node: NodeCost, sizes: dict[str, int]) -> NodeCost | None:
    """``node`` with some channel-like dims (by role, as in ``padded_roles``) set to new sizes,
    costed by its handler: what rounding a width up or down would cost."""
    if node.op_class in (OpClass.CONV, OpClass.DEPTHWISE_CONV):
        return _resized_conv(ctx, node, sizes)
    if node.op_type in ("MatMul", "Gemm"):
        return _resized_product(ctx, node, sizes)
    return None


def _resized_conv(ctx: RuleContext, node: NodeCost, sizes: dict[str, int]) -> NodeCost | None:
    weight = conv_weight(ctx, node)
    x = static_shape(ctx, node.node.input(0))
    y = static_shape(ctx, node.node.outputs[0])
    if weight is None or x is None or y is None:
        return None
    (oc, per_group, *kernel), group = weight[0], int(node.node.attr("group", 1))
    ic = x[1]
    if "channels" in sizes:  # depthwise: one channel per group
        ic = oc = group = sizes["channels"]
        per_group = 1
    ic = sizes.get("input channels", ic)
    per_group = ic // group if "input channels" in sizes else per_group
    oc = sizes.get("output channels", oc)
    if "output channels per group" in sizes:
        oc = sizes["output channels per group"] * group
    in_shape = (x[0], ic, *x[2:])
    return conv_alternative(ctx, node, (oc, per_group, *kernel), (y[0], oc, *y[2:]), group, in_shape)


def _resized_product(ctx: RuleContext, node: NodeCost, sizes: dict[str, int]) -> NodeCost | None:
    a_name, b_name, y_name = node.node.input(0), node.node.input(1), node.node.outputs[0]
    a, b, y = (static_shape(ctx, n) for n in (a_name, b_name, y_name))
    if a is None or b is None or y is None or len(a) < 1 or len(b) < 2:
        return None
    k, n = sizes.get("K (reduction)"), sizes.get("N (output features)")
    trans_a = node.op_type == "Gemm" and bool(node.node.attr("transA", 0))
    trans_b = node.op_type == "Gemm" and bool(node.node.attr("transB", 0))
    shapes: dict[str, tuple[int, ...]] = {}
    if k is not None:
        shapes[a_name] = (k, *a[1:]) if trans_a else (*a[:-1], k)
        shapes[b_name] = (*b[:-2], b[-2], k) if trans_b else (*b[:-2], k, b[-1])
    if n is not None:
        b_now = shapes.get(b_name, b)
        shapes[b_name] = (*b_now[:-2], n, b_now[-1]) if trans_b else (*b_now[:-1], n)
        shapes[y_name] = (*y[:-1], n)
        bias = node.node.input(2) if node.op_type == "Gemm" else ""
        c = static_shape(ctx, bias) if bias else None
        if c and c[-1] == y[-1]:
            shapes[bias] = (*c[:-1], n)
    return ctx.alternative(node, shapes=shapes)


def from_pytorch(ctx: RuleContext) -> bool:
    """Whether the model was read from a PyTorch model definition: advice must then be written
    in torch terms, and fixes only torch's exporter can emit are no fixes."""
    return SOURCE_MAP_KEY in ctx.cost.model.metadata


# The storage type an operator's tensors take to compute in a given class (onnx type codes).
_STORAGE = {"fp32": 1, "fp16": 10, "bf16": 16, "int8": 3, "fp8": 17, "int4": 22}


def in_dtype(ctx: RuleContext, node: NodeCost, compute: str) -> NodeCost | None:
    """``node`` with every float tensor it reads or writes stored in ``compute``'s type (fp16,
    int8, ...), costed by its handler: what running it at lower precision would cost."""
    code = _STORAGE.get(compute)
    if code is None:
        return None
    graph = ctx.cost.model.graph
    names = [n for n in (*node.node.inputs, *node.node.outputs) if n]
    floats = [n for n in names if (t := graph.tensor(n)) is not None and t.dtype.is_float]
    return ctx.alternative(node, dtypes=dict.fromkeys(floats, from_onnx(code)))


def int8_weights(ctx: RuleContext, node: NodeCost) -> NodeCost | None:
    """``node`` with its stored weights narrowed to int8 (weight-only quantization), costed by
    its handler; the node itself when they are 8-bit or narrower already."""
    if node.weight_bytes <= node.params * node.repeats:
        return node
    weights = [name for name in node.node.inputs if name in ctx.cost.constant_tensors]
    return ctx.alternative(node, dtypes=dict.fromkeys(weights, from_onnx(_STORAGE["int8"])))


# How a width is set in a PyTorch model definition: the constructor argument of the module.
_TORCH_ARGUMENTS = {
    "input channels": "in_channels",
    "output channels": "out_channels",
    "K (reduction)": "in_features",
    "N (output features)": "out_features",
}


def width_setting(ctx: RuleContext, role: str, size: int) -> str:
    """ "output channels 32", or for a model definition "out_channels=32" (its constructor's
    argument, where the user changes it)."""
    argument = _TORCH_ARGUMENTS.get(role) if from_pytorch(ctx) else None
    return f"{argument}={size}" if argument else f"{role} {size}"


def sole_producer_through_pass_through(ctx: RuleContext, node: NodeCost) -> NodeCost | None:
    """The operator whose output only ``node`` uses, through pass-through ops that only it
    uses: the layer whose output width changes with ``node``'s input width. None when the width
    is shared (another reader, a residual Add, a model input)."""
    name = node.node.input(0)
    for _ in range(8):
        if len(ctx.consumers.get(name, [])) != 1 or name in ctx.cost.model.graph.outputs:
            return None
        producer = ctx.producers.get(name)
        if producer is None or producer.op_class not in _PASS_THROUGH:
            return producer
        others = [n for n in producer.node.inputs[1:] if n]
        if any(n in ctx.producers or n in ctx.cost.model.graph.inputs for n in others):
            return None
        name = producer.node.input(0)
    return None
