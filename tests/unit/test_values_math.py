"""The float, quantization, resampling and index evaluators agree with onnx's reference kernels,
element type included, across their attribute variants."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from archlint.model import values

F32, F64, F16, I64, I32 = np.float32, np.float64, np.float16, np.int64, np.int32
RNG = np.random.default_rng(16)
Case = tuple[str, list[Any], dict[str, Any], int]  # op type, inputs (None: left out), attributes, opset


def _floats(*shape: int, dtype: Any = F32, low: float = -3.0, high: float = 3.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(dtype)


def _ints(low: int, high: int, *shape: int, dtype: Any = I64) -> np.ndarray:
    return RNG.integers(low, high, shape).astype(dtype)


def _scalar(value: Any, dtype: Any) -> np.ndarray:
    return np.array(value, dtype=dtype)


def _index_cases() -> list[Case]:
    data = _floats(3, 4)
    return [
        ("GatherElements", [data, _ints(-4, 4, 3, 5)], {"axis": 1}, 17),
        ("GatherElements", [data, _ints(-3, 3, 2, 4, dtype=I32)], {"axis": 0}, 17),
        ("GatherElements", [_ints(0, 9, 2, 3, 4), _ints(-4, 4, 2, 3, 6)], {"axis": 2}, 17),
        ("GatherND", [_floats(2, 3, 4), np.array([[1, -2], [0, 2], [-1, 0]], dtype=I64)], {}, 17),
        ("GatherND", [_floats(2, 3, 4), _ints(-2, 2, 2, 3)], {}, 17),
        ("GatherND", [_floats(2, 3, 4), _ints(-3, 3, 2, 5, 1)], {"batch_dims": 1}, 17),
        ("GatherND", [_floats(2, 3, 4), _ints(0, 4, 2, 3, 1)], {"batch_dims": 2}, 17),
        ("GatherND", [RNG.random((1, 4)) > 0.5, np.array([[[[[0, 1], [0, 3]]]]], dtype=I64)], {}, 17),
        ("Flatten", [_floats(2, 3, 4)], {"axis": 0}, 17),
        ("Flatten", [_floats(2, 3, 4)], {}, 17),
        ("Flatten", [RNG.random((1, 2, 2)) > 0.5], {"axis": 2}, 17),
        ("Flatten", [_ints(0, 9, 2, 3, 4)], {"axis": -1}, 17),
        ("Flatten", [_floats(2, 3, 4)], {"axis": 3}, 17),
    ]


def _scatter_cases() -> list[Case]:
    cases: list[Case] = []
    data, updates = _floats(4, 3), _floats(2, 3)
    unique = np.array([[2], [-1]], dtype=I64)
    repeated = np.array([[1], [1], [-3]], dtype=I64)
    for reduction in ("none", "add", "mul", "max", "min"):
        cases.append(("ScatterND", [data, unique, updates], {"reduction": reduction}, 18))
        if reduction != "none":
            cases.append(("ScatterND", [data, repeated, _floats(3, 3)], {"reduction": reduction}, 18))
    cases.append(("ScatterND", [_ints(0, 9, 4, 3), repeated, _ints(1, 4, 3, 3)], {"reduction": "mul"}, 18))
    points = np.array([[[[[0, 0, 1, 0]], [[0, 1, 0, 0]]]]], dtype=I64)
    cases.append(("ScatterND", [_floats(1, 2, 2, 2), points, _floats(1, 1, 2, 1)], {}, 17))
    cases.append(("ScatterND", [_floats(2, 3, 4), np.array([[1, 2, 3], [0, -1, -4]]), _floats(2)], {}, 16))
    return cases


def _math_cases() -> list[Case]:
    cases: list[Case] = [
        ("MatMul", [_floats(20, 64), _floats(64, 16)], {}, 17),
        ("MatMul", [_floats(1, 4, 20, 16), _floats(1, 4, 16, 20)], {}, 17),
        ("MatMul", [_floats(2, 5, 8), _floats(8, 3)], {}, 17),
        ("MatMul", [_floats(8), _floats(8, 3)], {}, 17),
        ("MatMul", [_floats(8, dtype=F64), _floats(8, dtype=F64)], {}, 17),
        ("MatMul", [_ints(-9, 9, 3, 4), _ints(-9, 9, 4, 2)], {}, 17),
        ("MatMul", [_ints(-9, 9, 2, 3, 4, dtype=I32), _ints(-9, 9, 4, 2, dtype=I32)], {}, 17),
        ("Einsum", [_floats(4, dtype=F64), _floats(16, dtype=F64)], {"equation": "i,j->ij"}, 17),
        ("Einsum", [_floats(2, 3, 4), _floats(2, 4, 5)], {"equation": "bij,bjk->bik"}, 17),
        ("Einsum", [_ints(-9, 9, 3, 3)], {"equation": "ii->i"}, 17),
        ("Einsum", [_ints(-9, 9, 3, 4, dtype=I32), _ints(-9, 9, 4, dtype=I32)], {"equation": " ij , j "}, 17),
    ]
    for op, dtype in itertools.product(("Sin", "Cos", "Log"), (F32, F64, F16)):
        cases.append((op, [_floats(2, 3, 4, dtype=dtype, low=0.01, high=9.0)], {}, 17))
    for (exclusive, reverse), axis in itertools.product(
        itertools.product((0, 1), (0, 1)), (_scalar(1, I64), _scalar(-1, I32))
    ):
        attrs = {"exclusive": exclusive, "reverse": reverse}
        cases.append(("CumSum", [_floats(2, 3, 4), axis], attrs, 17))
        cases.append(("CumSum", [_ints(-9, 9, 3, 4, dtype=I32), axis], attrs, 17))
    for axis, dtype in itertools.product((-1, 0, 1), (F32, F64)):
        cases.append(("Softmax", [_floats(2, 3, 4, dtype=dtype)], {"axis": axis}, 13))
    cases.append(("Softmax", [_floats(1, 4, 20, 20)], {}, 17))
    for axis, bias in itertools.product((-1, 1, 0), (True, False)):
        x, scale = _floats(2, 5, 8), _floats(*(2, 5, 8)[axis:])
        inputs = [x, scale, _floats(*scale.shape)] if bias else [x, scale]
        cases.append(("LayerNormalization", inputs, {"axis": axis, "epsilon": 1e-3}, 17))
    return cases


def _quantize_cases() -> list[Case]:
    ties = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 300.0, -300.0, 0.0], dtype=F32)
    scale, x = _scalar(0.05, F32), _floats(4, 6)
    return [
        ("QuantizeLinear", [ties, _scalar(1.0, F32), _scalar(3, np.uint8)], {}, 13),
        ("QuantizeLinear", [ties, _scalar(1.0, F32), _scalar(-2, np.int8)], {}, 13),
        ("QuantizeLinear", [ties, _scalar(1.0, F32)], {}, 13),
        ("QuantizeLinear", [ties * 200, np.array([1.0], dtype=F32), _scalar(7, np.int16)], {}, 21),
        ("QuantizeLinear", [ties * 300, _scalar(1.0, F32), _scalar(9, np.uint16)], {}, 21),
        ("QuantizeLinear", [x, scale, _scalar(128, np.uint8)], {}, 17),
        (
            "QuantizeLinear",
            [x, _floats(4, low=0.01, high=0.1), _ints(-5, 5, 4, dtype=np.int8)],
            {"axis": 0},
            17,
        ),
        ("QuantizeLinear", [x, _floats(6, low=0.01, high=0.1), _ints(0, 255, 6, dtype=np.uint8)], {}, 17),
        (
            "QuantizeLinear",
            [x, _floats(4, 2, low=0.01, high=0.1), _ints(0, 9, 4, 2, dtype=np.uint8)],
            {"block_size": 3},
            21,
        ),
        (
            "QuantizeLinear",
            [x, _floats(4, 3, low=0.01, high=0.1)],
            {"block_size": 2, "output_dtype": TensorProto.INT8},
            21,
        ),
        ("QuantizeLinear", [x.astype(F16), scale.astype(F16), _scalar(128, np.uint8)], {}, 21),
    ]


def _scales(*shape: int) -> np.ndarray:
    return _floats(*shape, low=0.01, high=0.1)


def _dequantize_cases() -> list[Case]:
    scale, u8, i8 = _scalar(0.05, F32), np.uint8, np.int8
    wide = _ints(-(2**20), 2**20, 32, dtype=I32)
    bytes_4x6 = _ints(0, 256, 4, 6, dtype=u8)
    variants: list[tuple[list[Any], dict[str, Any], int]] = [
        ([_ints(0, 256, 128, dtype=u8), scale, _scalar(128, u8)], {}, 13),
        ([_ints(0, 256, dtype=u8), scale, _scalar(3, u8)], {}, 13),
        ([_ints(-128, 128, 6, 4, dtype=i8), scale, _scalar(0, i8)], {}, 13),
        ([wide, np.array([0.003], dtype=F32), _scalar(0, I32)], {}, 13),
        ([wide, scale], {}, 13),
        ([_ints(-128, 128, 4, 6, dtype=i8), _scales(4)], {"axis": 0}, 13),
        ([bytes_4x6, _scales(6), _ints(0, 255, 6, dtype=u8)], {"axis": -1}, 13),
        ([bytes_4x6, _scales(4, 2), _ints(0, 9, 4, 2, dtype=u8)], {"block_size": 3}, 21),
        ([_ints(-9, 9, 4, 6, dtype=np.int16), scale.astype(F16), _scalar(1, np.int16)], {}, 21),
        ([_ints(0, 99, 4, 6, dtype=np.uint16), scale], {"output_dtype": TensorProto.FLOAT16}, 23),
    ]
    return [("DequantizeLinear", inputs, attrs, opset) for inputs, attrs, opset in variants]


def _resize_cases() -> list[Case]:
    cases: list[Case] = []
    image = _floats(1, 2, 5, 7)
    empty = np.array([], dtype=F32)
    coordinates = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric")
    nearest = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
    for mode, rounding in itertools.product(coordinates, nearest):
        attrs = {"mode": "nearest", "coordinate_transformation_mode": mode, "nearest_mode": rounding}
        scales = np.array([1, 1, 1.7, 0.6], dtype=F32)
        cases.append(("Resize", [image, empty, scales], attrs, 19))
        cases.append(("Resize", [image, None, None, np.array([1, 2, 8, 3], dtype=I64)], attrs, 19))
    ints = _ints(0, 99, 1, 1, 4, 4)
    cases.append(("Resize", [ints, empty, np.array([1, 1, 2, 2], dtype=F32)], {"mode": "nearest"}, 13))
    asymmetric = {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    cases.append(
        ("Resize", [image, None, None, np.array([10, 3], dtype=I64)], {**asymmetric, "axes": [2, 3]}, 18)
    )
    cases.append(("Resize", [image, None, np.array([2.5], dtype=F32)], {"axes": [3]}, 18))
    return cases


CASES = (
    _index_cases()
    + _scatter_cases()
    + _math_cases()
    + _quantize_cases()
    + _dequantize_cases()
    + _resize_cases()
)


def _run(op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], opset: int) -> Any:
    names = ["" if x is None else f"in{i}" for i, x in enumerate(inputs)]
    outputs = ["y", "mean", "inv_std_dev"] if op_type == "LayerNormalization" else ["y"]
    node = helper.make_node(op_type, names, outputs, **attrs)
    feeds = {n: x for n, x in zip(names, inputs, strict=True) if n}
    expected = ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds)
    return node, expected


@pytest.mark.parametrize(
    ("op_type", "inputs", "attrs", "opset"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_evaluator_matches_the_reference_kernel(
    op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], opset: int, monkeypatch: Any
) -> None:
    assert op_type in values.EVALUATORS
    node, expected = _run(op_type, inputs, attrs, opset)
    monkeypatch.setattr(values, "_reference", _no_reference)
    result = values.evaluate(node, inputs, opset)
    assert result is not None
    assert len(result) == len(expected)
    for ours, theirs in zip(result, expected, strict=True):
        assert ours.dtype == np.asarray(theirs).dtype
        np.testing.assert_array_equal(ours, theirs)


def _no_reference(node: Any, inputs: Any) -> None:
    raise AssertionError(f"{node.op_type} fell back to the reference kernel")


def test_softmax_before_opset_13_normalises_the_input_coerced_to_two_dimensions() -> None:
    x = _floats(2, 3, 4)
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    result = values.evaluate(node, [x], opset=11)
    assert result is not None
    rows = np.exp(x.reshape(2, 12) - x.reshape(2, 12).max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        result[0], (rows / rows.sum(axis=1, keepdims=True)).reshape(2, 3, 4), rtol=1e-6
    )
    assert result[0].dtype == F32
    assert not np.allclose(result[0].sum(axis=-1), 1.0)  # not the newer per-axis normalisation


@pytest.mark.parametrize(
    ("op_type", "inputs", "attrs", "opset"),
    [
        ("Resize", [_floats(1, 1, 4, 4), None, np.array([1, 1, 2, 2], dtype=F32)], {"mode": "linear"}, 19),
        ("LayerNormalization", [_floats(2, 8, dtype=F64), _floats(8, dtype=F64)], {}, 17),
        ("ScatterND", [_floats(4), np.array([[1], [1]]), _floats(2)], {}, 17),
    ],
    ids=["resize-linear", "layernorm-float64", "scatter-repeated"],
)
def test_a_combination_an_evaluator_leaves_out_falls_back_to_the_reference_kernel(
    op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], opset: int, monkeypatch: Any
) -> None:
    node, expected = _run(op_type, inputs, attrs, opset)
    asked: list[str] = []
    reference = values._reference

    def spy(node: Any, inputs: Any) -> Any:
        asked.append(node.op_type)
        return reference(node, inputs)

    monkeypatch.setattr(values, "_reference", spy)
    result = values.evaluate(node, inputs, opset)
    assert asked == [op_type]
    assert result is not None
    np.testing.assert_array_equal(result[0], expected[0])


def test_out_of_range_indices_give_no_value() -> None:
    data = _floats(3, 4)
    gather = helper.make_node("GatherElements", ["d", "i"], ["y"], axis=1)
    assert values.evaluate(gather, [data, np.full((3, 4), 4, dtype=I64)], 17) is None
    scatter = helper.make_node("ScatterND", ["d", "i", "u"], ["y"])
    assert values.evaluate(scatter, [data, np.array([[3], [-5]]), _floats(2, 4)], 17) is None


def test_a_negative_gather_elements_axis_counts_from_the_last() -> None:
    data, indices = _ints(0, 9, 2, 3, 4), _ints(-4, 4, 2, 3, 6)
    last = values.evaluate(
        helper.make_node("GatherElements", ["d", "i"], ["y"], axis=-1), [data, indices], 17
    )
    third = values.evaluate(
        helper.make_node("GatherElements", ["d", "i"], ["y"], axis=2), [data, indices], 17
    )
    assert last is not None and third is not None
    np.testing.assert_array_equal(last[0], third[0])


def _constant_subgraphs_model() -> Any:
    """A model whose constant sub-graphs use every operator above, each fed by initializers."""
    constants = {
        "data": np.arange(8, dtype=I64).reshape(1, 8),
        "pick": np.array([[7, -1, 0, 3]], dtype=I64),
        "mask": np.array([[True, False, True, True]]),
        "where": np.array([[[0, 1], [0, 2]]], dtype=I64),
        "row": np.arange(4, dtype=F32),
        "at": np.array([[1]], dtype=I64),
        "put": np.array([5.0], dtype=F32),
        "cube": _floats(1, 2, 2),
        "zero": np.array(0, dtype=I64),
        "matrix": _floats(3, 4),
        "gamma": np.ones(4, dtype=F32),
        "image": _floats(1, 1, 2, 2),
        "sizes": np.array([1, 1, 4, 4], dtype=I64),
        "scale": np.array(0.05, dtype=F32),
        "offset": np.array(128, dtype=np.uint8),
    }
    nodes = [
        helper.make_node("GatherElements", ["data", "pick"], ["gathered"], axis=1),
        helper.make_node("GatherND", ["mask", "where"], ["picked"]),
        helper.make_node("ScatterND", ["row", "at", "put"], ["scattered"]),
        helper.make_node("Flatten", ["cube"], ["flat"], axis=2),
        helper.make_node("CumSum", ["row", "zero"], ["running"], exclusive=1),
        helper.make_node("Softmax", ["matrix"], ["soft"]),
        helper.make_node("LayerNormalization", ["matrix", "gamma"], ["normal"]),
        helper.make_node("Sin", ["row"], ["sine"]),
        helper.make_node("Cos", ["row"], ["cosine"]),
        helper.make_node("Log", ["gamma"], ["log"]),
        helper.make_node("MatMul", ["matrix", "row"], ["product"]),
        helper.make_node("Einsum", ["row", "row"], ["outer"], equation="i,j->ij"),
        helper.make_node("Resize", ["image", "", "", "sizes"], ["larger"], mode="nearest"),
        helper.make_node("QuantizeLinear", ["row", "scale", "offset"], ["quantized"]),
        helper.make_node("DequantizeLinear", ["quantized", "scale", "offset"], ["dequantized"]),
    ]
    outputs = [o for n in nodes for o in n.output]
    graph = helper.make_graph(
        [*nodes, helper.make_node("Relu", ["x"], ["y"])],
        "constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]
        + [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in constants.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {n.op_type for n in nodes}


def test_folding_these_operators_never_imports_the_reference_runtime(tmp_path: Any) -> None:
    model, op_types = _constant_subgraphs_model()
    path = tmp_path / "constants.onnx"
    onnx.save(model, str(path))
    script = f"""
