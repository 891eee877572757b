"""AL204 unsupported-ops."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import Field

from archlint.analysis.costs.table import CONTROL_FLOW
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.model.graph import Node
from archlint.units import seconds, size

# Exact rewrites into other ONNX operators, suggested only when the target supports them all.
_REWRITES: dict[str, tuple[str, ...]] = {
    "Sum": ("Add",),  # n inputs: a chain of n-1 Adds
    "Mean": ("Add", "Mul"),  # the Add chain times 1/n
    "Neg": ("Mul",),  # times -1
    "Reciprocal": ("Div",),  # 1 / x
    "Upsample": ("Resize",),  # Upsample is Resize's deprecated predecessor
    "ReduceL2": ("ReduceSumSquare", "Sqrt"),
    "Mish": ("Softplus", "Tanh", "Mul"),
    "Expand": ("Tile",),  # with static shapes the repeats are known
    "LayerNormalization": ("ReduceMean", "Sub", "Mul", "Add", "Sqrt", "Div"),
}
_SHOWN = 3  # node names listed per op type


class UnsupportedOpsOptions(RuleOptions):
    extra_supported: tuple[str, ...] = Field(
        (),
        description="Operators your engine runs on the device although the profile does not list them.",
    )


@dataclass(frozen=True)
class _Placement:
    """Where each executed top-level node runs, in topological order, and what crosses over."""

    nodes: tuple[Node, ...]
    on_device: tuple[bool, ...]

    @property
    def partitions(self) -> int:
        """Runs of consecutive device nodes: each is a separate device program."""
        return sum(
            1 for i, here in enumerate(self.on_device) if here and (i == 0 or not self.on_device[i - 1])
        )


class UnsupportedOps(Rule):
    """## What it does
    Finds operators the target's engine cannot run on the device, for targets whose profile
    lists its `supported_ops` (the RK3588 NPU's profile lists what RKNN-Toolkit2 converts).
    One finding per unsupported operator type gives its count, the number of device partitions
    the fallbacks cut the graph into (runs of supported nodes between fallbacks, in
    topological order), and the tensors that cross between the device and the host.

    ## Why is this bad?
    An operator the NPU cannot run falls back to the CPU. The graph is cut into separate
    device programs, and every tensor that crosses a cut is copied between the NPU and the
    host, waits for synchronization, and may be converted between the NPU's native layout
    (NC1HWC2 on the RK3588) and the CPU's; the CPU then runs the operator far slower than the
    NPU would (an RK3588's Cortex-A76 cores peak at a small fraction of its NPU's 6 TOPS).
    The predicted latency assumes every operator runs on the device, so it is optimistic for
    such a model. The saving reported is the time to move the crossing tensors once at the
    profile's memory bandwidth: a lower bound, since it leaves out the synchronization, the
    layout conversion and the slower CPU execution.

    ## Example
    ```python
    torch.sum(torch.stack([a, b, c]), dim=0)  # exported as Sum: not supported by RKNN
    ```

    ## Use instead
    ```python
    a + b + c  # Add runs on the NPU
    ```
    Where no supported rewrite exists, move the operator to the start or the end of the graph
    (pre- or post-processing on the host), so the device runs one partition.

    ## Options
    (written from the options model)

    ## References
    - Rockchip, RKNN-Toolkit2 operator support list (`doc/RKNNToolKit2_OP_Support-1.4.0.md`).
    - Ma et al., "ShuffleNet V2", ECCV 2018: channel_shuffle may be unsupported by inference
      engines and NPUs.
    """

    code = "AL204"
    name = "unsupported-ops"
    summary = "operators the target cannot run on the device, which fall back to the CPU"
    severity = severity_by_kind(
        npu=Severity.WARNING, gpu=Severity.WARNING, other=Severity.WARNING, cpu=Severity.INFO
    )
    options_type = UnsupportedOpsOptions
    options: UnsupportedOpsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.profile.supported_ops is None:
            return
        supported = frozenset(ctx.profile.supported_ops) | frozenset(self.options.extra_supported)
        placement = _placement(ctx, supported)
        by_type: dict[str, list[Node]] = {}
        for node, here in zip(placement.nodes, placement.on_device, strict=True):
            if not here:
                by_type.setdefault(_label(node), []).append(node)
        for label, nodes in by_type.items():
            yield _finding(ctx, label, nodes, placement, supported)


def _label(node: Node) -> str:
    return f"{node.domain}::{node.op_type}" if node.domain and node.domain != "ai.onnx" else node.op_type


def _placement(ctx: RuleContext, supported: frozenset[str]) -> _Placement:
    """Top-level nodes that run (folded constants do not), each on the device or the host."""
    costed = {id(n.node) for n in ctx.cost.nodes}
    unknown = {u.name for u in ctx.cost.unknown_ops}
    nodes = tuple(
        n
        for n in ctx.cost.model.graph.nodes
        if id(n) in costed or n.name in unknown or n.op_type in CONTROL_FLOW
    )
    return _Placement(nodes, tuple(_label(n) in supported for n in nodes))


def _crossing(ctx: RuleContext, nodes: Sequence[Node], placement: _Placement) -> dict[str, int]:
    """Tensors the fallback nodes exchange with device nodes, with their sizes in bytes."""
    device = {id(n) for n, here in zip(placement.nodes, placement.on_device, strict=True) if here}
    graph = ctx.cost.model.graph
    producer = {out: n for n in placement.nodes for out in n.outputs if out}
    readers: dict[str, list[Node]] = {}
    for n in placement.nodes:
        for name in filter(None, n.inputs):
            readers.setdefault(name, []).append(n)
    crossing: dict[str, int] = {}
    for node in nodes:
        pulled = [name for name in node.inputs if name in producer and id(producer[name]) in device]
        pushed = [name for name in node.outputs if any(id(r) in device for r in readers.get(name, []))]
        for name in pulled + pushed:
            tensor = graph.tensor(name)
            crossing[name] = (tensor.nbytes or 0) if tensor is not None else 0
    return crossing


def _finding(
    ctx: RuleContext, label: str, nodes: list[Node], placement: _Placement, supported: frozenset[str]
) -> Finding:
    profile = ctx.profile
    crossing = _crossing(ctx, nodes, placement)
    moved = sum(crossing.values())
    transfer_s = moved / profile.memory_bandwidth
    names = ", ".join(repr(n.name) for n in nodes[:_SHOWN]) + (
        f" and {len(nodes) - _SHOWN} more" if len(nodes) > _SHOWN else ""
    )
    message = (
        f"{len(nodes)} {label} node{'s' if len(nodes) > 1 else ''} ({names}) cannot run on {profile.name} "
        f"and fall back to the CPU; the fallbacks cut the graph into {placement.partitions} device "
        f"partition{'s' if placement.partitions != 1 else ''}, and the {label} nodes exchange "
        f"{len(crossing)} tensor{'s' if len(crossing) != 1 else ''} ({size(moved)}) with the device, "
        f"at least {seconds(transfer_s)} of copies at {profile.name}'s memory bandwidth."
    )
    rewrite = _REWRITES.get(label, ())
    if rewrite and all(op in supported for op in rewrite):
        fix = f"rewrite {label} with {', '.join(rewrite)}, which {profile.name} runs on the device."
    else:
        fix = (
            f"replace {label} with operators {profile.name} supports, or move it to the start or end "
            "of the graph (pre- or post-processing on the host)."
        )
    # About whether the model runs there at all: judged by its severity, not by a saving.
    return Finding(node=nodes[0].name, message=message, fix=fix)
