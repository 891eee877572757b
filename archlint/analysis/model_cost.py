"""Cost every operator of a model once: FLOPs, bytes, params, activations, peak memory.

Nothing here knows about hardware; ``roofline`` turns a ModelCost into predicted time for a
device. Control flow is walked, not costed as a black box: a Loop body counts once per trip when
the trip count is a constant (else once, with a note), a Scan body once per scanned slice, an If
the branch its constant condition picks (else the costlier branch, with a note).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.record import OpClass, OpCost, UnknownShapeError
from archlint.analysis.costs.table import CONTROL_FLOW, handler_for
from archlint.analysis.memory import peak_activation_bytes
from archlint.errors import ShapeError
from archlint.model.constants import Constants, find_constants
from archlint.model.graph import Graph, Model, Node

ProgressCallback = Callable[[int, int], None]

_NON_PARAMETER_DTYPES = frozenset({"int64", "uint64", "bool", "string"})

# A Loop whose trip count is above this is a "run until the condition says stop" loop.
_MAX_STATIC_TRIPS = 1 << 31


@dataclass(frozen=True, slots=True)
class NodeCost:
    """One operator's cost: FLOPs, bytes moved, weights and parameters, for every run of it."""

    name: str  # subgraph nodes are "control_node/attr/node"
    node: Node
    op_class: OpClass
    flops: int  # per inference: one execution times ``repeats``
    bytes_read: int
    bytes_written: int
    weight_bytes: int  # the part of bytes_read that does not grow with the batch
    params: int
    repeats: int
    padded_dims: tuple[int, ...]
    compute_dtype: str
    padded_roles: tuple[str, ...] = ()
    reread_bytes: int = 0  # part of bytes_read: weights read again within one execution
    reread_set_bytes: int = 0  # the weights read again: they stay on chip if they fit there
    row_width: int = 0  # a conv's output width (0: not a conv)
    reduction_length: int = 0  # a conv's multiply-adds per output element (0: not a conv)

    @property
    def op_type(self) -> str:
        return self.node.op_type

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def activation_bytes(self) -> int:
        return self.bytes_written

    @property
    def intensity(self) -> float:
        """FLOP per byte moved; 0 for an operator that moves no bytes."""
        return self.flops / self.bytes if self.bytes else 0.0


# Records made per model are NamedTuples: a frozen dataclass costs about 1 ms to create at
# import, and a run imports dozens of them before it reads a model.
class UnknownOp(NamedTuple):
    name: str
    op_type: str
    domain: str
    reason: str


class UndecidedIf(NamedTuple):
    """An If whose condition is known only at run time: both branches costed, the costlier kept."""

    name: str
    kept: str  # "then_branch" or "else_branch"
    kept_nodes: tuple[NodeCost, ...]
    other_nodes: tuple[NodeCost, ...]

    @property
    def flops_difference(self) -> int:
        return sum(n.flops for n in self.kept_nodes) - sum(n.flops for n in self.other_nodes)


@dataclass(frozen=True)
class ModelCost:
    """The costs of a model's operators and the model-wide figures (weights, peak memory)."""

    model: Model
    nodes: tuple[NodeCost, ...]
    unknown_ops: tuple[UnknownOp, ...]
    notes: tuple[str, ...]
    weight_bytes: int  # unique weights, each counted once however many nodes read it
    params: int
    peak_activation_bytes: int
    folded_nodes: int
    # Main-graph tensors fixed before the model runs (initializers and what engines fold from them).
    constant_tensors: frozenset[str] = frozenset()
    undecided: tuple[UndecidedIf, ...] = ()
    # Main-graph operators folded at the bound shapes that compute on dims the file leaves
    # symbolic: an engine that cannot fix those dims runs them at every inference.
    symbolic_shape_nodes: tuple[str, ...] = ()
    # Subgraph executions per inference: a branch per If (decided ones included), a body per
    # Loop or Scan iteration. Engines set each up on top of the operators inside.
    subgraph_runs: int = 0

    @property
    def operator_count(self) -> int:
        """Operators that run, costed or not (subgraph operators included, folded ones not)."""
        return len(self.nodes) + len(self.unknown_ops)

    @property
    def complete(self) -> bool:
        """Whether every operator that runs has a cost: totals are otherwise lower bounds."""
        return not self.unknown_ops

    @property
    def flops_range(self) -> tuple[int, int]:
        """FLOPs with the cheaper and with the costlier branch of every undecided If."""
        return self.flops - sum(u.flops_difference for u in self.undecided), self.flops

    @property
    def flops(self) -> int:
        return sum(n.flops for n in self.nodes)

    @property
    def bytes(self) -> int:
        return sum(n.bytes for n in self.nodes)

    @property
    def activation_bytes(self) -> int:
        return sum(n.activation_bytes for n in self.nodes)

    @property
    def peak_memory_bytes(self) -> int:
        return self.weight_bytes + self.peak_activation_bytes


