"""Read an ONNX file safely and convert it, once shapes are resolved, into archlint's graph.

Weights stored as external data are never read here: only their dims and dtype are needed, so a
1 B-parameter model costs the size of its protobuf, not of its weights. A location that points
outside the model's folder is refused before anything else happens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from archlint.errors import ModelLoadError
from archlint.model import dtypes, prefetch
from archlint.model.graph import Dim, Graph, Model, Node, Tensor
from archlint.model.proto_graph import DEFAULT_DOMAINS, may_have_subgraph

# Constant tensors up to this many elements are decoded so that folding, trip counts and axes
# can be read; anything larger is a weight whose values the cost model never needs.
SMALL_VALUE_LIMIT = 4096


def read_proto(path: str | Path) -> onnx.ModelProto:
    """Parse ``path`` without touching external data, after checking where that data lives."""
    file = Path(path)
    if file.is_dir():
        raise ModelLoadError(f"{path}: a directory, not a model file (give the .onnx file in it)")
    if not file.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    read_ahead = prefetch.take(file)
    try:
        if read_ahead is not None:
            proto = onnx.load_model_from_string(read_ahead)
        else:
            proto = onnx.load(str(file), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, onnx raises its own types
        raise ModelLoadError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from exc
    if not proto.graph.node and not proto.graph.output:
        raise ModelLoadError(f"{path}: the file parsed, but holds no ONNX graph")
    check_external_data(proto, file.parent)
    return proto


def iter_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """``graph`` and every subgraph nested in its nodes' attributes, depth first."""
    yield graph
    for node in graph.node:
        if not may_have_subgraph(node.op_type, node.domain):
            continue
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from iter_graphs(sub)


def stored_tensors(proto: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every initializer and Constant value, in the main graph and in every subgraph."""
    yield from _graph_tensors(proto.graph)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    # One walk over each node's attributes finds both its tensors and its subgraphs.
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            kind = attr.type
            if kind == onnx.AttributeProto.TENSOR:
                yield attr.t
            elif kind == onnx.AttributeProto.GRAPH:
                yield from _graph_tensors(attr.g)
            elif kind == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _graph_tensors(sub)


def check_external_data(proto: onnx.ModelProto, base_dir: Path) -> None:
    """Refuse external-data locations that leave the model's folder or do not exist."""
    root = base_dir.resolve()
    for tensor in stored_tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        try:
            target = (root / location).resolve()
        except (ValueError, OSError):  # a NUL byte, a name too long for the file system
            raise ModelLoadError(
                f"tensor {tensor.name!r}: external data location {location!r} is no path"
            ) from None
        if not location or Path(location).is_absolute() or not target.is_relative_to(root):
            raise ModelLoadError(
                f"tensor {tensor.name!r}: external data location {location!r} is outside "
                f"the model's folder {str(root)!r}; refusing to read it"
            )
        if not target.is_file():
            raise ModelLoadError(f"tensor {tensor.name!r}: external data file {location!r} not found")
        _check_extent(tensor, location, target)


def _check_extent(tensor: onnx.TensorProto, location: str, target: Path) -> None:
    """The tensor's bytes lie inside its data file, and the file is not hard-linked elsewhere
    (onnx refuses hard-linked data files too: a link can point into another folder)."""
    stat = target.stat()
    if stat.st_nlink > 1:
        raise ModelLoadError(
            f"tensor {tensor.name!r}: external data file {location!r} has {stat.st_nlink} hard links; "
            "refusing to read it"
        )
    entries = {e.key: e.value for e in tensor.external_data}
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries.get("length", str(stat.st_size - offset)))
    except ValueError:
        raise ModelLoadError(
            f"tensor {tensor.name!r}: external data offset or length is not a number"
        ) from None
    if offset < 0 or length < 0 or offset + length > stat.st_size:
        raise ModelLoadError(
            f"tensor {tensor.name!r}: bytes {offset}..{offset + length} lie outside {location!r} "
            f"({stat.st_size} bytes)"
        )
    needed = stored_bytes(tensor)
    if needed is not None and length != needed:
        raise ModelLoadError(
            f"tensor {tensor.name!r}: {length} bytes of external data for dims {list(tensor.dims)}, "
            f"which need {needed}"
        )


