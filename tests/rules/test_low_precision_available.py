"""AL403 low-precision-available."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from archlint.rules.low_precision_available import LowPrecisionAvailable, LowPrecisionAvailableOptions
from onnx import TensorProto, helper

from archlint.analysis.roofline import node_time
from archlint.api import analyze
from archlint.lint.diagnostics import Severity
from archlint.targets.registry import resolve
from tests.builders import conv_model, model, value, weight
from tests.rules.helpers import findings


def _dense() -> object:
    """IC=OC=256, 56x56, 3x3: ~3.7 GFLOPs at ~420 FLOP/B, compute-bound everywhere."""
    return conv_model(256, 256, 56, 3)


def test_fp32_conv_on_an_a100_fires_with_both_rates_and_the_compute_bound_share(tmp_path: Path) -> None:
    [finding] = findings(LowPrecisionAvailable, _dense(), tmp_path, "gpu")
    assert finding.node is None
    assert "19.5 TFLOP/s in fp32 and 312 TFLOP/s in fp16 (16x)" in finding.message
    assert "100.0% of the model's FLOPs are fp32" in finding.message
    assert (
        "1 compute-bound fp32 operators" in finding.message and "100.0% of the predicted" in finding.message
    )
    assert "run the model in fp16" in finding.fix


def test_saving_re_costs_the_conv_in_fp16_with_half_the_bytes(tmp_path: Path) -> None:
    [finding] = findings(LowPrecisionAvailable, _dense(), tmp_path, "gpu")
    analysis = analyze(tmp_path / "model.onnx", [resolve("gpu")])
    conv = analysis.predictions[0].nodes[0]
    halved = replace(
        conv.cost,
        compute_dtype="fp16",
        bytes_read=conv.cost.bytes_read // 2,
        bytes_written=conv.cost.bytes_written // 2,
        weight_bytes=conv.cost.weight_bytes // 2,
    )
    assert finding.saving_s == pytest.approx(conv.time_s - node_time(halved, resolve("gpu")).time_s)
    assert finding.saving_s > 0.5 * conv.time_s  # 16x the rate: most of the time goes


def test_a_vnni_xeon_suggests_int8(tmp_path: Path) -> None:
    [finding] = findings(LowPrecisionAvailable, _dense(), tmp_path, "cpu")
    assert "2.86 TFLOP/s in fp32 and 11.4 TOP/s in int8 (4x)" in finding.message
    assert "quantize" in finding.fix


@pytest.mark.parametrize("target", ["hisilicon-nnie", "rk3588-npu", "p40", "x86-avx2-desktop"])
def test_targets_without_a_4x_faster_precision_stay_quiet(tmp_path: Path, target: str) -> None:
    assert findings(LowPrecisionAvailable, _dense(), tmp_path, target) == []


def test_an_fp16_model_stays_quiet(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1] * 4)
    proto = model(
        [node],
        [value("x", [1, 256, 56, 56], TensorProto.FLOAT16)],
        [value("y", None, TensorProto.FLOAT16)],
        [weight("w", (256, 256, 3, 3), dtype="float16")],
    )
    assert findings(LowPrecisionAvailable, proto, tmp_path, "gpu") == []


def test_memory_bound_fp32_work_is_not_counted(tmp_path: Path) -> None:
    node = helper.make_node("Add", ["x", "x"], ["y"])
    proto = model([node], [value("x", [1, 64, 112, 112])], [value("y", None)])
    assert findings(LowPrecisionAvailable, proto, tmp_path, "gpu") == []


def test_min_speedup_and_dtype_preference(tmp_path: Path) -> None:
    """The a100's fp16 is 16x fp32 and its int8 32x: with 20x required, int8 is the first to qualify."""
    int8 = LowPrecisionAvailableOptions(min_speedup=20)
    [finding] = findings(LowPrecisionAvailable, _dense(), tmp_path, "gpu", int8)
    assert "in int8 (32x)" in finding.message
    assert (
        findings(
            LowPrecisionAvailable, _dense(), tmp_path, "gpu", LowPrecisionAvailableOptions(min_speedup=64)
        )
        == []
    )
    bf16_first = LowPrecisionAvailableOptions(dtypes=("bf16", "fp16"))
    assert "in bf16" in findings(LowPrecisionAvailable, _dense(), tmp_path, "gpu", bf16_first)[0].message


def test_unknown_dtype_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown dtype"):
        LowPrecisionAvailableOptions(dtypes=("fp12",))


def test_severity_is_a_warning_on_gpus_and_info_elsewhere() -> None:
    assert LowPrecisionAvailable.severity["gpu"] is Severity.WARNING
    assert LowPrecisionAvailable.severity["cpu"] is Severity.INFO
