"""Weights count however they are stored: initializers, Constant nodes, or built from constants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value, weight

Cost = Callable[..., ModelCost]


def test_constant_node_weights(cost_of: Cost) -> None:
    w = numpy_helper.from_array(np.full((16, 8, 3, 3), 0.1, dtype=np.float32), "w")
    nodes = [
        helper.make_node("Constant", [], ["w"], value=w),
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
    ]
    cost = cost_of(model(nodes, [value("x", [1, 8, 10, 10])], [value("y", None)]))
    assert cost.params == 16 * 8 * 9
    assert cost.folded_nodes == 1
    assert [n.op_type for n in cost.nodes] == ["Conv"]


def test_constant_of_shape_cast_and_reshape_chain(cost_of: Cost) -> None:
    """fp16 zeros -> Cast to fp32 -> Reshape: one fp32 weight of 4*8 elements, no shape params."""
    fill = helper.make_tensor("fill", TensorProto.FLOAT16, [1], [0.0])
    nodes = [
        helper.make_node("ConstantOfShape", ["flat"], ["w16"], value=fill),
        helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["w32", "wshape"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([32], dtype=np.int64), "flat"),
        numpy_helper.from_array(np.array([4, 8], dtype=np.int64), "wshape"),
    ]
    cost = cost_of(model(nodes, [value("x", [2, 4])], [value("y", None)], inits))
    assert cost.params == 32
    assert cost.weight_bytes == 32 * 4
    assert cost.folded_nodes == 3


def test_shared_weight_is_counted_once(cost_of: Cost) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("MatMul", ["h", "w"], ["y"]),
    ]
    cost = cost_of(model(nodes, [value("x", [1, 64])], [value("y", None)], [weight("w", (64, 64))]))
    assert cost.params == 64 * 64
    assert all(n.params == 64 * 64 for n in cost.nodes)


def test_peak_memory_is_weights_plus_live_activations(cost_of: Cost) -> None:
    """x (400 B) -> Relu a -> Relu b -> Add(a, b) -> y: a, b and y are live together."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    cost = cost_of(model(nodes, [value("x", [100])], [value("y", None)]))
    # step 2: x freed after step 1? x is last read at step 0 -> freed; peak at Add: a + b + y.
    assert cost.peak_activation_bytes == 3 * 400
    assert cost.peak_memory_bytes == cost.weight_bytes + 3 * 400


def test_parameters_are_the_stored_tensors_not_what_the_binding_folds_from_them(tmp_path: Path) -> None:
    """BERT's token-type rows: Gather(table, zeros shaped like the input) folds to a (batch, seq,
    hidden) constant. The table is the parameter, whatever the binding; an attention mask sized
    from the input's shape is none."""
    from archlint.api import analyze
    from tests.builders import save

    hidden = 8
    zero = numpy_helper.from_array(np.array([0], dtype=np.int64), "zero")
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "two"], ["batch_seq"]),
        helper.make_node(
            "ConstantOfShape", ["batch_seq"], ["ids"], value=numpy_helper.from_array(np.array([0]))
        ),
        helper.make_node("Gather", ["types", "ids"], ["type_rows"]),
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["mask"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("Add", ["x", "type_rows"], ["summed"]),
        helper.make_node("Mul", ["summed", "mask"], ["y"]),
    ]
    inits = [zero, numpy_helper.from_array(np.array([2], dtype=np.int64), "two")]
    inits.append(numpy_helper.from_array(np.ones((2, hidden), np.float32), "types"))
    proto = model(nodes, [value("x", ["batch", "seq", hidden])], [value("y", None)], inits)
    path = save(proto, tmp_path / "embeddings.onnx")
    for batch, seq in ((1, 16), (4, 32)):
        cost = analyze(path, inputs={"x": (batch, seq, hidden)}).cost
        assert cost.params == 2 * hidden
        assert cost.weight_bytes == 4 * 2 * batch * seq * hidden  # the folded rows and mask are read
