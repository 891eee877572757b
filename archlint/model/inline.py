"""Replace an If whose condition is known by the nodes of the branch it takes.

Once the condition is a known value, the If is no longer control flow: inlining the taken branch
lets the outer scope's shapes and values flow through it like through any other node, and leaves
nothing of the untaken branch to be costed. Tensors made inside the branch are renamed
``IfName/then_branch/tensor`` (as the analysis names subgraph nodes), except the branch outputs,
which take the If's output names so that its consumers read them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import helper

from archlint.model.proto_graph import DEFAULT_DOMAINS, replace_nodes


def branch_of(node: onnx.NodeProto, condition: bool) -> onnx.GraphProto | None:
    wanted = "then_branch" if condition else "else_branch"
    return next(
        (a.g for a in node.attribute if a.name == wanted and a.type == onnx.AttributeProto.GRAPH), None
    )


def stored_tensors(graph: onnx.GraphProto, prefix: str) -> dict[str, onnx.TensorProto]:
    """The weights a graph stores (initializers, Constant values), nested graphs included, by
    prefixed name: the untaken branch's are still part of the model, loaded with it."""
    found = {prefix + t.name: t for t in graph.initializer}
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.type == onnx.AttributeProto.TENSOR:
                found[prefix + (node.output[0] if node.output else attr.name)] = attr.t
            for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                found |= stored_tensors(sub, f"{prefix}{node.name or node.op_type}/{attr.name}/")
    return found


def names_read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name a graph's nodes read, nested graphs included."""
    read = {name for node in graph.node for name in node.input if name}
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                read |= names_read(sub)
    return read


def inline_branch(
    node: onnx.NodeProto, label: str, condition: bool
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]] | None:
    """The nodes and initializers that stand in for ``node``; None if the If is malformed.

    The branch's value infos are left behind: shape inference derives them again from the outer
    shapes, which is the point of inlining."""
    branch = branch_of(node, condition)
    if branch is None or len(branch.output) != len(node.output):
        return None
    prefix = f"{label}/{'then_branch' if condition else 'else_branch'}/"
    produced = {o for n in branch.node for o in n.output if o} | {i.name for i in branch.initializer}
    renames = {name: prefix + name for name in produced}
    tails: list[onnx.NodeProto] = []
    for branch_out, if_out in zip(branch.output, node.output, strict=True):
        source = branch_out.name
        if source in renames and renames[source] == prefix + source and if_out:
            renames[source] = if_out  # the branch's own tensor takes the If's output name
        elif if_out:
            source_name = renames.get(source, source)
            tails.append(helper.make_node("Identity", [source_name], [if_out], name=f"{prefix}{if_out}"))
    nodes = [
        _renamed_node(n, renames, f"{prefix}{n.name or f'{n.op_type}_{i}'}")
        for i, n in enumerate(branch.node)
    ]
    initializers = []
    for init in branch.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = renames[init.name]
        initializers.append(copy)
    return [*nodes, *tails], initializers


def _renamed_node(node: onnx.NodeProto, renames: Mapping[str, str], name: str) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.name = name
    _rename_io(copy, renames)
    return copy


def _rename_io(node: onnx.NodeProto, renames: Mapping[str, str]) -> None:
    for i, name in enumerate(node.input):
        node.input[i] = renames.get(name, name)
    for i, name in enumerate(node.output):
        node.output[i] = renames.get(name, name)
    for attr in node.attribute:
        for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
            _rename_outer_references(sub, renames)


def _rename_outer_references(graph: onnx.GraphProto, renames: Mapping[str, str]) -> None:
    """Rename the outer-scope names a nested graph reads, where it does not define them itself."""
    local = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    local |= {o for n in graph.node for o in n.output if o}
    visible = {k: v for k, v in renames.items() if k not in local}
    if not visible:
        return
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = visible.get(name, name)
        for attr in node.attribute:
            for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                _rename_outer_references(sub, visible)
    for output in graph.output:
        output.name = visible.get(output.name, output.name)


def inline_known_ifs(
    work: onnx.ModelProto,
    known: Mapping[str, np.ndarray[Any, Any]],
    untaken: dict[str, onnx.TensorProto],
    decided: list[str] | None = None,
) -> int:
    """Replace each main-graph If whose condition is known by its taken branch; the weights of
    the other branch go to ``untaken``, the If's name to ``decided``."""
    graph, inlined = work.graph, 0
    nodes: list[onnx.NodeProto] = []
    for index, node in enumerate(graph.node):
        condition = known.get(node.input[0]) if node.op_type == "If" and node.input else None
        replacement = None
        if condition is not None and node.domain in DEFAULT_DOMAINS and np.asarray(condition).size == 1:
            taken = bool(np.asarray(condition).reshape(-1)[0])
            label = node.name or f"If_{index}"
            replacement = inline_branch(node, label, taken)
            other = branch_of(node, not taken)
            if replacement is not None and other is not None:
                skipped = "else_branch" if taken else "then_branch"
                untaken |= stored_tensors(other, f"{label}/{skipped}/")
                outer = {i.name: i for i in graph.initializer}
                untaken |= {name: outer[name] for name in names_read(other) if name in outer}
        if replacement is None:
            nodes.append(node)
            continue
        branch_nodes, initializers = replacement
        if decided is not None:
            decided.append(label)
        nodes.extend(branch_nodes)
        graph.initializer.extend(initializers)
        inlined += 1
    if inlined:
        replace_nodes(graph, nodes)
    return inlined
