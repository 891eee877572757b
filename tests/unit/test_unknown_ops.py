"""Operators without a cost model are reported, never silently counted as zero."""

from __future__ import annotations

from collections.abc import Callable

from onnx import helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value, weight

Cost = Callable[..., ModelCost]


def test_custom_domain_op_goes_to_unknown_ops(cost_of: Cost) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("FancyActivation", ["h"], ["a"], domain="com.example"),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    proto = model(
        nodes,
        [value("x", [1, 32])],
        [value("y", None)],
        [weight("w", (32, 32))],
        extra_opsets={"com.example": 1},
    )
    proto.graph.value_info.append(value("a", [1, 32]))  # exporters declare custom ops' outputs
    cost = cost_of(proto)
    assert [n.op_type for n in cost.nodes] == ["MatMul", "Relu"]
    (unknown,) = cost.unknown_ops
    assert unknown.op_type == "FancyActivation"
    assert unknown.reason == "no cost model for com.example::FancyActivation"


def test_ops_downstream_of_an_unknown_shape_are_reported_with_the_tensor(cost_of: Cost) -> None:
    nodes = [
        helper.make_node("FancyActivation", ["x"], ["a"], domain="com.example"),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    cost = cost_of(model(nodes, [value("x", [1, 32])], [value("y", None)], extra_opsets={"com.example": 1}))
    assert {(u.op_type, u.reason) for u in cost.unknown_ops} == {
        ("FancyActivation", "no cost model for com.example::FancyActivation"),
        ("Relu", "shape of input 'a' is unknown"),
    }


def test_microsoft_fused_ops_are_costed(cost_of: Cost) -> None:
    nodes = [
        helper.make_node(
            "FusedConv", ["x", "w"], ["c"], domain="com.microsoft", activation="Relu", pads=[1] * 4
        ),
        helper.make_node("SkipLayerNormalization", ["s", "s2", "g", "b"], ["n"], domain="com.microsoft"),
    ]
    inits = [weight("w", (8, 4, 3, 3)), weight("g", (16,)), weight("b", (16,))]
    inputs = [value("x", [1, 4, 8, 8]), value("s", [1, 10, 16]), value("s2", [1, 10, 16])]
    outputs = [value("c", [1, 8, 8, 8]), value("n", [1, 10, 16])]
    cost = cost_of(model(nodes, inputs, outputs, inits, extra_opsets={"com.microsoft": 1}))
    assert not cost.unknown_ops
    fused, skip = cost.nodes
    assert fused.flops == 2 * 8 * 64 * 4 * 9 + 8 * 64  # conv + one activation op per output
    assert skip.flops == 160 * (7 + 1)
