"""Evaluate the small integer sub-graphs exporters emit to compute shapes, in numpy.

``Shape -> Gather -> Unsqueeze -> Concat -> Reshape`` and its relatives (Cast, arithmetic,
comparisons, Where, Range, ConstantOfShape, Expand, ...) decide Reshape targets, Loop trip counts
and If conditions. Each evaluator is a small pure function of its input arrays and attributes;
the float and quantization ones are in ``values_math``. An operator without one, or an input
combination its evaluator leaves to the reference (``ReferenceOnlyError``), falls back to onnx's
reference kernels, whose import alone costs a process tens of milliseconds. A value that cannot
be computed is simply not known: evaluators return None instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from archlint.model import values_math
from archlint.model.values_math import Array, Evaluator, Inputs, ReferenceOnlyError, axis_index


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _unary(fn: Callable[[Array], Array]) -> Evaluator:
    def evaluate(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
        return [np.asarray(fn(xs[0]))] if xs[0] is not None else None

    return evaluate


def _binary(fn: Callable[[Array, Array], Array]) -> Evaluator:
    def evaluate(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
        a, b = xs[0], xs[1]
        if a is None or b is None:
            return None
        return [np.asarray(fn(a, b))]

    return evaluate


def _same_type(fn: Callable[[Array, Array], Array]) -> Evaluator:
    """Arithmetic that keeps the input's element type (numpy would widen int32 * int64)."""

    def keep(a: Array, b: Array) -> Array:
        return np.asarray(fn(a, b)).astype(a.dtype)

    return _binary(keep)


def _divide(a: Array, b: Array) -> Array:
    if a.dtype.kind in "iu":  # integer division truncates toward zero, as C and onnxruntime do
        return np.asarray(np.trunc(np.true_divide(a, np.where(b == 0, 1, b)))).astype(a.dtype)
    return np.asarray(a / b)


def _variadic(fn: Callable[[Array, Array], Array]) -> Evaluator:
    def evaluate(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
        if not xs or any(x is None for x in xs):
            return None
        result = xs[0]
        for x in xs[1:]:
            result = fn(result, x)  # type: ignore[arg-type]
        return [np.asarray(result).astype(xs[0].dtype)]  # type: ignore[union-attr]

    return evaluate


def _axes(xs: Inputs, attrs: Mapping[str, Any], slot: int) -> list[int] | None:
    """Axes from an attribute (older opsets) or from input ``slot`` (newer ones)."""
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(xs) > slot and xs[slot] is not None:
        return [int(a) for a in np.asarray(xs[slot]).reshape(-1)]
    return None


def _gather(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, indices = xs[0], xs[1]
    if data is None or indices is None or data.ndim == 0:
        return None
    axis = int(attrs.get("axis", 0))
    size = data.shape[axis]
    if np.any(indices >= size) or np.any(indices < -size):
        return None
    return [np.take(data, indices.astype(np.int64), axis=axis)]


def _slice_range(start: int, end: int, step: int, size: int) -> Array:
    start, end = start + size if start < 0 else start, end + size if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), size), min(max(end, 0), size)
    else:
        start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
    return np.arange(start, end, step)


def _slice(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data = xs[0]
    if data is None or data.ndim == 0:
        return None
    if opset < 10:
        starts, ends = list(attrs.get("starts", [])), list(attrs.get("ends", []))
        axes, steps = list(attrs.get("axes", range(len(starts)))), [1] * len(starts)
    else:
        if xs[1] is None or xs[2] is None:
            return None
        starts, ends = [int(v) for v in xs[1].reshape(-1)], [int(v) for v in xs[2].reshape(-1)]
        axes = _axes(xs, {}, 3) or list(range(len(starts)))
        steps = (
            [int(v) for v in xs[4].reshape(-1)] if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
        )
    result = data
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=False):
        if step == 0:
            return None
        result = np.take(result, _slice_range(start, end, step, result.shape[axis]), axis=axis)
    return [result]


