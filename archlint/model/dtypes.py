"""Element types: storage size of every ONNX tensor type and the compute class it runs on.

The compute class is the key of a hardware profile's ``peak_flops`` table: an int8 convolution is
limited by the int8 rate of the device, not by its fp32 rate.
"""

from __future__ import annotations

from typing import NamedTuple


class DType(NamedTuple):
    """An element type: its name, storage bits, and the compute class it runs on."""

    name: str
    bits: int
    compute: str  # key into HardwareProfile.peak_flops
    is_float: bool

    def nbytes(self, count: int) -> int:
        """Storage bytes of ``count`` elements (sub-byte types are packed, rounded up)."""
        return (count * self.bits + 7) // 8


# Codes are onnx.TensorProto.DataType values; kept as literals so this module does not import onnx.
_BY_CODE: dict[int, DType] = {
    1: DType("float32", 32, "fp32", True),
    2: DType("uint8", 8, "int8", False),
    3: DType("int8", 8, "int8", False),
    4: DType("uint16", 16, "int16", False),
    5: DType("int16", 16, "int16", False),
    6: DType("int32", 32, "int32", False),
    7: DType("int64", 64, "int64", False),
    8: DType("string", 64, "int64", False),  # pointer-sized; strings have no fixed width
    9: DType("bool", 8, "int8", False),
    10: DType("float16", 16, "fp16", True),
    11: DType("float64", 64, "fp64", True),
    12: DType("uint32", 32, "int32", False),
    13: DType("uint64", 64, "int64", False),
    14: DType("complex64", 64, "fp32", True),
    15: DType("complex128", 128, "fp64", True),
    16: DType("bfloat16", 16, "bf16", True),
    17: DType("float8e4m3fn", 8, "fp8", True),
    18: DType("float8e4m3fnuz", 8, "fp8", True),
    19: DType("float8e5m2", 8, "fp8", True),
    20: DType("float8e5m2fnuz", 8, "fp8", True),
    21: DType("uint4", 4, "int4", False),
    22: DType("int4", 4, "int4", False),
    23: DType("float4e2m1", 4, "fp4", True),
    24: DType("float8e8m0", 8, "fp8", True),
    25: DType("uint2", 2, "int4", False),
    26: DType("int2", 2, "int4", False),
}

UNDEFINED = DType("undefined", 32, "fp32", True)
FLOAT32 = _BY_CODE[1]
INT64 = _BY_CODE[7]


def from_onnx(code: int) -> DType:
    """The DType of an ``onnx.TensorProto.DataType`` code; unknown codes count as 32-bit."""
    return _BY_CODE.get(code, UNDEFINED)
