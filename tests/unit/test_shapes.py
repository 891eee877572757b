"""Binding input shapes and symbols, inference, the folding fallback, and its error messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from archlint.api import load_model
from archlint.errors import ShapeError, UsageError
from tests.builders import model, save, value, weight

Cost = Callable[..., ModelCost]


def _encoder(tmp_path: Path) -> Path:
    """MatMul on x: (batch, seq, 64), both symbolic."""
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    proto = model([node], [value("x", ["batch", "seq", 64])], [value("y", None)], [weight("w", (64, 32))])
    return save(proto, tmp_path / "encoder.onnx")


def test_unbound_symbol_names_what_to_bind(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"symbol 'seq': bind it with --dim seq=N or --input x="):
        load_model(_encoder(tmp_path))


def test_leading_dim_defaults_to_one_and_dim_binds_the_rest(tmp_path: Path) -> None:
    model_ = load_model(_encoder(tmp_path), dims={"seq": 128})
    assert model_.graph.tensors["y"].shape == (1, 128, 32)


def test_input_shape_overrides_everything(tmp_path: Path) -> None:
    model_ = load_model(_encoder(tmp_path), inputs={"x": (4, 16, 64)})
    assert model_.graph.tensors["y"].shape == (4, 16, 32)


def test_unknown_input_name_and_symbol_are_usage_errors(tmp_path: Path) -> None:
    path = _encoder(tmp_path)
    with pytest.raises(UsageError, match=r"no input 'z' \(inputs: x\)"):
        load_model(path, inputs={"z": (1,)})
    with pytest.raises(UsageError, match=r"no input uses that symbol \(symbols: batch, seq\)"):
        load_model(path, dims={"sequence": 3})
    with pytest.raises(UsageError, match="rank 2 given, the model declares rank 3"):
        load_model(path, inputs={"x": (1, 64)})


def test_shape_subgraph_is_folded_when_inference_cannot_propagate(cost_of: Cost) -> None:
    """Shape -> Cast(float) -> Mul -> Cast(int64) -> Reshape: data propagation stops at the float
    casts; folding the shape subgraph on the static input shape resolves the Reshape."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["sf", "half"], ["hf"]),
        helper.make_node("Cast", ["hf"], ["h"], to=TensorProto.INT64),
        helper.make_node("Concat", ["h", "two"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("MatMul", ["r", "w"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
        weight("w", (2, 8)),
    ]
    proto = model(nodes, [value("x", [4])], [value("y", None)], inits)
    cost = cost_of(proto)
    assert not cost.unknown_ops
    matmul = next(n for n in cost.nodes if n.op_type == "MatMul")
    assert matmul.flops == 2 * 2 * 8 * 2  # r is (2, 2)
    assert cost.folded_nodes == 5  # the whole shape subgraph is folded away


def test_model_without_declared_input_shape_asks_for_one(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    proto = model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)], [value("y", None)])
    with pytest.raises(ShapeError, match=r"input 'x' has no declared shape: give it with --input x="):
        load_model(save(proto, tmp_path / "m.onnx"))


def test_a_reshape_frozen_at_a_traced_size_is_an_error(tmp_path: Path) -> None:
    """An exporter that baked seq=16 into a Reshape: binding seq=128 cannot run; say so."""
    target = numpy_helper.from_array(np.array([16, 4, 32], dtype=np.int64), "frozen")
    nodes = [
        helper.make_node("Reshape", ["x", "frozen"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    proto = model(nodes, [value("x", ["seq", 1, 128])], [value("y", None)], [target])
    path = save(proto, tmp_path / "frozen.onnx")
    from archlint.api import analyze

    assert analyze(path, dims={"seq": 16}).cost.nodes  # the traced size works
    with pytest.raises(ShapeError, match=r"cannot turn \(128, 1, 128\) into \(16, 4, 32\)"):
        analyze(path, inputs={"x": (128, 1, 128)})
