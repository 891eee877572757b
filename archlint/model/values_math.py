"""numpy evaluators of the float, quantization and resampling operators exporters fold.

Positional encodings (Sin, Cos, MatMul, Einsum), relative-position buckets (Log), masks resized
to a feature map (Resize), and a quantized model's constant weights (QuantizeLinear,
DequantizeLinear) are computed from constants. Each evaluator follows the ONNX operator spec
with the same numpy arithmetic as onnx's reference kernels, so a folded value does not depend
on which of the two computed it. A combination an evaluator does not cover exactly (an element
type numpy lacks, a sub-byte or float8 quantized type, linear or cubic resampling) raises
``ReferenceOnlyError`` and is left to onnx's reference kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from onnx import helper

Array = np.ndarray[Any, Any]
Inputs = Sequence[Array | None]
Evaluator = Callable[[Inputs, Mapping[str, Any], int], list[Array] | None]


class ReferenceOnlyError(Exception):
    """Raised by an evaluator for an input combination only the reference kernel computes."""


def optional(xs: Inputs, slot: int) -> Array | None:
    """Input ``slot``, or None where the node leaves that optional input out."""
    return xs[slot] if len(xs) > slot else None


def axis_index(axis: int, rank: int) -> int:
    """A possibly negative axis as an index; ValueError (the value stays unknown) outside the rank."""
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} of a rank-{rank} tensor")
    return axis % rank


def _floats(*arrays: Array) -> None:
    """Reference-only unless every array has one native numpy float type (not bfloat16)."""
    if any(a.dtype.kind != "f" or a.dtype != arrays[0].dtype for a in arrays):
        raise ReferenceOnlyError


def _float_unary(fn: Callable[[Array], Array]) -> Evaluator:
    def evaluate(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
        if xs[0] is None:
            return None
        _floats(xs[0])
        return [np.asarray(fn(xs[0]))]

    return evaluate


def _matmul(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    a, b = xs[0], xs[1]
    if a is None or b is None:
        return None
    if a.dtype != b.dtype or a.dtype.kind not in "iuf":
        raise ReferenceOnlyError
    # np.dot for matrices, as the reference kernel does: the two may round differently.
    product = np.dot(a, b) if a.ndim <= 2 and b.ndim <= 2 else np.matmul(a, b)
    return [np.asarray(product, dtype=a.dtype)]  # int64 stays int64, float32 stays float32


def _einsum(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    if not xs or any(x is None for x in xs):
        return None
    operands = [x for x in xs if x is not None]
    if any(x.dtype != operands[0].dtype or x.dtype.kind not in "iuf" for x in operands):
        raise ReferenceOnlyError
    equation = attrs["equation"]
    equation = equation.decode() if isinstance(equation, bytes) else str(equation)
    return [np.asarray(np.einsum(equation.strip(), *operands, optimize=True), dtype=operands[0].dtype)]


def _cumsum(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x, axis_value = xs[0], xs[1]
    if x is None or axis_value is None or axis_value.size != 1 or x.ndim == 0:
        return None
    axis = axis_index(int(axis_value.reshape(-1)[0]), x.ndim)
    if attrs.get("reverse", 0):
        x = np.flip(x, axis)
    if attrs.get("exclusive", 0):
        # Each element is the sum of those before it: a zero, then the running sum shifted by one.
        result = np.zeros_like(x)
        head = np.take(x, np.arange(x.shape[axis] - 1), axis=axis)
        tail = [slice(None)] * x.ndim
        tail[axis] = slice(1, None)
        result[tuple(tail)] = np.cumsum(head, axis=axis, dtype=x.dtype)
    else:
        result = np.cumsum(x, axis=axis, dtype=x.dtype)
    return [np.flip(result, axis) if attrs.get("reverse", 0) else result]


def _softmax(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x = xs[0]
    if x is None or x.ndim == 0:
        return None
    _floats(x)
    if x.size == 0:
        return [x]
    if opset >= 13:
        return [_softmax_along(x, axis_index(int(attrs.get("axis", -1)), x.ndim))]
    # Before opset 13 the input is coerced to 2-D at the axis and normalised over each row.
    axis = int(attrs.get("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        return None
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return [_softmax_along(x.reshape(rows, -1), 1).reshape(x.shape)]


def _softmax_along(x: Array, axis: int) -> Array:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return np.asarray(shifted.astype(x.dtype))


def _layer_normalization(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x, scale, bias = xs[0], xs[1], optional(xs, 2)
    if x is None or scale is None or x.ndim == 0:
        return None
    # stash_type 1 computes in float32: exactly the input's own arithmetic for float32 only.
    if x.dtype != np.float32 or int(attrs.get("stash_type", 1)) != 1:
        raise ReferenceOnlyError
    _floats(x, scale, *([] if bias is None else [bias]))
    axis = axis_index(int(attrs.get("axis", -1)), x.ndim)
    epsilon = float(attrs.get("epsilon", 1e-5))
    rows, columns = int(np.prod(x.shape[:axis], dtype=np.int64)), int(np.prod(x.shape[axis:], dtype=np.int64))
    matrix = x.reshape(rows, columns)
    mean = np.sum(matrix, axis=1, keepdims=True) / columns
    centred = matrix - mean
    variance = np.sum(centred * centred, axis=1, keepdims=True) / columns
    inv_std_dev = np.reciprocal(np.sqrt(variance + epsilon))
    y = (centred * inv_std_dev).reshape(x.shape) * scale
    if bias is not None:
        y = y + bias
    reduced = x.shape[:axis] + (1,) * (x.ndim - axis)
    return [
        y.astype(x.dtype),
        mean.reshape(reduced).astype(x.dtype),
        inv_std_dev.reshape(reduced).astype(x.dtype),
    ]


_INTEGER_RANGES: dict[Any, tuple[int, int]] = {
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint16): (0, 65535),
    np.dtype(np.int16): (-32768, 32767),
}


def _per_axis(value: Array, shape: tuple[int, ...], axis: int, block_size: int) -> Array:
    """A scale or zero point shaped to broadcast against the tensor: one value, one per slice
    along ``axis``, or (``block_size`` > 0) one per block of that many slices."""
    if value.ndim == 0:
        return value
    if value.size == 1:
        return np.asarray(value.reshape(-1)[0])
    if block_size <= 0:
        if value.ndim != 1:
            raise ValueError("a per-axis scale is a vector")
        dims = [1] * len(shape)
        dims[axis] = value.size
        return value.reshape(dims)
    blocked = np.repeat(value, block_size, axis=axis)
    blocked = np.take(blocked, np.arange(shape[axis]), axis=axis)
    if blocked.shape != shape:
        raise ValueError("a blocked scale has the tensor's shape but along the axis")
    return blocked


def _quantize_linear(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x, scale, zero_point = xs[0], xs[1], optional(xs, 2)
    if x is None or scale is None:
        return None
    if zero_point is not None:
        target = zero_point.dtype
    else:
        output_dtype = int(attrs.get("output_dtype", 0))
        target = np.dtype(np.uint8) if not output_dtype else helper.tensor_dtype_to_np_dtype(output_dtype)
    if target not in _INTEGER_RANGES or attrs.get("precision"):
        raise ReferenceOnlyError  # sub-byte and float8 outputs, or division at another precision
    _floats(x, scale)
    axis, block_size = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
    quotient = x / _per_axis(scale, x.shape, axis, block_size)
    if np.isnan(quotient).any():
        raise ReferenceOnlyError
    # Round half to even, add the zero point, saturate to the output type's range.
    shifted = np.rint(quotient).astype(np.float64)
    if zero_point is not None:
        shifted = shifted + _per_axis(zero_point, x.shape, axis, block_size)
    low, high = _INTEGER_RANGES[target]
    return [np.clip(shifted, low, high).astype(target)]


def _dequantize_linear(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    x, scale, zero_point = xs[0], xs[1], optional(xs, 2)
    if x is None or scale is None:
        return None
    output_dtype = int(attrs.get("output_dtype", 0))
    target = helper.tensor_dtype_to_np_dtype(output_dtype) if output_dtype else scale.dtype
    if x.dtype not in (*_INTEGER_RANGES, np.dtype(np.int32)) or scale.dtype.kind != "f" or target.kind != "f":
        raise ReferenceOnlyError  # sub-byte and float8 inputs, bfloat16 scales
    if zero_point is not None and zero_point.dtype != x.dtype:
        return None
    axis, block_size = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
    # The reference kernel's arithmetic: float32 difference, times the scale, rounded once.
    shifted = x.astype(np.float32)
    if zero_point is not None:
        shifted = shifted - _per_axis(zero_point, x.shape, axis, block_size)
    return [np.asarray(shifted * _per_axis(scale, x.shape, axis, block_size)).astype(target)]


_NEAREST_RIGHT: dict[str, Callable[[Array], Array]] = {
    # Whether a coordinate's fractional part picks the right-hand neighbour.
    "round_prefer_floor": lambda fraction: fraction > 0.5,
    "round_prefer_ceil": lambda fraction: fraction >= 0.5,
    "floor": lambda fraction: np.zeros(fraction.shape, dtype=bool),
    "ceil": lambda fraction: np.ones(fraction.shape, dtype=bool),
}


def _resize(xs: Inputs, attrs: Mapping[str, Any], opset: int) -> list[Array] | None:
    """Nearest-neighbour Resize; linear and cubic weights are the reference kernel's."""
    x, scales, sizes = xs[0], optional(xs, 2), optional(xs, 3)
    if x is None:
        return None
    if (
        opset < 11
        or _text(attrs.get("mode", "nearest")) != "nearest"
        or attrs.get("antialias", 0)
        or attrs.get("exclude_outside", 0)
        or _text(attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch"
        or x.dtype.kind not in "iuf"
    ):
        raise ReferenceOnlyError
    axes = [axis_index(int(a), x.ndim) for a in attrs.get("axes", range(x.ndim))]
    plan = _resize_plan(x.shape, axes, scales, sizes)
    if plan is None:
        return None
    coordinates = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
    right = _NEAREST_RIGHT.get(_text(attrs.get("nearest_mode", "round_prefer_floor")))
    if right is None:
        raise ReferenceOnlyError
    result = x
    for axis, scale, size in plan:
        if math.isclose(scale, 1.0) and size == x.shape[axis]:
            continue  # the reference kernel leaves such an axis as it is
        source = _source_coordinates(coordinates, scale, x.shape[axis], size)
        result = np.take(result, _nearest(source, right, x.shape[axis]), axis=axis)
    return [result]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _resize_plan(
    shape: tuple[int, ...], axes: list[int], scales: Array | None, sizes: Array | None
) -> list[tuple[int, float, int]] | None:
    """(axis, scale, output length) per resized axis, from the scales or the sizes input."""
    if sizes is not None and sizes.size:
        if scales is not None and scales.size:
            return None  # the spec allows one of the two
        lengths = [int(s) for s in sizes.reshape(-1)]
        return [(a, n / shape[a], n) for a, n in zip(axes, lengths, strict=True)]
    if scales is None or not scales.size:
        return None
    factors = [float(s) for s in scales.reshape(-1)]
    return [(a, f, int(f * shape[a])) for a, f in zip(axes, factors, strict=True)]


def _source_coordinates(mode: str, scale: float, length: int, size: int) -> Array:
    """Each output position's coordinate in the input, in the reference kernel's float64 steps."""
    y = np.arange(size, dtype=np.float64)
    resized = scale * length
    if mode == "asymmetric":
        return y / scale
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return np.full(size, -0.5) if resized == 1 else (y + 0.5) / scale - 0.5
    if mode == "align_corners":
        return np.zeros(size) if resized == 1 else y * (length - 1) / (resized - 1)
    if mode == "half_pixel_symmetric":
        offset = length / 2 * (1 - size / resized)
        return offset + (y + 0.5) / scale - 0.5
    raise ReferenceOnlyError  # tf_crop_and_resize reads the roi and extrapolates


def _nearest(source: Array, right: Callable[[Array], Array], length: int) -> Array:
    """The input index each output position copies: the left or right neighbour of its
    coordinate (the coordinate itself where it is whole), clamped to the input."""
    whole = np.floor(source)
    fraction = np.where(source == whole, 1.0, source - whole)
    pick_right = np.where(source == whole, True, right(fraction))
    # The left neighbour as the reference kernel finds it, from the coordinate shifted by one.
    shifted = source + 1
    left = np.floor(shifted) - np.where(shifted == np.floor(shifted), 1, 0) - 1
    return np.asarray(np.clip(left + pick_right, 0, length - 1), dtype=np.intp)


EVALUATORS: dict[str, Evaluator] = {
    "Resize": _resize,
    "MatMul": _matmul,
    "Einsum": _einsum,
    "CumSum": _cumsum,
    "Softmax": _softmax,
    "LayerNormalization": _layer_normalization,
    "QuantizeLinear": _quantize_linear,
    "DequantizeLinear": _dequantize_linear,
    "Sin": _float_unary(np.sin),
    "Cos": _float_unary(np.cos),
    "Log": _float_unary(np.log),
}