class _Walk:
    """What costing a graph collects on its way through the nodes."""

    def __init__(self, progress: ProgressCallback | None = None, total: int = 0) -> None:
        self.nodes: list[NodeCost] = []
        self.unknown: list[UnknownOp] = []
        self.notes: list[str] = []
        self.weights: dict[str, tuple[int, int]] = {}  # name -> (numel, bytes)
        self.parameters: dict[str, int] = {}  # stored source -> numel
        self.folded = 0
        self.subgraph_runs = 0
        self.undecided: list[UndecidedIf] = []
        self.progress = progress
        self.done = 0
        self.total = total


def compute_costs(model: Model, progress: ProgressCallback | None = None) -> ModelCost:
    walk = _Walk(progress=progress, total=len(model.graph.nodes))
    constants = _walk_graph(model.graph, "", 1, frozenset(), walk, model.symbolic_inputs)
    for name, (count, dtype) in model.untaken_weights.items():
        if dtype.name not in _NON_PARAMETER_DTYPES:
            walk.weights[name] = (count, dtype.nbytes(count))
            walk.parameters[name] = count
    peak = peak_activation_bytes(model.graph, constants)
    return ModelCost(
        model=model,
        nodes=tuple(walk.nodes),
        unknown_ops=tuple(walk.unknown),
        notes=tuple(walk.notes),
        weight_bytes=sum(size for _, size in walk.weights.values()),
        params=sum(walk.parameters.values()),
        peak_activation_bytes=peak,
        folded_nodes=walk.folded,
        constant_tensors=constants.tensors,
        undecided=tuple(walk.undecided),
        symbolic_shape_nodes=tuple(model.graph.nodes[i].name for i in sorted(constants.symbolic_shape_work)),
        subgraph_runs=walk.subgraph_runs + len(model.decided_ifs),
    )


def cost_nodes(graph: Graph, prefix: str = "", repeats: int = 1) -> tuple[NodeCost, ...] | None:
    """Every operator of ``graph`` costed as the analysis costs a model's; None when one cannot be."""
    walk = _Walk()
    _walk_graph(graph, prefix, repeats, frozenset(), walk)
    return None if walk.unknown else tuple(walk.nodes)


def _walk_graph(
    graph: Graph,
    prefix: str,
    repeats: int,
    outer: frozenset[str],
    walk: _Walk,
    symbolic_inputs: frozenset[str] = frozenset(),
) -> Constants:
    constants = find_constants(graph, outer, symbolic_inputs)
    ctx = CostContext(graph)
    for index, node in enumerate(graph.nodes):
        if index in constants.folded:
            walk.folded += 1
        elif node.op_type in CONTROL_FLOW and not node.domain:
            _walk_control_flow(node, ctx, prefix, repeats, constants, walk)
        else:
            _cost_node(node, graph, ctx, constants, prefix, repeats, walk)
        if not prefix:
            walk.done += 1
            if walk.progress is not None:
                walk.progress(walk.done, walk.total)
    return constants


