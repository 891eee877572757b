"""Shapes that one whole-graph inference left unknown, inferred operator by operator while the
values that decide them are being folded.

onnx's data propagation follows shape arithmetic through Shape, Gather, Concat, Unsqueeze and a
few more, but not through Div, Floor, Ceil or a Cast to float: an export that computes a patch
count as ``ceil(h / 2)`` (MobileViT's unfolding, window partitioning) breaks the chain, and every
operator behind the break is left without a shape. archlint folds the break's value, but the
Reshape it feeds, and everything after that Reshape, only get shapes from the next whole-graph
inference, whose first new Shape operator hits the next break: one inference per break, 11 on
MobileViT's opset-13 export. Inferring the operators behind a break one by one, with onnx's own
per-operator inference and the values folded so far, carries the fold through them in the same
pass, and the next whole-graph inference confirms what it found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint.model.proto_graph import DEFAULT_DOMAINS, NodeFacts, op_schema, set_static_type

Array = np.ndarray[Any, Any]
Shape = tuple[int, ...]


class NodeShapes:
    """Infers, on request, the outputs of one operator whose inputs all have static shapes, and
    adds them to ``shapes`` and ``types`` (the caller's, updated in place)."""

    def __init__(
        self,
        shapes: dict[str, Shape],
        types: dict[str, int],
        known: Mapping[str, Array],
        opset: int,
        opset_import: Sequence[onnx.OperatorSetIdProto],
        ir_version: int,
    ) -> None:
        self.shapes = shapes
        self.types = types
        self.known = known
        self.opset = opset  # the default domain's
        self.opset_import = list(opset_import)
        self.ir_version = ir_version
        self._data: dict[str, onnx.TensorProto] = {}

    def infer(self, fact: NodeFacts) -> None:
        if fact.domain not in DEFAULT_DOMAINS or fact.control_flow:
            return
        present = [name for name in fact.inputs if name]
        input_types = {}
        for name in present:
            type_proto = self._type(name)
            if type_proto is None:
                return
            input_types[name] = type_proto
        schema = op_schema(fact.op_type, self.opset)
        if schema is None:
            return
        data = {name: self._value(name) for name in present if name in self.known}
        try:
            outputs = onnx.shape_inference.infer_node_outputs(
                schema, fact.node, input_types, data, None, self.opset_import, self.ir_version
            )
        except Exception:  # inference refuses what the whole-graph pass will report, if anything
            return
        for name, type_proto in outputs.items():
            tensor = type_proto.tensor_type
            dims = tensor.shape.dim
            if name and tensor.HasField("shape") and all(d.HasField("dim_value") for d in dims):
                self.shapes[name] = tuple(d.dim_value for d in dims)
                self.types[name] = tensor.elem_type

    def _type(self, name: str) -> onnx.TypeProto | None:
        shape = self.shapes.get(name)
        elem_type = self.types.get(name)
        if shape is None or elem_type is None:
            value = self.known.get(name)
            if value is None:
                return None
            shape, elem_type = value.shape, helper.np_dtype_to_tensor_dtype(value.dtype)
        type_proto = onnx.TypeProto()
        set_static_type(type_proto, elem_type, shape)
        return type_proto

    def _value(self, name: str) -> onnx.TensorProto:
        if name not in self._data:
            self._data[name] = numpy_helper.from_array(np.asarray(self.known[name]), name)
        return self._data[name]
