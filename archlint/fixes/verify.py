"""Check a fix with onnxruntime: the fixed model must give the original's outputs.

Both models run on the same seeded random inputs, shaped from the model's resolved input shapes,
with graph optimizations off so that what is compared is the models as written, not the
runtime's rewrites of them. Every element of every output must agree within
``atol + rtol * max|expected|`` of that output: the rounding error of a float32 sum scales with
the size of its terms, not of its result, so after a harmless change (folding a BatchNorm
reorders the arithmetic) an element that cancels to near zero moves as much as the largest one.
A fix that changes what the model computes moves outputs by far more than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from archlint.fixes.proto import Array
from archlint.measure import runtime
from archlint.measure.runtime import onnxruntime_version, random_inputs

__all__ = ["Verdict", "Verifier", "compare_outputs", "onnxruntime_version", "random_inputs", "run"]

RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class Verdict:
    same: bool
    detail: str  # "max |diff| 3e-07" or why the outputs differ


class Verifier:
    """Runs the original once; compares any candidate's outputs with those."""

    def __init__(self, original: onnx.ModelProto, feeds: Mapping[str, Array]) -> None:
        self.feeds = dict(feeds)
        self.expected = run(original, self.feeds)

    def compare(self, candidate: onnx.ModelProto) -> Verdict:
        try:
            actual = run(candidate, self.feeds)
        except Exception as exc:  # the runtime's own error types; the message says what broke
            return Verdict(False, f"onnxruntime cannot run the fixed model: {_first_line(exc)}")
        return compare_outputs(self.expected, actual)


def compare_outputs(expected: Mapping[str, Array], actual: Mapping[str, Array]) -> Verdict:
    worst = 0.0
    for name, want in expected.items():
        got = actual.get(name)
        if got is None or got.shape != want.shape:
            shape = None if got is None else got.shape
            return Verdict(False, f"output {name!r} has shape {shape}, expected {want.shape}")
        diff, bound = _max_abs_diff(got, want), ATOL + RTOL * _max_abs(want)
        if diff > bound:
            return Verdict(False, f"output {name!r} differs by up to {diff:.3g}, more than {bound:.3g}")
        worst = max(worst, diff)
    return Verdict(True, f"max |diff| {worst:.3g}")


def _max_abs_diff(got: Array, want: Array) -> float:
    """Largest elementwise difference; infinite where NaN or infinities do not match."""
    if not want.size or not np.issubdtype(want.dtype, np.number):
        return 0.0 if np.array_equal(got, want) else float("inf")
    a, b = got.astype(np.float64), want.astype(np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities, and NaN on both sides
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
    return float(np.nan_to_num(diff, nan=np.inf).max())


def _max_abs(values: Array) -> float:
    """Largest finite magnitude of an output: the scale its rounding errors are relative to."""
    if not values.size or not np.issubdtype(values.dtype, np.number):
        return 0.0
    finite = np.abs(values[np.isfinite(values)].astype(np.float64))
    return float(finite.max()) if finite.size else 0.0


def run(proto: onnx.ModelProto, feeds: Mapping[str, Array]) -> dict[str, Array]:
    # Graph optimizations off: compare the models as written, not the runtime's rewrites of them.
    return runtime.run(runtime.make_session(proto, optimization="disabled"), feeds)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
