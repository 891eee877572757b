"""Blocked-layout conversions: the copies an engine adds where its conv layout meets other ops.

A CPU engine with a blocked conv layout (onnxruntime's NCHWc) keeps a conv's output in that
layout only while the ops that read it can take it: the profile's ``blocked_ops`` (measured by
calibrate). Where a blocked tensor reaches any other op, the engine converts it back to the plain
layout, and where a conv reads a plain tensor it converts it in: one copy of the tensor each
time, a cost none of the model's own operators show (squeeze-and-excitation gates, channel
shuffles, upsampling and LayerNorm between convs pay it).

The rules follow what onnxruntime's profiler shows: a conv runs blocked when its channel counts
are ones the layout takes; an op of ``blocked_ops`` runs blocked when every tensor it reads is
blocked and, for ops of several inputs, of one shape (a broadcast multiply is not) or, for
Concat, of whole channel blocks; an operator fused into its producer passes the layout through.
"""

from __future__ import annotations

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import ModelCost, NodeCost
from archlint.targets.profile import HardwareProfile

CONVS = (OpClass.CONV, OpClass.DEPTHWISE_CONV)


def channel_counts(cost: NodeCost, alignment: int) -> list[int]:
    """The channel-like dimensions a blocked layout takes in blocks of ``alignment``.

    A first-layer conv reading fewer channels than one block (RGB) gets a kernel that reads the
    plain layout (onnxruntime's NCHWc conv takes NCHW input below the block size): its input
    channels are left out.
    """
    roles = cost.padded_roles or ("",) * len(cost.padded_dims)
    return [
        dim
        for dim, role in zip(cost.padded_dims, roles, strict=True)
        if dim > 0 and not (role == "input channels" and dim < alignment)
    ]


def conversions(model: ModelCost, profile: HardwareProfile, fused: frozenset[int]) -> dict[int, list[int]]:
    """Per index into ``model.nodes``, the sizes in bytes of the tensors converted for it."""
    block = profile.alignment_for("fp32")
    if not profile.blocked_ops or block <= 1:
        return {}
    tensors = model.model.graph.tensors
    blocked: set[str] = set()
    converted: set[str] = set()
    charged: dict[int, list[int]] = {}

    def charge(index: int, name: str) -> None:
        tensor = tensors.get(name)
        if name not in converted and tensor is not None and tensor.nbytes:
            converted.add(name)
            charged.setdefault(index, []).append(tensor.nbytes)

    for index, cost in enumerate(model.nodes):
        # Weights and other constants are laid out once, before the model runs.
        inputs = [name for name in cost.node.inputs if name and name not in model.constant_tensors]
        if _is_blocked_conv(cost, profile, block):
            if inputs and inputs[0] not in blocked and _channels(model, inputs[0]) >= block:
                charge(index, inputs[0])
        elif index in fused:
            if not (inputs and inputs[0] in blocked):
                continue
        elif not _takes_blocked(cost, inputs, blocked, model, profile, block):
            for name in inputs:
                if name in blocked:
                    charge(index, name)  # converted back once, then shared by every plain reader
            continue
        if cost.node.outputs:
            blocked.add(cost.node.outputs[0])
    producer = {n.node.outputs[0]: i for i, n in enumerate(model.nodes) if n.node.outputs}
    for name in model.model.graph.outputs:
        if name in blocked:
            charge(producer[name], name)
    return charged


def _channels(model: ModelCost, name: str) -> int:
    tensor = model.model.graph.tensors.get(name)
    shape = tensor.static_shape if tensor is not None else None
    return shape[1] if shape is not None and len(shape) > 2 else 0


def _is_blocked_conv(cost: NodeCost, profile: HardwareProfile, block: int) -> bool:
    if cost.op_class not in CONVS or cost.op_type != "Conv" or cost.compute_dtype != "fp32":
        return False
    multiple = profile.conv_shape.fallback_multiple
    return not any(c % multiple for c in channel_counts(cost, block))


def _takes_blocked(
    cost: NodeCost,
    inputs: list[str],
    blocked: set[str],
    model: ModelCost,
    profile: HardwareProfile,
    block: int,
) -> bool:
    if cost.op_type not in profile.blocked_ops or not inputs or not all(n in blocked for n in inputs):
        return False
    if cost.op_type == "Concat":
        channel_axis = int(cost.node.attr("axis", 1)) in (1, -3)
        return channel_axis and all(_channels(model, n) % block == 0 for n in inputs)
    shapes = {model.model.graph.tensors[n].static_shape for n in inputs if n in model.model.graph.tensors}
    return len(shapes) == 1
