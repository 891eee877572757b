"""AL503 memory-budget."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.memory_budget import MemoryBudget, MemoryBudgetOptions
from onnx import helper

from archlint.lint.diagnostics import Severity
from tests.builders import minimal_profile_yaml, model, value, weight
from tests.rules.helpers import findings

MIB = 2**20
TENSOR = 64 * 56 * 56 * 4  # 784 KiB: one fp32 1x64x56x56 activation
CONV_WEIGHTS = 64 * 64 * 9 * 4  # 144 KiB


def _conv() -> onnx.ModelProto:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1] * 4)
    return model([node], [value("x", [1, 64, 56, 56])], [value("y", None)], [weight("w", (64, 64, 3, 3))])


def _profile(tmp_path: Path, **extra: float) -> str:
    return str(minimal_profile_yaml(tmp_path / "p.yaml", peak=1e12, bandwidth=1e11, **extra))


def test_a_model_over_device_memory_is_an_error(tmp_path: Path) -> None:
    [found] = findings(MemoryBudget, _conv(), tmp_path, _profile(tmp_path, device_memory_bytes=MIB))
    assert found.node is None and found.severity is Severity.ERROR
    # Peak: the weights plus the input and output, both live while the conv runs.
    assert "peak memory 1.67 MiB (weights 144 KiB + live activations 1.53 MiB at batch 1)" in found.message
    assert "exceeds the 1 MiB of device memory on minimal" in found.message
    assert "'y' of 'conv' (784 KiB)" in found.fix and "int8 weights would take 36 KiB" in found.fix
    assert found.saving_s is None  # memory, not time


def test_a_small_batch_at_a_full_device_warns(tmp_path: Path) -> None:
    [found] = findings(MemoryBudget, _conv(), tmp_path, _profile(tmp_path, device_memory_bytes=8 * MIB))
    assert found.severity is None  # the rule's warning
    assert (8 * MIB - CONV_WEIGHTS) // (2 * TENSOR) == 5
    assert "only 5 inferences fit the 8 MiB of device memory on minimal" in found.message
    assert "halved activations fit a batch of 10" in found.fix


def test_weights_streamed_past_on_chip_memory_are_noted(tmp_path: Path) -> None:
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    proto = model([node], [value("x", [1, 1024])], [value("y", None)], [weight("w", (1024, 2048))])
    [found] = findings(MemoryBudget, proto, tmp_path, _profile(tmp_path, on_chip_memory_bytes=MIB))
    assert found.severity is Severity.INFO
    assert "the 8 MiB of weights exceed the 1 MiB of on-chip memory on minimal" in found.message
    assert "int8 (2 MiB, which still exceeds it)" in found.fix
    assert found.saving_s == pytest.approx((8 - 2) * MIB / 1e11)


def test_a_model_that_fits_a_large_batch_stays_quiet(tmp_path: Path) -> None:
    assert findings(MemoryBudget, _conv(), tmp_path, "gpu") == []
    assert findings(MemoryBudget, _conv(), tmp_path, "cpu") == []  # no device memory size


def test_min_batch_option(tmp_path: Path) -> None:
    target = _profile(tmp_path, device_memory_bytes=8 * MIB)
    assert findings(MemoryBudget, _conv(), tmp_path, target, MemoryBudgetOptions(min_batch=5)) == []