import sys
from archlint import api
from archlint.model import values
computed = set()
evaluate = values.evaluate
def spy(node, inputs, opset):
    result = evaluate(node, inputs, opset)
    if result is not None:
        computed.add(node.op_type)
    return result
values.evaluate = spy
api.analyze({str(path)!r})
print(",".join(sorted(computed)))
print("onnx.reference" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    computed, imported = out.stdout.split()
    assert set(computed.split(",")) >= op_types
    assert imported == "False"


@pytest.mark.parametrize(
    ("op_type", "inputs", "attrs"),
    [
        ("CumSum", [_floats(2, 3), _scalar(2, I64)], {}),
        ("Softmax", [_floats(2, 3)], {"axis": -3}),
        ("LayerNormalization", [_floats(2, 3), _floats(3)], {"axis": 2}),
        ("GatherElements", [_floats(2, 3), _ints(0, 2, 2, 3)], {"axis": 2}),
        ("Resize", [_floats(1, 4), None, _floats(1, low=1, high=2)], {"axes": [2]}),
    ],
    ids=["cumsum", "softmax", "layernorm", "gather-elements", "resize"],
)
def test_an_axis_outside_the_rank_gives_no_value(
    op_type: str, inputs: list[Any], attrs: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(values, "_reference", _no_reference)
    node = helper.make_node(
        op_type, [f"in{i}" if x is not None else "" for i, x in enumerate(inputs)], ["y"], **attrs
    )
    assert values.evaluate(node, inputs, 18) is None