def _cost_node(
    node: Node,
    graph: Graph,
    ctx: CostContext,
    constants: Constants,
    prefix: str,
    repeats: int,
    walk: _Walk,
) -> None:
    name = prefix + node.name
    handler = handler_for(node.domain, node.op_type)
    if handler is None:
        domain = node.domain or "ai.onnx"
        walk.unknown.append(
            UnknownOp(name, node.op_type, node.domain, f"no cost model for {domain}::{node.op_type}")
        )
        return
    try:
        cost = handler(node, ctx)
        record = _record(node, name, cost, graph, ctx, constants, repeats, walk)
    except UnknownShapeError as exc:
        walk.unknown.append(
            UnknownOp(name, node.op_type, node.domain, _unknown_shape_reason(node, graph, exc))
        )
        return
    except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        reason = f"malformed node: {type(exc).__name__}: {exc}"
        walk.unknown.append(UnknownOp(name, node.op_type, node.domain, reason))
        return
    walk.nodes.append(record)


def _record(
    node: Node,
    name: str,
    cost: OpCost,
    graph: Graph,
    ctx: CostContext,
    constants: Constants,
    repeats: int,
    walk: _Walk,
) -> NodeCost:
    weights = {tensor_name for _, tensor_name in constants.weight_slots(node, graph)}
    weight_bytes = 0
    for tensor_name in weights:
        count = ctx.numel(tensor_name)
        dtype = constants.stored_dtype.get(tensor_name) or ctx.dtype(tensor_name)
        size = dtype.nbytes(count) if dtype is not None else 0
        walk.weights[tensor_name] = (count, size)
        weight_bytes += size
    parameters = _parameters(weights, ctx, constants)
    walk.parameters.update(parameters)
    params = sum(parameters.values())
    activation_read = sum(ctx.nbytes(t) for t in set(node.inputs) - weights if t)
    if cost.bytes_read is not None:
        bytes_read, weight_bytes = cost.bytes_read, 0
    else:
        bytes_read = activation_read + weight_bytes + cost.reread_bytes
    written = 0 if cost.op_class is OpClass.VIEW else sum(ctx.nbytes(t) for t in node.outputs if t)
    return NodeCost(
        name=name,
        node=node,
        op_class=cost.op_class,
        flops=cost.flops * repeats,
        bytes_read=bytes_read * repeats,
        bytes_written=written * repeats,
        weight_bytes=weight_bytes * repeats,
        params=params,
        repeats=repeats,
        padded_dims=cost.padded_dims,
        compute_dtype=cost.compute_dtype or _compute_dtype(node, ctx),
        padded_roles=cost.padded_roles,
        reread_bytes=cost.reread_bytes * repeats,
        reread_set_bytes=cost.reread_set_bytes,
        row_width=cost.row_width,
        reduction_length=cost.reduction_length,
    )


def _parameters(weights: set[str], ctx: CostContext, constants: Constants) -> dict[str, int]:
    """The stored tensors behind ``weights``, with their element counts."""
    found: dict[str, int] = {}
    for source in set().union(*(constants.parameter_sources(w) for w in weights)):
        dtype = ctx.dtype(source)
        if dtype is not None and dtype.name not in _NON_PARAMETER_DTYPES:
            found[source] = ctx.numel(source)
    return found


def _unknown_shape_reason(node: Node, graph: Graph, exc: UnknownShapeError) -> str:
    """Name the first unresolved input: that is where the user's fix (or our gap) lies."""
    for name in filter(None, node.inputs):
        tensor = graph.tensor(name)
        if tensor is None or tensor.static_shape is None:
            return f"shape of input {name!r} is unknown"
    return str(exc)


def _compute_dtype(node: Node, ctx: CostContext) -> str:
    for name in node.inputs:
        dtype = ctx.dtype(name) if name else None
        if dtype is not None:
            return dtype.compute
    return "fp32"


