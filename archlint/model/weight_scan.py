"""Counts of subnormal and tiny values in stored weights, read from their raw bits in bounded chunks.

A 7B-parameter model stores 13.5 GB of fp16 weights; decoding them into floats, or holding a
tensor's values at all, would cost more memory than the rest of archlint together. The scan
reads the stored little-endian bits instead: external data through ``numpy.memmap`` windows of
``CHUNK_BYTES`` (unmapped before the next, so resident pages stay bounded), inline data straight
from the proto's bytes, both ``BLOCK`` elements at a time so that each block stays in cache.

For a float with its sign bit cleared, the bit pattern orders like the magnitude, so
``0 < |w| <= x`` is ``1 <= bits <= B(x)`` with ``B(x)`` the largest pattern whose value is at
most ``x``. A threshold below the format's smallest positive value has ``B = 0``: no value can
meet it and the tensor is not read at all (fp16 weights judged against float32's smallest normal).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from archlint.model.dtypes import from_onnx
from archlint.model.graph import Model

#: Bytes of external data mapped at a time.
CHUNK_BYTES = 64 << 20
#: Elements counted per numpy pass: small enough that the passes over one block hit the cache.
BLOCK = 1 << 18

_EXTERNAL = 1  # onnx.TensorProto.EXTERNAL

Bits = np.ndarray[Any, np.dtype[np.unsignedinteger[Any]]]


@dataclass(frozen=True)
class SmallValues:
    """How many of a tensor's values lie below a format's smallest normal, and how many at or
    below a tiny threshold without being below it."""

    total: int
    subnormal: int  # 0 < |w| < smallest normal
    tiny: int  # smallest normal <= |w| <= tiny threshold

    def share(self, part: int) -> float:
        return part / self.total if self.total else 0.0


@dataclass(frozen=True)
class _Format:
    """A float storage format seen as unsigned integers."""

    bits: np.dtype[np.unsignedinteger[Any]]  # little-endian, as ONNX stores raw data
    magnitude: int  # every bit but the sign
    # The float type whose bits these are, and how far left they sit in it: bfloat16 is the top
    # half of a float32.
    floats: type[np.floating[Any]]
    shift: int = 0

    def value(self, pattern: int) -> float:
        """The float a (sign-cleared) bit pattern stands for."""
        wide = np.dtype(self.floats).newbyteorder("<")
        return float(np.array(pattern << self.shift, f"<u{wide.itemsize}").view(wide)[()])


_FORMATS: dict[str, _Format] = {
    "float16": _Format(np.dtype("<u2"), 0x7FFF, np.float16),
    "bfloat16": _Format(np.dtype("<u2"), 0x7FFF, np.float32, shift=16),
    "float32": _Format(np.dtype("<u4"), 0x7FFF_FFFF, np.float32),
    "float64": _Format(np.dtype("<u8"), 0x7FFF_FFFF_FFFF_FFFF, np.float64),
}


def scannable(dtype: str) -> bool:
    """Whether weights of this storage type can be scanned (fp8, fp4 and complex cannot)."""
    return dtype in _FORMATS


def count_stored(model: Model, name: str, smallest_normal: float, tiny: float) -> SmallValues | None:
    """The counts for stored weight ``name``, or None when it is not a stored float tensor."""
    proto = model.graph.stored.get(name)
    if proto is None:
        return None
    dtype = from_onnx(proto.data_type).name
    if dtype not in _FORMATS:
        return None
    total = int(np.prod(tuple(proto.dims), dtype=np.int64))
    fmt = _FORMATS[dtype]
    below, at_most = _limits(dtype, smallest_normal, tiny)
    if max(below, at_most) == 0:
        return SmallValues(total, 0, 0)  # no stored value can be that small: nothing to read
    counts = _Tally(fmt, below, at_most)
    for chunk in _stored_bits(model, proto, fmt, total):
        counts.add(chunk)
        del chunk  # let a mapped window go before the next one is mapped
    return counts.result(total, smallest_normal <= tiny)


def count_array(values: np.ndarray[Any, Any], smallest_normal: float, tiny: float) -> SmallValues:
    """The same counts for values already in memory (weights computed by folding, for instance)."""
    dtype = str(values.dtype)
    if dtype not in _FORMATS:
        raise ValueError(f"cannot scan {dtype} values")
    fmt = _FORMATS[dtype]
    below, at_most = _limits(dtype, smallest_normal, tiny)
    counts = _Tally(fmt, below, at_most)
    counts.add(np.ascontiguousarray(values).reshape(-1).view(fmt.bits))
    return counts.result(int(values.size), smallest_normal <= tiny)


class _Tally:
    """Counts magnitudes in [1, below] and in [1, at_most] over the blocks it is given."""

    def __init__(self, fmt: _Format, below: int, at_most: int) -> None:
        self.fmt = fmt
        self.below = below
        self.at_most = at_most
        self.in_below = 0
        self.in_at_most = 0
        self._scratch = np.empty(BLOCK, fmt.bits)

    def add(self, bits: Bits) -> None:
        for start in range(0, bits.size, BLOCK):
            self._block(bits[start : start + BLOCK])

    def _block(self, bits: Bits) -> None:
        # magnitude - 1 wraps zero round to the largest pattern, so one unsigned comparison
        # ``m < limit`` tests 1 <= magnitude <= limit.
        m = self._scratch[: bits.size]
        np.bitwise_and(bits, self.fmt.magnitude, out=m)
        np.subtract(m, 1, out=m)
        smallest = int(m.min())  # blocks are never empty
        if smallest < self.below:
            self.in_below += int(np.count_nonzero(m < self.below))
        if smallest < self.at_most:
            self.in_at_most += int(np.count_nonzero(m < self.at_most))

    def result(self, total: int, tiny_above_normal: bool) -> SmallValues:
        tiny = self.in_at_most - self.in_below if tiny_above_normal else 0
        return SmallValues(total, self.in_below, max(tiny, 0))


def _limits(dtype: str, smallest_normal: float, tiny: float) -> tuple[int, int]:
    """Largest magnitude patterns strictly below ``smallest_normal`` and at most ``tiny``, the
    latter rounded to the storage format first (as numpy compares a float32 array with a float)."""
    below = _largest_pattern(dtype, smallest_normal)
    if below != _FORMATS[dtype].magnitude and _FORMATS[dtype].value(below) == smallest_normal:
        below -= 1  # strictly below: the smallest normal itself is normal
    return below, _nearest_pattern(dtype, tiny)


@cache
def _largest_pattern(dtype: str, threshold: float) -> int:
    """The largest sign-cleared pattern whose value is at most ``threshold`` (0 when none is).
    Binary search: patterns order like their values; NaN patterns fit no threshold."""
    fmt = _FORMATS[dtype]
    low, high = 0, fmt.magnitude
    while low < high:
        middle = (low + high + 1) // 2
        if fmt.value(middle) <= threshold:
            low = middle
        else:
            high = middle - 1
    return low


def _nearest_pattern(dtype: str, threshold: float) -> int:
    """The pattern of ``threshold`` rounded to the nearest value of the format."""
    fmt = _FORMATS[dtype]
    floor = _largest_pattern(dtype, threshold)
    if floor < fmt.magnitude and fmt.value(floor + 1) - threshold < threshold - fmt.value(floor):
        return floor + 1
    return floor


def _stored_bits(model: Model, proto: Any, fmt: _Format, total: int) -> Iterator[Bits]:
    """The tensor's bit patterns, a bounded chunk at a time."""
    if proto.data_location == _EXTERNAL:
        yield from _external_bits(model, proto, fmt, total)
    elif proto.raw_data:
        yield np.frombuffer(proto.raw_data, fmt.bits, count=total)  # a view, no copy
    elif fmt.bits.itemsize == 2:  # fp16 / bf16 patterns stored one per int32_data entry
        yield np.asarray(proto.int32_data, np.int32).astype(fmt.bits)
    elif fmt.bits.itemsize == 4:
        yield np.asarray(proto.float_data, np.float32).view(fmt.bits)
    else:
        yield np.asarray(proto.double_data, np.float64).view(fmt.bits)


def _external_bits(model: Model, proto: Any, fmt: _Format, total: int) -> Iterator[Bits]:
    """Memory-mapped windows of the external data file; each is unmapped before the next one is
    mapped, so a scan never holds more than ``CHUNK_BYTES`` of the file in memory."""
    entries = {e.key: e.value for e in proto.external_data}
    path = Path(model.path).parent / entries["location"]  # checked by the loader
    offset = int(entries.get("offset", 0))
    per_window = max(CHUNK_BYTES // fmt.bits.itemsize, 1)
    with path.open("rb") as file:
        for start in range(0, total, per_window):
            count = min(per_window, total - start)
            window = np.memmap(
                file, fmt.bits, mode="r", offset=offset + start * fmt.bits.itemsize, shape=(count,)
            )
            yield window
            del window  # the last reference: unmaps it
