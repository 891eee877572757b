"""Counting subnormal and tiny weights from their stored bits, against a numpy reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import archlint.model.weight_scan as scan
from archlint.api import analyze
from archlint.model.graph import Model
from archlint.model.weight_scan import SmallValues, count_array, count_stored
from tests.builders import model, value

FP32_NORMAL = float(np.finfo(np.float32).smallest_normal)
FP16_NORMAL = float(np.finfo(np.float16).smallest_normal)
SHAPE = (64, 129)  # 8,256 values: not a multiple of the block or chunk sizes used below


def _random(dtype: str, seed: int) -> np.ndarray[Any, Any]:
    """Magnitudes spread over the whole exponent range of ``dtype``, signs mixed, some zeros:
    subnormal, tiny and normal values all occur. bfloat16 is returned as float32 values that are
    exactly bfloat16 (their low 16 bits zero)."""
    rng = np.random.default_rng(seed)
    floats = np.float16 if dtype == "float16" else np.float32
    lowest = np.log2(float(np.finfo(floats).smallest_subnormal))
    values = np.exp2(rng.uniform(lowest - 1, 4, SHAPE)) * rng.choice([-1.0, 1.0], SHAPE)
    values[rng.random(SHAPE) < 0.05] = 0.0
    out = values.astype(floats)
    if dtype == "bfloat16":
        out = (out.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    return out


def _reference(values: np.ndarray[Any, Any], smallest_normal: float, tiny: float) -> tuple[int, int]:
    """Counts by comparing magnitudes (in float64: exact for every value compared)."""
    magnitude = np.abs(values.astype(np.float64))
    tiny_stored = float(np.asarray(tiny, values.dtype))  # the threshold rounded as numpy would
    subnormal = int(np.count_nonzero((magnitude > 0) & (magnitude < smallest_normal)))
    small = int(np.count_nonzero((magnitude >= smallest_normal) & (magnitude <= tiny_stored)))
    return subnormal, small


def _tensor(name: str, values: np.ndarray[Any, Any], dtype: str) -> TensorProto:
    if dtype != "bfloat16":
        return numpy_helper.from_array(values, name)
    bits = (values.view(np.uint32) >> 16).astype("<u2")  # bfloat16: float32's top half
    return helper.make_tensor(name, TensorProto.BFLOAT16, values.shape, bits.tobytes(), raw=True)


def _saved(folder: Path, tensors: list[TensorProto], external: bool) -> Model:
    """A model reading each tensor (through Identity), saved inline or with external data."""
    nodes = [helper.make_node("Identity", [t.name], [f"out_{t.name}"]) for t in tensors]
    outputs = [value(f"out_{t.name}", None, t.data_type) for t in tensors]
    proto = model(nodes, [], outputs, tensors)
    path = folder / "model.onnx"
    if external:
        onnx.save(proto, str(path), save_as_external_data=True, location="model.data", size_threshold=0)
    else:
        onnx.save(proto, str(path))
    return analyze(path).cost.model


THRESHOLDS = [(FP32_NORMAL, 1e-15), (FP16_NORMAL, 1e-15), (FP16_NORMAL, 1e-3), (FP32_NORMAL, 1e-30)]


@pytest.mark.parametrize("external", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_counts_agree_with_a_numpy_reference(tmp_path: Path, dtype: str, external: bool) -> None:
    values = _random(dtype, seed=len(dtype))
    loaded = _saved(tmp_path, [_tensor("w", values, dtype)], external)
    for smallest_normal, tiny in THRESHOLDS:
        counts = count_stored(loaded, "w", smallest_normal, tiny)
        assert counts is not None and counts.total == values.size
        assert (counts.subnormal, counts.tiny) == _reference(values, smallest_normal, tiny)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_in_memory_counts_agree_with_the_reference(dtype: str) -> None:
    values = _random("float16" if dtype == "float16" else "float32", seed=3).astype(dtype)
    values.reshape(-1)[::11] = np.float64(1e-310) if dtype == "float64" else 0  # float64 subnormals
    for smallest_normal, tiny in THRESHOLDS:
        counts = count_array(values, smallest_normal, tiny)
        assert (counts.subnormal, counts.tiny) == _reference(values, smallest_normal, tiny)


def test_values_in_typed_proto_fields_are_counted(tmp_path: Path) -> None:
    """Writers may store float32 in float_data and float16 as int32_data rather than raw bytes."""
    fp32 = _random("float32", seed=5)
    fp16 = _random("float16", seed=6)
    typed = TensorProto(name="b", data_type=TensorProto.FLOAT16, dims=fp16.shape)
    typed.int32_data.extend(fp16.view(np.uint16).reshape(-1).tolist())  # one bit pattern per entry
    tensors = [helper.make_tensor("a", TensorProto.FLOAT, fp32.shape, fp32.reshape(-1).tolist()), typed]
    assert not tensors[0].raw_data and not tensors[1].raw_data
    loaded = _saved(tmp_path, tensors, external=False)
    for name, values, smallest_normal in (("a", fp32, FP32_NORMAL), ("b", fp16, FP16_NORMAL)):
        counts = count_stored(loaded, name, smallest_normal, 1e-15)
        assert counts is not None
        assert (counts.subnormal, counts.tiny) == _reference(values, smallest_normal, 1e-15)


def test_external_data_is_read_in_bounded_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny windows and blocks the counts are unchanged, and no window exceeds its bound."""
    values = _random("float16", seed=7)
    loaded = _saved(tmp_path, [_tensor("w", values, "float16")], external=True)
    expected = count_stored(loaded, "w", FP16_NORMAL, 1e-3)

    windows: list[int] = []
    original = scan._external_bits

    def recorded(*args: Any) -> Any:
        for window in original(*args):
            windows.append(window.nbytes)
            yield window

    monkeypatch.setattr(scan, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(scan, "BLOCK", 37)
    monkeypatch.setattr(scan, "_external_bits", recorded)
    assert count_stored(loaded, "w", FP16_NORMAL, 1e-3) == expected
    assert len(windows) == -(-values.nbytes // 1000) and max(windows) <= 1000
    assert sum(windows) == values.nbytes


def test_a_format_that_cannot_hold_such_small_values_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fp16's smallest value, 6e-8, is far above float32's smallest normal: nothing to count."""
    loaded = _saved(tmp_path, [_tensor("w", _random("float16", seed=8), "float16")], external=True)

    def refuse(*args: Any) -> Any:
        raise AssertionError("the weight was read")

    monkeypatch.setattr(scan, "_stored_bits", refuse)
    assert count_stored(loaded, "w", FP32_NORMAL, 1e-15) == SmallValues(SHAPE[0] * SHAPE[1], 0, 0)


def test_names_that_are_not_stored_float_tensors_give_none(tmp_path: Path) -> None:
    ints = numpy_helper.from_array(np.arange(6, dtype=np.int64), "i")
    loaded = _saved(tmp_path, [ints], external=False)
    assert count_stored(loaded, "i", FP32_NORMAL, 1e-15) is None
    assert count_stored(loaded, "missing", FP32_NORMAL, 1e-15) is None
