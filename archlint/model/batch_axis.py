"""The batch axis: the leading dimension a model's inputs leave free, and the binding at another batch.

archlint takes the leading dimension of the inputs as the batch, as the binding does when it sets
a still-symbolic leading dimension to 1. The model takes other batches when every input whose
leading dimension the file leaves free (a symbol, an unnamed or a non-positive dimension) is bound
to the same size; an input whose leading dimension the file fixes (``1x3x224x224``) fixes the
batch. Inputs given by value (``--value``) are control, not data, and keep their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import onnx

from archlint.model.graph import Graph

Shape = tuple[int, ...]


class BatchAxis(NamedTuple):
    """The batch of the given binding, and how to bind the model at another batch.

    ``reason`` is None when the model takes other batches, else why it does not, in words."""

    batch: int
    reason: str | None
    inputs: Mapping[str, Shape] = MappingProxyType({})
    dims: Mapping[str, int] = MappingProxyType({})
    # Free-leading inputs: name -> (the leading symbol, or "" for an unnamed one; bound shape).
    free: Mapping[str, tuple[str, Shape]] = MappingProxyType({})

    def binding(self, batch: int) -> tuple[dict[str, Shape], dict[str, int]]:
        """``--input`` shapes and ``--dim`` values that bind the model at ``batch``."""
        inputs, dims = dict(self.inputs), dict(self.dims)
        for name, (symbol, shape) in self.free.items():
            if name in inputs:
                inputs[name] = (batch, *inputs[name][1:])
            elif symbol:
                dims[symbol] = batch  # every input that uses the symbol moves with it
            else:
                inputs[name] = (batch, *shape[1:])
        return inputs, dims


def batch_axis(
    proto: onnx.ModelProto,
    inputs: Mapping[str, Shape],
    dims: Mapping[str, int],
    values: Mapping[str, object],
    graph: Graph,
) -> BatchAxis:
    """The batch axis of ``proto`` (as stored) bound by ``inputs``/``dims``/``values`` to ``graph``."""
    initializers = {i.name for i in proto.graph.initializer}
    data = [i for i in proto.graph.input if i.name not in initializers and i.name not in values]
    shaped = [(i, shape) for i in data if (shape := _bound(graph, i.name))]
    if not shaped:
        return BatchAxis(1, "no input has a leading dimension: one run is one sample")
    fixed = next(((i, s) for i, s in shaped if not _free(i)), None)
    free = {i.name: (_symbol(i), s) for i, s in shaped if _free(i)}
    if fixed is not None:
        info, shape = fixed
        return BatchAxis(
            shape[0], f"the model fixes its batch (input {info.name!r} is declared {_text(info)})"
        )
    sizes = {name: shape[0] for name, (_, shape) in free.items()}
    if len(set(sizes.values())) > 1:
        bound = ", ".join(f"{name} {size}" for name, size in sizes.items())
        return BatchAxis(shaped[0][1][0], f"the inputs are bound to different leading sizes ({bound})")
    return BatchAxis(shaped[0][1][0], None, dict(inputs), dict(dims), free)


def _bound(graph: Graph, name: str) -> Shape | None:
    tensor = graph.tensor(name)
    shape = tensor.static_shape if tensor is not None else None
    return shape if shape else None  # rank 0 has no leading dimension


def _dims(info: onnx.ValueInfoProto) -> list[onnx.TensorShapeProto.Dimension]:
    tensor_type = info.type.tensor_type
    return list(tensor_type.shape.dim) if tensor_type.HasField("shape") else []


def _free(info: onnx.ValueInfoProto) -> bool:
    """Whether the file leaves the leading dimension free. An input with no declared shape
    fixes nothing, but nothing says its first dimension is a batch either: it counts as fixed."""
    dims = _dims(info)
    return bool(dims) and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0)


def _symbol(info: onnx.ValueInfoProto) -> str:
    first = _dims(info)[0]
    return first.dim_param if first.HasField("dim_param") else ""


def _text(info: onnx.ValueInfoProto) -> str:
    dims = _dims(info)
    if not dims:
        return "with no shape"
    return "x".join(str(d.dim_value) if d.HasField("dim_value") else d.dim_param or "?" for d in dims)
