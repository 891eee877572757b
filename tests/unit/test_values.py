"""archlint's numpy evaluators of shape sub-graph operators agree with onnx's reference kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from archlint.model import values

I64 = np.int64


def _a(*items: Any, dtype: Any = I64) -> np.ndarray:
    return np.array(items, dtype=dtype)


SHAPE = _a(2, 3, 224, 224)
CASES: list[tuple[str, list[np.ndarray | None], dict[str, Any]]] = [
    ("Gather", [SHAPE, np.array(1, dtype=I64)], {"axis": 0}),
    ("Gather", [SHAPE, _a(-1, 0)], {"axis": 0}),
    ("Slice", [SHAPE, _a(1), _a(9223372036854775807)], {}),
    ("Slice", [SHAPE, _a(-2), _a(-100), _a(0), _a(-1)], {}),
    ("Slice", [SHAPE, _a(3), _a(0), _a(0), _a(-2)], {}),
    ("Concat", [_a(1), _a(-1), _a(64)], {"axis": 0}),
    ("Unsqueeze", [np.array(5, dtype=I64), _a(0)], {}),
    ("Squeeze", [_a(7), _a(0)], {}),
    ("Cast", [_a(3, 4)], {"to": 1}),
    ("Cast", [np.array([2.7, -2.7], dtype=np.float32)], {"to": 7}),
    ("Reshape", [np.arange(24, dtype=I64).reshape(2, 3, 4), _a(0, -1)], {}),
    ("Expand", [_a(1), _a(3)], {}),
    ("Range", [np.array(0, dtype=I64), np.array(10, dtype=I64), np.array(3, dtype=I64)], {}),
    ("ConstantOfShape", [_a(2, 3)], {"value": numpy_helper.from_array(_a(7))}),
    ("Where", [np.array([True, False]), _a(1, 2), _a(3, 4)], {}),
    ("Equal", [np.array(3, dtype=I64), np.array(3, dtype=I64)], {}),
    ("Not", [np.array([True, False])], {}),
    ("And", [np.array([True, True]), np.array([True, False])], {}),
    ("Div", [_a(7, -7), _a(2, 2)], {}),
    ("Mod", [_a(7, -7), _a(3, 3)], {}),
    ("Mul", [_a(3), _a(224)], {}),
    ("Sub", [_a(224), _a(1)], {}),
    ("Max", [_a(1, 9), _a(4, 2)], {}),
    ("ReduceProd", [_a(2, 3, 4)], {"keepdims": 0}),
    ("ReduceSum", [_a(2, 3, 4), _a(0)], {"keepdims": 1}),
    ("Transpose", [np.arange(6, dtype=I64).reshape(2, 3)], {"perm": [1, 0]}),
    ("Tile", [_a(1, 2), _a(3)], {}),
    ("NonZero", [_a(0, 3, 0, 4)], {}),
    ("Clip", [_a(-5, 5, 50), np.array(0, dtype=I64), np.array(10, dtype=I64)], {}),
    ("Floor", [np.array([1.5, -1.5], dtype=np.float32)], {}),
    ("Sqrt", [np.array([16.0], dtype=np.float32)], {}),
    ("Less", [_a(1, 5), _a(3, 3)], {}),
]


@pytest.mark.parametrize(
    ("op_type", "inputs", "attrs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_evaluator_matches_the_reference_kernel(
    op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any]
) -> None:
    assert op_type in values.EVALUATORS
    names = [f"in{i}" for i in range(len(inputs))]
    node = helper.make_node(op_type, names, ["out"], **attrs)
    expected = ReferenceEvaluator(node).run(None, dict(zip(names, inputs, strict=True)))[0]
    result = values.evaluate(node, inputs, opset=18)
    assert result is not None
    assert result[0].dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(result[0], expected)


def test_an_unknown_input_or_an_out_of_range_index_gives_no_value() -> None:
    gather = helper.make_node("Gather", ["data", "index"], ["out"], axis=0)
    assert values.evaluate(gather, [SHAPE, None], opset=18) is None
    assert values.evaluate(gather, [SHAPE, np.array(9, dtype=I64)], opset=18) is None


def test_an_operator_without_an_evaluator_falls_back_to_the_reference_kernel() -> None:
    assert "Hardmax" not in values.EVALUATORS
    node = helper.make_node("Hardmax", ["x"], ["out"])
    result = values.evaluate(node, [np.array([[1.0, 3.0, 2.0]], dtype=np.float32)], opset=18)
    assert result is not None
    np.testing.assert_array_equal(result[0], np.array([[0.0, 1.0, 0.0]], dtype=np.float32))
