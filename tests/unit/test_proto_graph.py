"""Which nodes hold subgraphs: default-domain nodes are judged by their op type alone."""

from __future__ import annotations

from onnx import TensorProto, helper

from archlint.model.onnx_loader import iter_graphs
from archlint.model.proto_graph import has_subgraph


def _body(name: str) -> object:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    return helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], name, [x], [x])


def test_subgraphs_of_if_and_of_other_domains_operators_are_found() -> None:
    nodes = [
        helper.make_node("If", ["c"], ["a"], then_branch=_body("then"), else_branch=_body("else")),
        # onnxruntime's BeamSearch carries its decoder as a graph attribute
        helper.make_node("BeamSearch", ["ids"], ["seq"], domain="com.microsoft", decoder=_body("decoder")),
        helper.make_node("Relu", ["a"], ["b"]),
    ]
    graph = helper.make_graph(nodes, "main", [], [])
    assert [g.name for g in iter_graphs(graph)] == ["main", "else", "then", "decoder"]  # attributes by name
    assert [has_subgraph(n) for n in graph.node] == [True, True, False]
