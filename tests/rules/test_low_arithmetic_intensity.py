"""AL501 low-arithmetic-intensity."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import yaml
from archlint.rules.low_arithmetic_intensity import LowArithmeticIntensity, LowArithmeticIntensityOptions
from onnx import helper

from tests.builders import conv_model, model, value, weight
from tests.rules.helpers import findings

TENSOR = 64 * 56 * 56 * 4  # bytes of one fp32 1x64x56x56 activation


def _conv_relu() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    return model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)], [weight("w", (64, 64, 3, 3))])


def _profile(tmp_path: Path, **peaks: float) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump({"name": "minimal", "peak_flops": {"fp32": 1e12, **peaks}, "memory_bandwidth": 1e11})
    )
    return str(path)


def test_memory_bound_relu_fires_with_intensity_ridge_and_share(tmp_path: Path) -> None:
    [found] = findings(LowArithmeticIntensity, _conv_relu(), tmp_path, _profile(tmp_path))
    assert found.node == "relu"  # the conv does 231 MFLOP for 1.7 MB: compute-bound
    assert "does 0.12 FLOP per byte (201 k FLOPs for 1.53 MiB)" in found.message
    assert "below minimal's ridge point of 10.0 FLOP/B for fp32: memory-bound, 16.1 µs, 6.5%" in found.message
    assert found.fix.startswith(
        "fuse it into the operator that writes its input; or store its tensors in fp16"
    )
    assert found.saving_s == pytest.approx(TENSOR / 1e11)  # half of the 2 x TENSOR it moves


def test_the_narrower_type_is_one_the_target_computes_in(tmp_path: Path) -> None:
    [found] = findings(LowArithmeticIntensity, _conv_relu(), tmp_path, _profile(tmp_path, int8=4e12))
    assert "in int8, 4x fewer bytes" in found.fix
    assert found.saving_s == pytest.approx(2 * TENSOR * 3 / 4 / 1e11)


def test_compute_bound_model_stays_quiet(tmp_path: Path) -> None:
    assert findings(LowArithmeticIntensity, conv_model(256, 256, 56, 3), tmp_path, "gpu") == []


def test_min_share_option(tmp_path: Path) -> None:
    options = LowArithmeticIntensityOptions(min_share=0.1)
    assert findings(LowArithmeticIntensity, _conv_relu(), tmp_path, _profile(tmp_path), options) == []
