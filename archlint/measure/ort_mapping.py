"""Trace the nodes onnxruntime runs back to the model's nodes.

With graph optimizations on, onnxruntime fuses and renames: a BatchNormalization folds into the
Conv before it, a Conv and its Relu become one ``FusedConv`` with the Conv's name, the NCHWc
layout pass names a conv after its output tensor plus ``_nchwc`` (``relu_10_nchwc``) and adds
``ReorderInput``/``ReorderOutput`` nodes, and fusions such as ``SkipLayerNormalization`` or
``BiasGelu`` get names of their own. The engine's graph (what onnxruntime writes with
``optimized_model_filepath``) keeps the model's tensor names wherever a fused region begins or
ends, so each engine node is traced by, in order:

1. its name: the model node's own, or with a fusion suffix stripped (``MatMul_36/MatMulScaleFusion/``,
   ``..._token_3``), or ``<tensor>_nchwc``: the node producing ``<tensor>``, or the nearest node
   of the kernel's op type above it;
2. the model tensor it writes: the node producing it, when no other engine node claims that node.

What traces to no model node (layout reorders, copies) is *engine-created*. A model node with no
engine node of its own was fused or removed: it is attributed to the engine node whose region it
lies in (between that node's inputs and its outputs), else to the kernel it feeds from that ran
last (a fused operator cannot run before all its inputs exist), else to nothing (constants folded
at load time, no-ops removed).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import onnx

from archlint.model.graph import Graph

# Kernels that move data between layouts or devices: never one of the model's operators.
ENGINE_OPS = frozenset({"ReorderInput", "ReorderOutput", "MemcpyToHost", "MemcpyFromHost"})
# How far above ``<tensor>`` the kernel of a ``<tensor>_nchwc`` node may sit (Conv -> BN -> Relu).
_MAX_UPSTREAM = 6
_FUSION_SUFFIX = re.compile(r"^(.+?)(?:/[^/]+/|_token_\d+)$")
_NCHWC = re.compile(r"^(.+)_nchwc$")
# How onnxruntime names the kernels that run a model operator with more fused into it.
_FUSED_PREFIXES = frozenset({"", "Fused", "Skip", "Bias", "QLinear", "Nhwc", "Fast", "Quick"})


@dataclass(frozen=True)
class EngineNode:
    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class EngineGraph:
    """The main graph onnxruntime executes, in its (topological) order."""

    nodes: tuple[EngineNode, ...]
    initializers: frozenset[str]


@dataclass(frozen=True)
class NodeMapping:
    anchors: Mapping[str, str | None]  # engine node -> the model node it runs (None: engine-created)
    fused_into: Mapping[str, str | None]  # model node without a kernel -> the one it runs in


def read_engine_graph(path: Path) -> EngineGraph:
    proto = onnx.load(str(path), load_external_data=False)  # the graph, never its weights
    nodes = tuple(EngineNode(n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in proto.graph.node)
    return EngineGraph(nodes, frozenset(i.name for i in proto.graph.initializer))


class _Model:
    """Lookups over the model's main graph."""

    def __init__(self, graph: Graph, constants: frozenset[str]) -> None:
        self.nodes = {node.name: node for node in graph.nodes}  # in graph (topological) order
        self.producer = {out: node.name for node in graph.nodes for out in node.outputs if out}
        self.tensors = set(graph.tensors) | set(self.producer)
        self.constants = constants

    def upstream(self, name: str) -> Iterator[str]:
        """Producers of the node's inputs that are computed at run time."""
        for tensor in self.nodes[name].inputs:
            if tensor and tensor not in self.constants and tensor in self.producer:
                yield self.producer[tensor]


def map_nodes(graph: Graph, engine: EngineGraph, constants: frozenset[str]) -> NodeMapping:
    """``constants``: model tensors fixed before the model runs (ModelCost.constant_tensors)."""
    model = _Model(graph, constants)
    anchors: dict[str, str | None] = {}
    taken: set[str] = set()
    for node in engine.nodes:
        anchor = None if node.op_type in ENGINE_OPS else _by_name(node, model, taken)
        anchors[node.name] = anchor
        if anchor:
            taken.add(anchor)
    # Related op types first, so that a SkipLayerNormalization claims the LayerNormalization
    # whose output it writes before an unrelated kernel writing the same tensor could.
    for related_only in (True, False):
        for node in engine.nodes:
            if anchors[node.name] is None and node.op_type not in ENGINE_OPS:
                anchor = _by_output(node, model, taken, related_only)
                anchors[node.name] = anchor
                if anchor:
                    taken.add(anchor)
    claimed = _regions(engine, model, anchors, taken)
    return NodeMapping(anchors, _attribute_rest(engine, model, anchors, claimed))