def _concat(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if any(x is None for x in xs):
        return None
    parts = [np.atleast_1d(x) for x in xs if x is not None]
    return [np.concatenate(parts, axis=int(attrs.get("axis", 0)))]


def _unsqueeze(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    axes = _axes(xs, attrs, 1)
    if xs[0] is None or axes is None:
        return None
    rank = xs[0].ndim + len(axes)
    return [np.expand_dims(xs[0], tuple(sorted(a % rank for a in axes)))]


def _squeeze(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if xs[0] is None:
        return None
    axes = _axes(xs, attrs, 1)
    if axes is None:
        return [np.squeeze(xs[0])]
    return [np.squeeze(xs[0], axis=tuple(a % xs[0].ndim for a in axes))]


def _cast(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if xs[0] is None:
        return None
    try:
        target = helper.tensor_dtype_to_np_dtype(int(attrs["to"]))
    except (KeyError, ValueError):
        return None
    return [xs[0].astype(target)] if target.kind in "biuf" else None


def _reshape(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, shape = xs[0], xs[1] if len(xs) > 1 else None
    if data is None or shape is None:
        return None
    target = [int(d) for d in shape.reshape(-1)]
    if not attrs.get("allowzero", 0):
        target = [data.shape[i] if d == 0 and i < data.ndim else d for i, d in enumerate(target)]
    try:
        return [data.reshape(target)]
    except ValueError:
        return None


def _expand(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, shape = xs[0], xs[1]
    if data is None or shape is None:
        return None
    try:
        return [data * np.ones([int(d) for d in shape.reshape(-1)], dtype=data.dtype)]
    except ValueError:
        return None


def _range(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if any(x is None for x in xs[:3]):
        return None
    start, limit, delta = (np.asarray(x).reshape(()).item() for x in xs[:3])
    if delta == 0:
        return None
    return [np.arange(start, limit, delta).astype(np.asarray(xs[0]).dtype)]


def _constant_of_shape(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if xs[0] is None:
        return None
    fill = attrs.get("value")
    element = numpy_helper.to_array(fill).reshape(-1)[0] if fill is not None else np.float32(0)
    return [np.full([int(d) for d in xs[0].reshape(-1)], element, dtype=np.asarray(element).dtype)]


def _where(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    condition, a, b = xs[0], xs[1], xs[2]
    if condition is None or a is None or b is None:
        return None
    return [np.asarray(np.where(condition, a, b))]


def _reduce(fn: Callable[..., Array]) -> Evaluator:
    def evaluate(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
        if xs[0] is None:
            return None
        axes = _axes(xs, attrs, 1)
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return [xs[0]]
        keep = bool(attrs.get("keepdims", 1))
        axis = tuple(a % max(xs[0].ndim, 1) for a in axes) if axes else None
        return [np.asarray(fn(xs[0], axis=axis, keepdims=keep)).astype(xs[0].dtype)]

    return evaluate


def _transpose(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    return [np.transpose(xs[0], attrs.get("perm"))] if xs[0] is not None else None


def _tile(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if xs[0] is None or xs[1] is None:
        return None
    return [np.tile(xs[0], [int(r) for r in xs[1].reshape(-1)])]


def _identity(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    return [xs[0]] if xs and xs[0] is not None else None


def _clip(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if xs[0] is None:
        return None
    low = xs[1] if len(xs) > 1 and xs[1] is not None else attrs.get("min")
    high = xs[2] if len(xs) > 2 and xs[2] is not None else attrs.get("max")
    return [np.clip(xs[0], low, high).astype(xs[0].dtype)]


def _mod(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    a, b = xs[0], xs[1]
    if a is None or b is None or np.any(b == 0):
        return None
    fn = np.fmod if attrs.get("fmod", 0) else np.mod
    return [np.asarray(fn(a, b)).astype(a.dtype)]


def _gather_elements(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, indices = xs[0], xs[1]
    if data is None or indices is None or data.ndim == 0 or indices.ndim != data.ndim:
        return None
    axis = axis_index(int(attrs.get("axis", 0)), data.ndim)
    if any(i != d for k, (i, d) in enumerate(zip(indices.shape, data.shape, strict=True)) if k != axis):
        raise ReferenceOnlyError  # indices narrower than the data off the axis
    index = _in_range(indices, data.shape[axis])
    return None if index is None else [np.take_along_axis(data, index, axis=axis)]


def _in_range(indices: Array, size: int) -> Array | None:
    """Indices with negative ones counted from the end, or None where one is out of range."""
    if np.any(indices >= size) or np.any(indices < -size):
        return None
    return np.asarray(np.where(indices < 0, indices + size, indices), dtype=np.intp)


def _gather_nd(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, indices = xs[0], xs[1]
    if data is None or indices is None or indices.ndim == 0:
        return None
    batch = int(attrs.get("batch_dims", 0))
    depth = indices.shape[-1]
    if depth == 0 or batch + depth > data.ndim or indices.shape[:batch] != data.shape[:batch]:
        raise ReferenceOnlyError
    batches = int(np.prod(data.shape[:batch], dtype=np.int64))
    rows = indices.reshape(batches, -1, depth)
    coordinates = [_in_range(rows[..., k], data.shape[batch + k]) for k in range(depth)]
    if any(c is None for c in coordinates):
        return None
    flat = data.reshape((batches, *data.shape[batch:]))
    gathered = flat[(np.arange(batches)[:, None], *coordinates)]
    return [gathered.reshape(indices.shape[:-1] + data.shape[batch + depth :])]


_SCATTER_REDUCTIONS: dict[str, Any] = {
    "add": np.add,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


def _scatter_nd(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    data, indices, updates = xs[0], xs[1], xs[2]
    if data is None or indices is None or updates is None or indices.ndim == 0:
        return None
    depth = indices.shape[-1]
    if depth == 0:
        raise ReferenceOnlyError
    if updates.shape != indices.shape[:-1] + data.shape[depth:] or updates.dtype != data.dtype:
        return None
    rows = indices.reshape(-1, depth)
    coordinates = [_in_range(rows[:, k], data.shape[k]) for k in range(depth)]
    if any(c is None for c in coordinates):
        return None
    target = tuple(c for c in coordinates if c is not None)
    output, flat_updates = data.copy(), updates.reshape((-1, *data.shape[depth:]))
    reduction = attrs.get("reduction", b"none")
    reduction = reduction.decode() if isinstance(reduction, bytes) else str(reduction)
    if reduction == "none":
        if len({tuple(r) for r in np.stack(target, axis=1).tolist()}) != len(rows):
            # The spec leaves repeated indices undefined; the reference kernel keeps the last.
            raise ReferenceOnlyError
        output[target] = flat_updates
    else:
        # ufunc.at applies repeated indices one after another, as the spec's loop does.
        _SCATTER_REDUCTIONS[reduction].at(output, target, flat_updates)
    return [output]


def _flatten(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x = xs[0]
    if x is None:
        return None
    axis = int(attrs.get("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        return None
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    return [x.reshape(outer, int(np.prod(x.shape[axis:], dtype=np.int64)))]


def _nonzero(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    return [np.asarray(np.nonzero(xs[0]), dtype=np.int64)] if xs[0] is not None else None


EVALUATORS: dict[str, Evaluator] = {
    "Identity": _identity,
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Cast": _cast,
    "Reshape": _reshape,
    "Expand": _expand,
    "Range": _range,
    "ConstantOfShape": _constant_of_shape,
    "Where": _where,
    "Transpose": _transpose,
    "Tile": _tile,
    "Clip": _clip,
    "Mod": _mod,
    "NonZero": _nonzero,
    "GatherElements": _gather_elements,
    "GatherND": _gather_nd,
    "ScatterND": _scatter_nd,
    "Flatten": _flatten,
    "Add": _same_type(np.add),
    "Sub": _same_type(np.subtract),
    "Mul": _same_type(np.multiply),
    "Div": _binary(_divide),
    "Pow": _same_type(np.power),
    "Equal": _binary(np.equal),
    "Greater": _binary(np.greater),
    "Less": _binary(np.less),
    "GreaterOrEqual": _binary(np.greater_equal),
    "LessOrEqual": _binary(np.less_equal),
    "And": _binary(np.logical_and),
    "Or": _binary(np.logical_or),
    "Xor": _binary(np.logical_xor),
    "Not": _unary(np.logical_not),
    "Neg": _unary(np.negative),
    "Abs": _unary(np.abs),
    "Sign": _unary(np.sign),
    "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil),
    "Sqrt": _unary(np.sqrt),
    "Reciprocal": _unary(np.reciprocal),
    "Min": _variadic(np.minimum),
    "Max": _variadic(np.maximum),
    "Sum": _variadic(np.add),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMin": _reduce(np.min),
    "ReduceMax": _reduce(np.max),
    "ReduceMean": _reduce(np.mean),
    **values_math.EVALUATORS,
}


def evaluate(node: onnx.NodeProto, inputs: Inputs, opset: int) -> list[Array] | None:
    """The node's output values from its input values, or None where they cannot be computed."""
    evaluator = EVALUATORS.get(node.op_type)
    attrs = _attrs(node)
    with np.errstate(all="ignore"):
        if evaluator is not None:
            try:
                return evaluator(inputs, attrs, opset)
            except ReferenceOnlyError:
                pass
            except (ValueError, IndexError, TypeError, OverflowError, np.exceptions.AxisError):
                return None
        return _reference(node, inputs)


def _reference(node: onnx.NodeProto, inputs: Inputs) -> list[Array] | None:
    """onnx's reference kernel for an operator with no evaluator of its own."""
    if any(x is None for name, x in zip(node.input, inputs, strict=False) if name):
        return None
    from onnx.reference import ReferenceEvaluator  # heavy: only for the rare operator it covers

    try:
        feeds = {name: x for name, x in zip(node.input, inputs, strict=False) if name}
        results = ReferenceEvaluator(node).run(None, feeds)
    except Exception:  # a kernel the reference runtime lacks or rejects: the value stays unknown
        return None
    return [np.asarray(r) for r in results]