def stored_bytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes a tensor's data takes (None for strings and types numpy cannot size)."""
    if tensor.data_type == onnx.TensorProto.STRING:
        return None
    try:
        itemsize = int(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize)
    except (KeyError, ValueError, TypeError):
        return None
    count = int(math.prod(tensor.dims))
    half_byte = (onnx.TensorProto.INT4, onnx.TensorProto.UINT4, onnx.TensorProto.FLOAT4E2M1)
    return (count + 1) // 2 if tensor.data_type in half_byte else count * itemsize


def opset_versions(proto: onnx.ModelProto) -> dict[str, int]:
    return {(o.domain or ""): o.version for o in proto.opset_import}


def to_model(
    proto: onnx.ModelProto,
    path: str | Path,
    values: Mapping[str, Any] | None = None,
    weights: Mapping[str, onnx.TensorProto] | None = None,
    untaken: Mapping[str, onnx.TensorProto] | None = None,
    symbolic_inputs: frozenset[str] = frozenset(),
    decided_ifs: tuple[str, ...] = (),
    declared: Mapping[str, Tensor] | None = None,
) -> Model:
    """Build archlint's graph from a proto whose shapes have already been inferred.

    ``values`` are main-graph values resolved beyond the stored constants (folded shapes, the
    user's input values); ``weights`` are the stored initializers that ``proto`` carries as
    data-less stubs (see ``resolution.skeleton``); ``symbolic_inputs`` are the inputs whose shape
    the file left open before the binding (``shapes.symbolic_inputs``); ``decided_ifs`` the Ifs
    resolution inlined; ``declared`` the main graph's ``declared_tensors``, when the caller has
    read them already."""
    graph = _convert_graph(proto.graph, {}, {}, values, weights, declared)
    metadata = {p.key: p.value for p in proto.metadata_props}
    untaken_weights = {
        name: (math.prod(t.dims), dtypes.from_onnx(t.data_type)) for name, t in (untaken or {}).items()
    }
    return Model(
        str(path),
        graph,
        opset_versions(proto),
        proto.producer_name,
        metadata,
        untaken_weights,
        symbolic_inputs,
        decided_ifs,
    )


def _tensor_from_type(name: str, type_proto: onnx.TypeProto) -> Tensor | None:
    if not type_proto.HasField("tensor_type"):
        return None
    tensor_type = type_proto.tensor_type
    shape: tuple[Dim, ...] | None = None
    if tensor_type.HasField("shape"):
        # A loop, not a generator over a helper: this runs for every tensor of every graph.
        dims: list[Dim] = []
        for dim in tensor_type.shape.dim:
            dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or "?"))
        shape = tuple(dims)
    return Tensor(name, dtypes.from_onnx(tensor_type.elem_type), shape)


def _tensor_from_proto(name: str, tensor: onnx.TensorProto) -> Tensor:
    return Tensor(name, dtypes.from_onnx(tensor.data_type), tuple(tensor.dims))


def is_small(tensor: onnx.TensorProto) -> bool:
    """Stored inline and at most SMALL_VALUE_LIMIT elements: a candidate for decoding."""
    count = math.prod(tensor.dims)
    return count <= SMALL_VALUE_LIMIT and tensor.data_location != onnx.TensorProto.EXTERNAL


def small_value(tensor: onnx.TensorProto) -> np.ndarray[Any, Any] | None:
    """The value of a small tensor stored inline, else None (weights are never decoded)."""
    if not is_small(tensor):
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # exotic dtypes numpy cannot hold: the value is simply not available
        return None


class LazyValues(Mapping[str, Any]):
    """Small constant values, decoded on first read: most are never read at all."""

    def __init__(self, outer: Mapping[str, Any] | None = None) -> None:
        self._outer = outer
        self._sources: dict[str, onnx.TensorProto | np.ndarray[Any, Any]] = {}

    def add(self, name: str, source: onnx.TensorProto | np.ndarray[Any, Any]) -> None:
        self._sources[name] = source

    def __getitem__(self, name: str) -> Any:
        source = self._sources.get(name)
        if source is None:
            if self._outer is None:
                raise KeyError(name)
            return self._outer[name]
        if isinstance(source, onnx.TensorProto):
            decoded = small_value(source)
            if decoded is None:
                raise KeyError(name)
            self._sources[name] = source = decoded
        return source

    def __iter__(self) -> Iterator[str]:
        yield from self._sources
        if self._outer is not None:
            yield from (k for k in self._outer if k not in self._sources)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _constant_node_value(node: onnx.NodeProto) -> tuple[Tensor | None, Any]:
    for attr in node.attribute:
        if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
            small = attr.t if is_small(attr.t) else None
            return _tensor_from_proto(node.output[0], attr.t), small
    for attr in node.attribute:  # value_float(s) / value_int(s): tiny scalars or lists
        value = np.array(onnx.helper.get_attribute_value(attr))
        if value.dtype.kind in "iuf":
            code = 7 if value.dtype.kind in "iu" else 1
            return Tensor(node.output[0], dtypes.from_onnx(code), value.shape), value
    return None, None