def _related(engine_op: str, model_op: str) -> bool:
    """FusedConv runs a Conv, SkipLayerNormalization a LayerNormalization, QLinearConv a Conv."""
    return engine_op.endswith(model_op) and engine_op[: -len(model_op)] in _FUSED_PREFIXES


def _by_name(node: EngineNode, model: _Model, taken: set[str]) -> str | None:
    name = node.name
    while True:
        if name in model.nodes:
            return name
        nchwc = _NCHWC.match(name)
        if nchwc and nchwc.group(1) in model.producer:
            return _nearest_of_type(model, model.producer[nchwc.group(1)], node.op_type, taken)
        stripped = _FUSION_SUFFIX.match(name)
        if stripped is None:
            return None
        name = stripped.group(1)


def _nearest_of_type(model: _Model, start: str, op_type: str, taken: set[str]) -> str | None:
    """The closest node at or above ``start`` that the kernel ``op_type`` runs (breadth first)."""
    queue, seen = deque([(start, 0)]), {start}
    while queue:
        name, depth = queue.popleft()
        if name not in taken and _related(op_type, model.nodes[name].op_type):
            return name
        if depth < _MAX_UPSTREAM:
            for up in model.upstream(name):
                if up not in seen:
                    seen.add(up)
                    queue.append((up, depth + 1))
    return None


def _by_output(node: EngineNode, model: _Model, taken: set[str], related_only: bool) -> str | None:
    for tensor in node.outputs:
        producer = model.producer.get(tensor)
        if producer is None or producer in taken:
            continue
        if not related_only or _related(node.op_type, model.nodes[producer].op_type):
            return producer
    return None


def _ends(node: EngineNode, model: _Model, anchor: str) -> list[str]:
    """Where the engine node's region ends: the anchor and the producers of what it writes."""
    ends = [anchor, *(model.producer[t] for t in node.outputs if t in model.producer)]
    nchwc = _NCHWC.match(node.name)
    if nchwc and nchwc.group(1) in model.producer:
        ends.append(model.producer[nchwc.group(1)])
    return ends


def _regions(
    engine: EngineGraph, model: _Model, anchors: Mapping[str, str | None], measured: set[str]
) -> dict[str, str]:
    """Model nodes inside an engine node's region: reached walking up from where it ends.

    The walk stops at the engine node's inputs, at constants and at other kernels' nodes. It
    goes above the anchor only when every run-time input of the engine node is a model tensor
    (a fusion of operators before the anchor, like SkipLayerNormalization's Adds); an input the
    engine renamed (``reorder_token_5``) leaves no boundary to stop at.
    """
    claimed: dict[str, str] = {}
    for node in engine.nodes:  # execution order: a region is claimed by its first kernel
        anchor = anchors[node.name]
        if anchor is None:
            continue
        inputs = {t for t in node.inputs if t and t not in engine.initializers}
        bounded = all(t in model.tensors for t in inputs)
        stack = _ends(node, model, anchor)
        seen: set[str] = set()
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name != anchor:
                if name in measured or claimed.get(name, anchor) != anchor:
                    continue
                claimed[name] = anchor
            elif not bounded:
                continue
            stack.extend(
                model.producer[t]
                for t in model.nodes[name].inputs
                if t in model.producer and t not in inputs and t not in model.constants
            )
    return claimed


def _attribute_rest(
    engine: EngineGraph, model: _Model, anchors: Mapping[str, str | None], claimed: dict[str, str]
) -> dict[str, str | None]:
    """fused_into for every model node without a kernel: its region's, else a producer's kernel."""
    ran_at: dict[str, int] = {}
    for position, node in enumerate(engine.nodes):
        anchor = anchors[node.name]
        if anchor is not None:
            ran_at[anchor] = max(ran_at.get(anchor, -1), position)
    fused: dict[str, str | None] = {}
    for name in model.nodes:  # producers first
        if name in ran_at:
            continue
        if name in claimed:
            fused[name] = claimed[name]
            continue
        outputs = [t for t in model.nodes[name].outputs if t]
        if all(t in model.constants for t in outputs):
            fused[name] = None  # folded into a constant when the session was created
            continue
        kernels = [k for k in (up if up in ran_at else fused.get(up) for up in model.upstream(name)) if k]
        fused[name] = max(kernels, key=ran_at.__getitem__, default=None)
    return fused