def _walk_control_flow(
    node: Node, ctx: CostContext, prefix: str, repeats: int, constants: Constants, walk: _Walk
) -> None:
    label = f"{prefix}{node.name}"
    outer = constants.tensors
    if node.op_type == "If":
        walk.subgraph_runs += repeats
        _walk_if(node, ctx, label, repeats, outer, walk)
        return
    trips, why = _trip_count(node, ctx)
    if trips is None:
        walk.notes.append(f"{node.op_type} {label!r}: {why}; its body is counted once")
        trips = 1
    if trips == 0:
        walk.notes.append(f"{node.op_type} {label!r} runs its body 0 times: the body costs nothing")
        return
    walk.subgraph_runs += repeats * trips
    for attr, body in node.subgraphs.items():
        _walk_graph(body, f"{label}/{attr}/", repeats * trips, outer, walk)


def _trip_count(node: Node, ctx: CostContext) -> tuple[int | None, str]:
    if node.op_type == "Loop":
        value = ctx.value(node.input(0)) if node.input(0) else None
        if value is None:
            return None, "trip count is not a constant (it depends on the loop condition)"
        if value.size != 1 or value.dtype.kind not in "iu":
            raise ShapeError(f"Loop {node.name!r}: its trip count must be one integer, not {value!r:.60}")
        trips = int(value.reshape(-1)[0])
        if trips < 0:
            raise ShapeError(f"Loop {node.name!r}: its trip count is negative ({trips})")
        if trips > _MAX_STATIC_TRIPS:
            return None, "trip count is the maximum (a loop that runs until its condition says stop)"
        return trips, ""
    if node.op_type == "Scan":
        scan_inputs = int(node.attr("num_scan_inputs", 1))
        first = [n for n in node.inputs if n][-scan_inputs]
        axes = node.attr("scan_input_axes") or [0]
        try:
            shape = ctx.shape(first)
        except UnknownShapeError:
            return None, f"the scanned input {first!r} has no static shape"
        if not -len(shape) <= int(axes[0]) < len(shape):
            raise ShapeError(f"Scan {node.name!r}: scan axis {axes[0]} is out of range for {shape}")
        return shape[int(axes[0])], ""
    return None, "the number of sequence elements is not known before run time"


def _walk_if(
    node: Node, ctx: CostContext, label: str, repeats: int, outer: frozenset[str], walk: _Walk
) -> None:
    condition = ctx.value(node.input(0))
    if condition is not None:
        if condition.size != 1:
            raise ShapeError(f"If {label!r}: its condition has {condition.size} elements, not one")
        branch = "then_branch" if bool(condition.reshape(-1)[0]) else "else_branch"
        _walk_graph(node.subgraphs[branch], f"{label}/{branch}/", repeats, outer, walk)
        return
    trials = {}
    for branch, body in node.subgraphs.items():
        trial = _Walk()
        _walk_graph(body, f"{label}/{branch}/", repeats, outer, trial)
        trials[branch] = trial
    chosen = max(
        trials,
        key=lambda b: (
            sum(n.flops for n in trials[b].nodes),
            sum(n.bytes for n in trials[b].nodes),
        ),
    )
    picked = trials[chosen]
    other = next((trials[b] for b in trials if b != chosen), _Walk())
    decision = UndecidedIf(label, chosen, tuple(picked.nodes), tuple(other.nodes))
    walk.notes.append(
        f"If {label!r}: condition known only at run time; counted the costlier {chosen} "
        f"({decision.flops_difference:,} FLOPs more than the other branch; give the inputs that decide "
        "it with --value or --input to cost the branch taken)"
    )
    walk.undecided.append(decision)
    walk.nodes.extend(picked.nodes)
    walk.unknown.extend(picked.unknown)
    walk.notes.extend(picked.notes)
    # Both branches' weights are loaded with the model, whichever one runs.
    walk.weights.update(other.weights | picked.weights)
    walk.parameters.update(other.parameters | picked.parameters)
    walk.folded += picked.folded
    walk.subgraph_runs += picked.subgraph_runs
    walk.undecided.extend(picked.undecided)