def _attributes(
    node: onnx.NodeProto, scope: Mapping[str, Tensor], small: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Graph]]:
    attrs: dict[str, Any] = {}
    subgraphs: dict[str, Graph] = {}
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            subgraphs[attr.name] = _convert_graph(attr.g, scope, small)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            for i, sub in enumerate(attr.graphs):
                subgraphs[f"{attr.name}[{i}]"] = _convert_graph(sub, scope, small)
        elif attr.type == onnx.AttributeProto.TENSOR:
            attrs[attr.name] = attr.t  # kept as proto: decoded only by the code that needs it
        else:
            value = onnx.helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            attrs[attr.name] = value
    return attrs, subgraphs


def _convert_graph(
    graph: onnx.GraphProto,
    outer: Mapping[str, Tensor],
    outer_small: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    weights: Mapping[str, onnx.TensorProto] | None = None,
    declared: Mapping[str, Tensor] | None = None,
) -> Graph:
    tensors: dict[str, Tensor] = dict(outer)
    small = LazyValues(outer_small)
    stored = {init.name: (weights or {}).get(init.name, init) for init in graph.initializer}
    tensors.update(declared_tensors(graph) if declared is None else declared)
    _initializer_tensors(graph, tensors, small)
    _constant_nodes(graph, tensors, small, stored)
    for name, resolved in (values or {}).items():
        small.add(name, resolved)
    nodes = tuple(_node(proto_node, index, tensors, small) for index, proto_node in enumerate(graph.node))
    initializers = frozenset(i.name for i in graph.initializer)
    return Graph(
        name=graph.name,
        nodes=nodes,
        inputs=tuple(i.name for i in graph.input if i.name not in initializers),
        outputs=tuple(o.name for o in graph.output),
        tensors=tensors,
        initializers=initializers,
        small_values=small,
        stored=stored,
    )


def declared_tensors(graph: onnx.GraphProto) -> dict[str, Tensor]:
    """The tensors ``graph`` declares or inference typed: its inputs, value infos and outputs
    (initializers aside), by name."""
    tensors: dict[str, Tensor] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor = _tensor_from_type(info.name, info.type)
        if tensor is not None:
            tensors[info.name] = tensor
    return tensors


def _initializer_tensors(graph: onnx.GraphProto, tensors: dict[str, Tensor], small: LazyValues) -> None:
    """The initializers' tensors (they override a value info of the same name), small ones
    decodable."""
    for init in graph.initializer:
        tensors[init.name] = _tensor_from_proto(init.name, init)
        if is_small(init):
            small.add(init.name, init)


def _constant_nodes(
    graph: onnx.GraphProto,
    tensors: dict[str, Tensor],
    small: LazyValues,
    stored: dict[str, onnx.TensorProto],
) -> None:
    """Constant nodes' outputs: their tensors, their values when small, their stored form."""
    for proto_node in graph.node:
        if proto_node.op_type != "Constant" or proto_node.domain not in DEFAULT_DOMAINS:
            continue
        tensor, value = _constant_node_value(proto_node)
        stored.update(
            (proto_node.output[0], a.t) for a in proto_node.attribute if a.name == "value" and a.t.dims
        )
        if tensor is not None:
            tensors.setdefault(tensor.name, tensor)
        if value is not None:
            small.add(proto_node.output[0], value)


def _node(proto_node: onnx.NodeProto, index: int, tensors: Mapping[str, Tensor], small: LazyValues) -> Node:
    attrs, subgraphs = _attributes(proto_node, tensors, small)
    return Node(
        name=proto_node.name or f"{proto_node.op_type}_{index}",
        op_type=proto_node.op_type,
        domain="" if proto_node.domain == "ai.onnx" else proto_node.domain,
        inputs=tuple(proto_node.input),
        outputs=tuple(proto_node.output),
        attrs=attrs,
        subgraphs=subgraphs,
        metadata={p.key: p.value for p in proto_node.metadata_props},
    )
