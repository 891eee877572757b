"""Bind the user's input shapes, symbols and values to a model's inputs.

``--input NAME=1x3x224x224`` replaces an input's shape; ``--dim SYMBOL=N`` binds a symbol wherever
it appears in the graph inputs; ``--value NAME=16000`` gives a (small, integer) input its value,
and so its shape; a still-symbolic *leading* dimension (the batch-like one) defaults to 1. Any
other unresolved input dimension is a ShapeError naming every symbol to bind.

Declared dimensions that are not positive (Paddle writes -1 for "any") are unknown, never
constraints. When binding changes any input's shape, the shapes an exporter declared for the
tensors downstream describe another binding: they are dropped, and inference derives them again
(``resolution``). Binding works on archlint's own copy of the proto, never on the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import helper

from archlint.errors import ShapeError, UsageError
from archlint.model.onnx_loader import iter_graphs
from archlint.model.proto_graph import set_shape

Array = np.ndarray[Any, Any]


def bind_inputs(
    proto: onnx.ModelProto,
    inputs: Mapping[str, tuple[int, ...]],
    dims: Mapping[str, int],
    values: Mapping[str, Any] | None = None,
) -> dict[str, Array]:
    """Make every runtime input of the main graph fully static, or raise ShapeError.

    Returns the given input values as arrays of the inputs' element types. When any input's
    shape changed, the exporter's declared shapes downstream are forgotten."""
    _forget_non_positive_dims(proto.graph)
    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    runtime = [i for i in graph.input if i.name not in initializers]
    names = {i.name for i in runtime}
    for flag, given in (("--input", inputs), ("--value", values or {})):
        for name in given:
            if name not in names:
                raise UsageError(
                    f"{flag} {name}: the model has no input {name!r} (inputs: {_listing(names)})"
                )
    symbols = {d.dim_param for i in runtime for d in _dims(i) if d.dim_param}
    for symbol in dims:
        if symbol not in symbols:
            raise UsageError(f"--dim {symbol}: no input uses that symbol (symbols: {_listing(symbols)})")
    given_values = values or {}
    arrays = {i.name: _value_array(i, given_values[i.name]) for i in runtime if i.name in given_values}
    before = [_declared(i) for i in runtime]
    unbound: list[str] = []
    for value_info in runtime:
        shape = arrays[value_info.name].shape if value_info.name in arrays else inputs.get(value_info.name)
        unbound += _bind_one(value_info, shape, dims)
    if unbound:
        raise ShapeError(f"unbound input dimensions: {'; '.join(unbound)}")
    if before != [_declared(i) for i in runtime]:
        forget_declared_shapes(graph)
    return arrays


def symbolic_inputs(proto: onnx.ModelProto) -> frozenset[str]:
    """Runtime inputs of the main graph whose shape the file leaves open: a symbolic or unknown
    dimension, or no shape at all. An engine reading the file cannot fold what is computed from
    their shapes; archlint can, once the user binds them."""
    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    return frozenset(
        info.name
        for info in graph.input
        if info.name not in initializers
        and info.type.HasField("tensor_type")
        and (
            not info.type.tensor_type.HasField("shape")
            or any(not (d.HasField("dim_value") and d.dim_value > 0) for d in _dims(info))
        )
    )


def _declared(value_info: onnx.ValueInfoProto) -> tuple[int | str, ...] | None:
    if not value_info.type.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else f"?{d.dim_param}" for d in _dims(value_info))


def _value_array(value_info: onnx.ValueInfoProto, value: Any) -> Array:
    elem_type = value_info.type.tensor_type.elem_type
    try:
        dtype = helper.tensor_dtype_to_np_dtype(elem_type)
        array = np.asarray(value).astype(dtype)
    except (KeyError, ValueError, TypeError, OverflowError):
        raise UsageError(
            f"--value {value_info.name}: {value!r} does not fit the input's element type"
        ) from None
    declared = _dims(value_info) if value_info.type.tensor_type.HasField("shape") else None
    if declared is not None and len(declared) != array.ndim:
        raise UsageError(
            f"--value {value_info.name}: rank {array.ndim} given, the model declares rank {len(declared)}"
        )
    return array


def _forget_non_positive_dims(graph: onnx.GraphProto) -> None:
    """-1 (or 0) declared on a tensor means "any size" to the exporters that write it."""
    for sub in iter_graphs(graph):
        for info in [*sub.input, *sub.output, *sub.value_info]:
            for dim in _dims(info):
                if dim.HasField("dim_value") and dim.dim_value <= 0:
                    dim.Clear()


def forget_declared_shapes(graph: onnx.GraphProto) -> None:
    """Drop every declared shape but the main graph's inputs (element types stay)."""
    for index, sub in enumerate(iter_graphs(graph)):
        del sub.value_info[:]
        infos = [*sub.output] if index == 0 else [*sub.output, *sub.input]
        for info in infos:
            if info.type.HasField("tensor_type"):
                info.type.tensor_type.ClearField("shape")


def _dims(value_info: onnx.ValueInfoProto) -> list[onnx.TensorShapeProto.Dimension]:
    tensor_type = value_info.type.tensor_type
    return list(tensor_type.shape.dim) if tensor_type.HasField("shape") else []


def _bind_one(
    value_info: onnx.ValueInfoProto, shape: tuple[int, ...] | None, dims: Mapping[str, int]
) -> list[str]:
    """Bind one input; returns what is left unbound, one phrase per dimension."""
    if not value_info.type.HasField("tensor_type"):
        return []  # sequences and maps: shape inference carries what it can
    tensor_shape = value_info.type.tensor_type.shape
    if shape is not None:
        current = _dims(value_info)
        if current and len(current) != len(shape):
            raise UsageError(
                f"--input {value_info.name}: rank {len(shape)} given, the model declares rank {len(current)}"
            )
        set_shape(value_info, shape)
        return []
    if not value_info.type.tensor_type.HasField("shape"):
        raise ShapeError(
            f"input {value_info.name!r} has no declared shape: "
            f"give it with --input {value_info.name}=DIMSxDIMS"
        )
    unbound = []
    for position, dim in enumerate(tensor_shape.dim):
        if dim.HasField("dim_value"):
            continue
        if dim.dim_param in dims:
            dim.dim_value = dims[dim.dim_param]
        elif position == 0:
            dim.dim_value = 1  # the batch-like leading dimension
        else:
            symbol = f"symbol {dim.dim_param!r}" if dim.dim_param else "an unnamed dimension"
            hint = f"--dim {dim.dim_param}=N or " if dim.dim_param else ""
            unbound.append(
                f"input {value_info.name!r} dimension {position} is {symbol}: "
                f"bind it with {hint}--input {value_info.name}=...x..."
            )
    return unbound


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"
