"""Resolve every tensor shape: bind the user's input shapes and symbols, then infer.

Order of resolution:
1. ``--input NAME=1x3x224x224`` replaces an input's shape; ``--dim SYMBOL=N`` binds a symbol
   wherever it appears in the graph inputs; a still-symbolic *leading* dimension (the batch-like
   one) defaults to 1. Any other unresolved input dimension is a ShapeError naming what to bind.
2. ONNX shape inference with data propagation (C++; handles Shape->Gather->Concat->Reshape).
3. Fallback: shape subgraphs are folded on constants (Shape of a fully known tensor, then every
   small node whose inputs are all known values, evaluated with onnx's reference kernels), the
   folded values are given to shape inference as initializers, and inference runs again.

The caller's proto is modified in memory only: archlint never writes a model it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx

from archlint.errors import ShapeError, UsageError
from archlint.onnx_loader import SMALL_VALUE_LIMIT, iter_graphs, small_value

_MAX_FOLD_ROUNDS = 4


def bind_inputs(
    proto: onnx.ModelProto,
    inputs: Mapping[str, tuple[int, ...]],
    dims: Mapping[str, int],
) -> None:
    """Make every runtime input of the main graph fully static, or raise ShapeError."""
    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    runtime = [i for i in graph.input if i.name not in initializers]
    names = {i.name for i in runtime}
    for name in inputs:
        if name not in names:
            raise UsageError(f"--input {name}: the model has no input {name!r} (inputs: {_listing(names)})")
    symbols = {d.dim_param for i in runtime for d in _dims(i) if d.dim_param}
    for symbol in dims:
        if symbol not in symbols:
            raise UsageError(f"--dim {symbol}: no input uses that symbol (symbols: {_listing(symbols)})")
    for value_info in runtime:
        _bind_one(value_info, inputs.get(value_info.name), dims)


def _dims(value_info: onnx.ValueInfoProto) -> list[onnx.TensorShapeProto.Dimension]:
    tensor_type = value_info.type.tensor_type
    return list(tensor_type.shape.dim) if tensor_type.HasField("shape") else []


def _bind_one(
    value_info: onnx.ValueInfoProto, shape: tuple[int, ...] | None, dims: Mapping[str, int]
) -> None:
    if not value_info.type.HasField("tensor_type"):
        return  # sequences and maps: shape inference carries what it can
    tensor_shape = value_info.type.tensor_type.shape
    if shape is not None:
        current = _dims(value_info)
        if current and len(current) != len(shape):
            raise UsageError(
                f"--input {value_info.name}: rank {len(shape)} given, the model declares rank {len(current)}"
            )
        tensor_shape.ClearField("dim")
        for d in shape:
            tensor_shape.dim.add().dim_value = d
        return
    if not value_info.type.tensor_type.HasField("shape"):
        raise ShapeError(
            f"input {value_info.name!r} has no declared shape: "
            f"give it with --input {value_info.name}=DIMSxDIMS"
        )
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
            raise ShapeError(
                f"input {value_info.name!r} dimension {position} is {symbol}: "
                f"bind it with {hint}--input {value_info.name}=...x..."
            )


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def infer(proto: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference with data propagation."""
    return _run_inference(proto)


def fold_and_infer(inferred: onnx.ModelProto) -> onnx.ModelProto:
    """The fallback: fold shape subgraphs on constants and infer again, until nothing changes."""
    for _ in range(_MAX_FOLD_ROUNDS):
        if not _has_unknown_shapes(inferred.graph):
            break
        folded = fold_shape_values(inferred.graph)
        if not folded:
            break
        retry = _run_inference(_with_values(inferred, folded))
        before = _known_count(inferred.graph)
        # The folded tensors are initializers in ``retry``: their shapes come from their values.
        retry.graph.value_info.extend(_value_infos(folded))
        _copy_value_info(source=retry.graph, target=inferred.graph)
        if _known_count(inferred.graph) == before:
            break
    return inferred


def _run_inference(proto: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # an inconsistent model: say which check failed, in one line
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ShapeError(f"shape inference failed: {message}") from exc


def _static(value_info: onnx.ValueInfoProto) -> bool:
    tensor_type = value_info.type.tensor_type
    return tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in tensor_type.shape.dim)


def _known_infos(graph: onnx.GraphProto) -> dict[str, onnx.ValueInfoProto]:
    return {v.name: v for v in [*graph.input, *graph.value_info, *graph.output] if _static(v)}


def _known_count(graph: onnx.GraphProto) -> int:
    return sum(len(_known_infos(g)) for g in iter_graphs(graph))


