"""The batch axis: which leading dimension the inputs leave free, and the binding at another batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from archlint.api import resolve_model
from archlint.model.batch_axis import BatchAxis, batch_axis
from tests.builders import model, save, value


def _axis(tmp_path: Path, shapes: dict[str, list[Any]], **binding: Any) -> BatchAxis:
    names = list(shapes)
    node = (
        helper.make_node("Add", names, ["y"]) if len(names) == 2 else helper.make_node("Relu", names, ["y"])
    )
    proto = model([node], [value(n, s) for n, s in shapes.items()], [value("y", None)])
    path = save(proto, tmp_path / "m.onnx")
    inputs, dims, values = binding.get("inputs", {}), binding.get("dims", {}), binding.get("values", {})
    resolved = resolve_model(onnx.load(str(path)), path, inputs, dims)
    return batch_axis(proto, inputs, dims, values, resolved.graph)


def test_a_leading_symbol_is_rebound_through_its_dim(tmp_path: Path) -> None:
    axis = _axis(tmp_path, {"a": ["N", 8], "b": ["N", 8]}, dims={"N": 4})
    assert axis.batch == 4 and axis.reason is None
    assert axis.binding(32) == ({}, {"N": 32})


def test_a_given_input_shape_keeps_its_other_dimensions(tmp_path: Path) -> None:
    axis = _axis(tmp_path, {"x": ["N", "T", 8]}, inputs={"x": (2, 5, 8)})
    assert axis.batch == 2 and axis.binding(16) == ({"x": (16, 5, 8)}, {})


def test_an_unnamed_or_negative_leading_dimension_is_free(tmp_path: Path) -> None:
    assert _axis(tmp_path, {"x": [None, 8]}).binding(3) == ({"x": (3, 8)}, {})
    assert _axis(tmp_path, {"x": [-1, 8]}).binding(3) == ({"x": (3, 8)}, {})


def test_a_fixed_leading_dimension_fixes_the_batch(tmp_path: Path) -> None:
    axis = _axis(tmp_path, {"x": [1, 8]})
    assert axis.batch == 1 and axis.reason == "the model fixes its batch (input 'x' is declared 1x8)"


def test_inputs_bound_to_different_leading_sizes_have_no_batch_axis(tmp_path: Path) -> None:
    axis = _axis(tmp_path, {"a": ["N", 8], "b": ["M", 8]}, dims={"N": 1, "M": 1}, inputs={"b": (1, 8)})
    assert axis.reason is None
    uneven = _axis(tmp_path, {"a": ["N", 1], "b": ["M", 8]}, dims={"N": 2, "M": 1})
    assert uneven.reason == "the inputs are bound to different leading sizes (a 2, b 1)"


def test_a_scalar_input_is_one_sample(tmp_path: Path) -> None:
    axis = _axis(tmp_path, {"x": []})
    assert axis.batch == 1 and axis.reason == "no input has a leading dimension: one run is one sample"
