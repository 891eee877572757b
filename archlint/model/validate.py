"""Validate a model at the door: malformed structure becomes one clean error naming the node or
tensor, so that shape resolution, cost handlers and rules can trust what they read.

Checked here: stored tensors whose data does not match their dims and dtype (raw data of the
wrong length, an undefined dtype), attributes of the wrong type for a default-domain operator's
schema, and If conditions that are not a single value. What cannot run is refused; what merely
cannot be costed (an unknown operator) is not this module's business.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import onnx

from archlint.errors import ModelLoadError
from archlint.model.onnx_loader import iter_graphs, stored_bytes, stored_tensors
from archlint.model.proto_graph import DEFAULT_DOMAINS, op_schema


def validate(proto: onnx.ModelProto) -> None:
    """Raise ModelLoadError for the first malformed name, tensor, dimension or attribute.

    One walk over the graphs checks each node and value info for everything at once: names are
    read once, and the walk is a fair share of loading a large graph."""
    opset = next((o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS), 0)
    try:
        _texts("the model's producer or domain", proto.producer_name, proto.producer_version, proto.domain)
        for prop in proto.metadata_props:
            _texts("a metadata key", prop.key, prop.value)
        _texts("an opset domain", *(opset_id.domain for opset_id in proto.opset_import))
        for graph in iter_graphs(proto.graph):
            _check_graph(graph, opset)
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"the model holds a name that is not valid UTF-8 (byte {exc.start})") from None
    for tensor in stored_tensors(proto):
        _check_tensor(tensor)


def _check_graph(graph: onnx.GraphProto, opset: int) -> None:
    """Every string field the analysis reads (names, op types, domains, keys) must be text:
    protobuf hands invalid UTF-8 back as bytes, or raises, depending on the field."""
    _texts("a graph name", graph.name)
    for info in [*graph.input, *graph.output, *graph.value_info]:
        dims = info.type.tensor_type.shape.dim
        _texts("a tensor name", info.name, *(d.dim_param for d in dims))
        _check_declared_dims(info.name, dims)
    for tensor in graph.initializer:
        _texts("an initializer", tensor.name, *(e.key + e.value for e in tensor.external_data))
    for index, node in enumerate(graph.node):
        # Each field is read once: protobuf builds a new Python object on every read.
        op_type, domain = node.op_type, node.domain
        attributes = [(a.name, a.type) for a in node.attribute]
        _texts("a node", node.name, op_type, domain, *node.input, *node.output)
        _texts("an attribute name", *(name for name, _ in attributes))
        _texts("a node's metadata", *(p.key + p.value for p in node.metadata_props))
        if domain in DEFAULT_DOMAINS:
            _check_attributes(node, op_type, domain, attributes, index, opset)


def _texts(what: str, *values: object) -> None:
    for value in values:
        if not isinstance(value, str):
            raise ModelLoadError(f"{what} is not valid UTF-8 text: {value!r:.60}")


# No runtime indexes a dimension past int32 (and onnx's inference would try to allocate it).
MAX_DIM = 2**31 - 1


def _check_declared_dims(name: str, dims: Iterable[onnx.TensorShapeProto.Dimension]) -> None:
    for dim in dims:
        if dim.HasField("dim_value") and dim.dim_value > MAX_DIM:
            raise ModelLoadError(
                f"tensor {name!r} declares a dimension of {dim.dim_value}, beyond any runtime's reach"
            )


def _check_tensor(tensor: onnx.TensorProto) -> None:
    name = tensor.name or "(unnamed)"
    if tensor.data_type == onnx.TensorProto.UNDEFINED:
        raise ModelLoadError(f"tensor {name!r} has no element type (UNDEFINED)")
    if any(d < 0 or d > MAX_DIM for d in tensor.dims):
        raise ModelLoadError(f"tensor {name!r} has an impossible dimension: {list(tensor.dims)}")
    # Reading raw_data copies the bytes out of the message: test for it first, read it once.
    if tensor.data_location == onnx.TensorProto.EXTERNAL or not tensor.HasField("raw_data"):
        return
    length = len(tensor.raw_data)
    if not length:
        return
    expected = stored_bytes(tensor)
    if expected is None and tensor.data_type != onnx.TensorProto.STRING:
        raise ModelLoadError(f"tensor {name!r} has an unknown element type {tensor.data_type}")
    if expected is not None and length != expected:
        raise ModelLoadError(
            f"tensor {name!r}: {length} bytes of data for dims {list(tensor.dims)}, which need {expected}"
        )


class _Schema(NamedTuple):
    """What validation reads of an operator's schema, looked up once per operator and opset
    (reading a schema's attributes builds a new dict on every access)."""

    attribute_types: Mapping[str, Any]  # onnx's AttrType, equal to AttributeProto's type numbers
    required: tuple[str, ...]
    min_input: int


@functools.cache
def _schema(op_type: str, opset: int, domain: str) -> _Schema | None:
    schema = op_schema(op_type, opset, domain)
    if schema is None:  # no schema at this opset (or at all): the cost model says so later
        return None
    attributes = schema.attributes
    required = tuple(sorted(name for name, attr in attributes.items() if attr.required))
    return _Schema({name: attr.type for name, attr in attributes.items()}, required, schema.min_input)


def _check_attributes(
    node: onnx.NodeProto, op_type: str, domain: str, attributes: list[tuple[str, int]], index: int, opset: int
) -> None:
    """``attributes``: the node's (name, type) pairs."""
    schema = _schema(op_type, opset, domain)
    if schema is None:
        return
    label = node.name or f"{op_type}_{index}"
    present = {name for name, _ in attributes}
    missing = [name for name in schema.required if name not in present]
    if missing:
        raise ModelLoadError(f"node {label!r} ({op_type}): required attribute {missing[0]!r} is missing")
    # Only a node with no input at all is refused: exporters of old opsets leave out inputs the
    # schema calls required (Gemm-7's C) and runtimes accept them.
    if schema.min_input > 0 and not any(node.input):
        raise ModelLoadError(f"node {label!r} ({op_type}) has no input; it takes at least {schema.min_input}")
    for name, given_type in attributes:
        declared = schema.attribute_types.get(name)
        if declared is not None and given_type != declared:
            expected = onnx.AttributeProto.AttributeType.Name(declared).lower()
            given = onnx.AttributeProto.AttributeType.Name(given_type).lower()
            raise ModelLoadError(
                f"node {label!r} ({op_type}): attribute {name!r} is of type {given}, "
                f"the operator takes {expected}"
            )