def _has_unknown_shapes(graph: onnx.GraphProto) -> bool:
    """Whether a tensor something reads (a node or the graph's outputs) has no static shape."""
    known = set(_known_infos(graph)) | {i.name for i in graph.initializer}
    produced = {out for node in graph.node for out in node.output if out}
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    return any(name not in known for name in produced & read)


def fold_shape_values(graph: onnx.GraphProto) -> dict[str, np.ndarray[Any, Any]]:
    """Values of small tensors computable from constants and static shapes (main graph only)."""
    from onnx.reference import ReferenceEvaluator  # heavy import: only when folding is needed

    known = _known_infos(graph)
    values: dict[str, np.ndarray[Any, Any]] = {}
    for init in graph.initializer:
        value = small_value(init)
        if value is not None:
            values[init.name] = value
    for node in graph.node:
        if node.op_type == "Shape" and not node.domain and node.input[0] in known:
            dims = [d.dim_value for d in known[node.input[0]].type.tensor_type.shape.dim]
            values[node.output[0]] = _apply_shape_slice(node, np.array(dims, dtype=np.int64))
        elif node.op_type == "Size" and not node.domain and node.input[0] in known:
            dims = [d.dim_value for d in known[node.input[0]].type.tensor_type.shape.dim]
            values[node.output[0]] = np.array(int(np.prod(dims)), dtype=np.int64)
        elif _foldable(node, values) and _small_outputs(node, known):
            outputs = _evaluate(ReferenceEvaluator, node, values)
            values.update(outputs)
    initial = {i.name for i in graph.initializer}
    return {k: v for k, v in values.items() if k not in initial}


def _apply_shape_slice(node: onnx.NodeProto, dims: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    attrs = {a.name: a.i for a in node.attribute}
    start, end = attrs.get("start", 0), attrs.get("end", len(dims))
    return dims[start:end]


def _foldable(node: onnx.NodeProto, values: Mapping[str, Any]) -> bool:
    if node.domain not in ("", "ai.onnx") or any(a.type in (5, 10) for a in node.attribute):
        return False  # custom kernels and control flow are never evaluated
    present = [name for name in node.input if name]
    if node.op_type.startswith("Random") or not present:
        return node.op_type == "Constant"
    return all(name in values and values[name].size <= SMALL_VALUE_LIMIT for name in present)


# Operators whose output can be far larger than their inputs: evaluated only when shape
# inference already says the output is small (a ConstantOfShape that builds a weight is not).
_EXPANDING = frozenset(
    {"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot", "EyeLike"}
)


def _small_outputs(node: onnx.NodeProto, known: Mapping[str, onnx.ValueInfoProto]) -> bool:
    for name in node.output:
        if name in known:
            dims = [d.dim_value for d in known[name].type.tensor_type.shape.dim]
            if int(np.prod(dims)) > SMALL_VALUE_LIMIT:
                return False
        elif node.op_type in _EXPANDING:
            return False
    return True


def _evaluate(evaluator: Any, node: onnx.NodeProto, values: Mapping[str, Any]) -> dict[str, Any]:
    try:
        results = evaluator(node).run(None, {n: values[n] for n in node.input if n})
    except Exception:  # a kernel the reference runtime lacks: leave the value unknown
        return {}
    return {
        name: np.asarray(result)
        for name, result in zip(node.output, results, strict=False)
        if name and np.asarray(result).size <= SMALL_VALUE_LIMIT
    }


def _with_values(proto: onnx.ModelProto, values: Mapping[str, Any]) -> onnx.ModelProto:
    """A copy of ``proto`` where each folded tensor is an initializer instead of a node output."""
    from onnx import numpy_helper

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    graph = copy.graph
    kept = [n for n in graph.node if not (n.output and all(o in values for o in n.output if o))]
    del graph.node[:]
    graph.node.extend(kept)
    for name, value in values.items():
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return copy


def _value_infos(values: Mapping[str, np.ndarray[Any, Any]]) -> list[onnx.ValueInfoProto]:
    from onnx import helper

    return [
        helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
        for name, value in values.items()
    ]


def _copy_value_info(source: onnx.GraphProto, target: onnx.GraphProto) -> None:
    known = _known_infos(target)
    fresh = [v for v in _known_infos(source).values() if v.name not in known]
    outputs = {o.name: o for o in target.output}
    for info in fresh:
        if info.name in outputs:
            outputs[info.name].CopyFrom(info)
        else:
            target.value_info.append(info)
