"""If, Loop and Scan: subgraph nodes are costed, per trip where the trip count is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value, weight

Cost = Callable[..., ModelCost]


def _loop_body() -> object:
    """Body: carried h (1, 64) -> MatMul with an outer-scope weight -> Relu."""
    nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        helper.make_node("MatMul", ["h_in", "w"], ["hw"]),
        helper.make_node("Relu", ["hw"], ["h_out"]),
    ]
    return helper.make_graph(
        nodes,
        "body",
        [
            value("i", [], TensorProto.INT64),
            value("cond_in", [], TensorProto.BOOL),
            value("h_in", [1, 64]),
        ],
        [value("cond_out", [], TensorProto.BOOL), value("h_out", [1, 64])],
    )


def _loop_model(trip_count: np.ndarray | None) -> object:
    inits = [weight("w", (64, 64)), numpy_helper.from_array(np.array(True), "cond")]
    inputs = [value("h0", [1, 64])]
    if trip_count is not None:
        inits.append(numpy_helper.from_array(trip_count, "M"))
        m_name = "M"
    else:
        inputs.append(value("M", [], TensorProto.INT64))
        m_name = "M"
    node = helper.make_node("Loop", [m_name, "cond", "h0"], ["h_final"], body=_loop_body())
    return model([node], inputs, [value("h_final", None)], inits)


def test_loop_with_constant_trip_count_counts_every_trip(cost_of: Cost) -> None:
    cost = cost_of(_loop_model(np.array(5, dtype=np.int64)))
    matmul = next(n for n in cost.nodes if n.op_type == "MatMul")
    assert matmul.name.endswith("/body/MatMul_1")
    assert matmul.repeats == 5
    assert matmul.flops == 5 * 2 * 64 * 64
    assert cost.params == 64 * 64
    assert not cost.notes


def test_loop_with_runtime_trip_count_is_counted_once_and_reported(cost_of: Cost) -> None:
    cost = cost_of(_loop_model(None))
    matmul = next(n for n in cost.nodes if n.op_type == "MatMul")
    assert matmul.repeats == 1
    assert any("trip count is not a constant" in note for note in cost.notes)


def _branch(name: str, op: str) -> object:
    return helper.make_graph(
        [helper.make_node(op, ["x", "w"] if op == "MatMul" else ["x"], [f"{name}_y"])],
        name,
        [],
        [value(f"{name}_y", [1, 64])],
    )


def test_if_with_runtime_condition_counts_the_costlier_branch(cost_of: Cost) -> None:
    node = helper.make_node(
        "If",
        ["c"],
        ["y"],
        then_branch=_branch("then", "Relu"),
        else_branch=_branch("else", "MatMul"),
    )
    proto = model(
        [node],
        [value("c", [], TensorProto.BOOL), value("x", [1, 64])],
        [value("y", None)],
        [weight("w", (64, 64))],
    )
    cost = cost_of(proto)
    assert [n.op_type for n in cost.nodes] == ["MatMul"]
    assert any("costlier else_branch" in note for note in cost.notes)
    assert cost.params == 64 * 64


def test_if_with_constant_condition_takes_that_branch(cost_of: Cost) -> None:
    node = helper.make_node(
        "If",
        ["c"],
        ["y"],
        then_branch=_branch("then", "Relu"),
        else_branch=_branch("else", "MatMul"),
    )
    inits = [weight("w", (64, 64)), numpy_helper.from_array(np.array(True), "c")]
    cost = cost_of(model([node], [value("x", [1, 64])], [value("y", None)], inits))
    assert [n.op_type for n in cost.nodes] == ["Relu"]
    assert not cost.notes
    assert cost.params == 64 * 64  # the else branch's weight is loaded with the model


def test_scan_counts_one_body_per_slice(cost_of: Cost) -> None:
    body = helper.make_graph(
        [
            helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
            helper.make_node("Identity", ["s_out"], ["y_t"]),
        ],
        "scan_body",
        [value("s_in", [32]), value("x_t", [32])],
        [value("s_out", [32]), value("y_t", [32])],
    )
    node = helper.make_node("Scan", ["s0", "xs"], ["s_final", "ys"], body=body, num_scan_inputs=1)
    cost = cost_of(
        model(
            [node],
            [value("s0", [32]), value("xs", [10, 32])],
            [value("s_final", None), value("ys", None)],
        )
    )
    add = next(n for n in cost.nodes if n.op_type == "Add")
    assert add.repeats == 10
    assert add.flops == 10 * 32
