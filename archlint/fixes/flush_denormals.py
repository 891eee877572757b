"""flush-denormals: set subnormal and tiny weights to zero, keeping their sign (safe).

x86 CPUs compute with subnormal floats on a slow microcode path unless flush-to-zero is on;
weights at or below 1e-15 are normal but make subnormal products at run time. Zeroing both does
not change what the model computes at float32 precision: a product with such a weight is below
any activation's rounding error. ``np.copysign`` keeps -0.0 for negative weights, so a later
sign test (rare, but seen in pruning masks) reads what it read before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from archlint.fixes.proto import Array, plural, set_values
from archlint.model.onnx_loader import stored_tensors

#: Weights at or below this magnitude are flushed too (AL401's ``tiny_threshold`` default).
TINY = 1e-15

# The smallest normal value of each floating storage type; below it (and above 0) is subnormal.
# bfloat16 has float32's exponent range, hence its threshold.
SMALLEST_NORMAL: dict[str, float] = {
    "float16": float(np.finfo(np.float16).smallest_normal),
    "float32": float(np.finfo(np.float32).smallest_normal),
    "bfloat16": float(np.finfo(np.float32).smallest_normal),
    "float64": float(np.finfo(np.float64).smallest_normal),
}


@dataclass(frozen=True)
class Counts:
    """How many values of one tensor are subnormal, and how many are tiny but normal."""

    total: int
    subnormal: int
    tiny: int

    @classmethod
    def of(cls, values: Array, smallest_normal: float, tiny: float = TINY) -> Counts:
        magnitude = _magnitude(values)
        subnormal = int(np.count_nonzero((magnitude > 0) & (magnitude < smallest_normal)))
        small = int(np.count_nonzero((magnitude >= smallest_normal) & (magnitude <= tiny)))
        return cls(int(magnitude.size), subnormal, small)

    def share(self, part: int) -> float:
        return part / self.total if self.total else 0.0


def flush_mask(values: Array, smallest_normal: float, tiny: float = TINY) -> Array:
    """True where a value is subnormal or nonzero with magnitude at or below ``tiny``."""
    magnitude = _magnitude(values)
    return (magnitude > 0) & ((magnitude < smallest_normal) | (magnitude <= tiny))


def flushed(values: Array, mask: Array) -> Array:
    """``values`` with the masked elements replaced by a zero of the same sign."""
    signed_zero = np.copysign(np.zeros(values.shape, np.float32), _wide(values)).astype(values.dtype)
    return np.where(mask, signed_zero, values)


def _wide(values: Array) -> Array:
    """float32 for 16- and 32-bit floats (exact, and half the memory of float64), else float64."""
    return np.asarray(values, dtype=np.float32 if values.dtype.itemsize <= 4 else np.float64)


def _magnitude(values: Array) -> Array:
    return np.abs(_wide(values))


def dtype_name(tensor: onnx.TensorProto) -> str:
    return str(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type))


def flush_denormals(proto: onnx.ModelProto, tiny: float = TINY) -> tuple[int, str]:
    """Flush in place; return (values changed, one-line summary)."""
    changed = tensors = 0
    for tensor in stored_tensors(proto):
        smallest = SMALLEST_NORMAL.get(dtype_name(tensor)) if _is_float(tensor) else None
        if smallest is None:
            continue
        values = numpy_helper.to_array(tensor)
        mask = flush_mask(values, smallest, tiny)
        count = int(np.count_nonzero(mask))
        if count:
            set_values(tensor, flushed(values, mask))
            changed, tensors = changed + count, tensors + 1
    weights, where = plural(changed, "weight"), plural(tensors, "tensor")
    return changed, f"{weights} subnormal or tiny (|w| <= {tiny:g}) in {where} set to ±0"


_FLOAT_TYPES = frozenset(
    {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
)


def _is_float(tensor: onnx.TensorProto) -> bool:
    return tensor.data_type in _FLOAT_TYPES
