"""AL203 conv-fast-paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from archlint.rules.conv_fast_paths import ConvFastPaths, ConvFastPathsOptions
from onnx import helper

from archlint.targets.registry import resolve
from archlint.units import count
from tests.builders import conv_model, minimal_profile_yaml, model, value, weight
from tests.rules.helpers import findings


def _after_stem(kernel: int, **attrs: Any) -> onnx.ModelProto:
    """RGB stem (3x3, 3 -> 64), then the conv under test, 64 -> 64 on 28x28."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["y"], kernel_shape=[kernel, kernel], **attrs),
    ]
    inits = [weight("w0", (64, 3, 3, 3)), weight("w1", (64, 64, kernel, kernel))]
    return model(nodes, [value("x", [1, 3, 28, 28])], [value("y", None)], inits)


def _compute_bound_s(flops: float) -> float:
    """Predicted time of a small fp32 conv that is compute-bound on the a100 (closed form)."""
    gpu = resolve("gpu")
    return flops / gpu.peak_for("fp32") / gpu.small_ops.efficiency + gpu.op_overhead_s


def test_a_5x5_conv_is_replaced_by_two_stacked_3x3_convs(tmp_path: Path) -> None:
    (found,) = findings(ConvFastPaths, _after_stem(5, pads=[2] * 4), tmp_path, "gpu")
    five, three = 2 * 64 * 28 * 28 * 64 * 25, 2 * 64 * 28 * 28 * 64 * 9
    assert found.node == "Conv_1"
    assert "Conv 'Conv_1' (64 -> 64) has a 5x5 kernel, off the engines' fast paths" in found.message
    assert (
        f"2 stacked 3x3 convs cover the same receptive field with {count(2 * three)} FLOPs" in found.message
    )
    assert f"instead of {count(five)}" in found.message
    assert found.fix == "use 2 stacked 3x3 convs 64 -> 64 -> 64 (same receptive field)."
    assert found.saving_s == pytest.approx(_compute_bound_s(five) - 2 * _compute_bound_s(three))
    assert found.severity is None  # the rule's severity: a warning on a GPU


@pytest.mark.parametrize(
    ("attrs", "what", "fix"),
    [
        (
            {"strides": [3, 3], "pads": [1] * 4},
            "stride 3x3",
            "use stride 2 and downsample the rest elsewhere",
        ),
        ({"dilations": [2, 2], "pads": [2] * 4}, "dilation 2x2", "reach the receptive field with stacked"),
    ],
    ids=["stride-3", "dilation-2"],
)
def test_odd_strides_and_dilations_are_off_the_fast_paths(
    tmp_path: Path, attrs: dict[str, Any], what: str, fix: str
) -> None:
    (found,) = findings(ConvFastPaths, _after_stem(3, **attrs), tmp_path, "gpu")
    assert f"has {what}, off the engines' fast paths (1x1 and 3x3 kernels at stride 1 or 2)" in found.message
    assert found.fix.startswith(fix)
    assert found.saving_s is None  # the roofline has no fast paths, so it cannot price these


def test_a_7x7_stem_whose_3x3_stack_is_slower_raises_nothing(tmp_path: Path) -> None:
    # The stack runs 3 -> 64, then 64 -> 64 twice: far more FLOPs, predicted slower. The
    # 7x7 kernel is then the right call, and a finding whose fix is slower is no finding.
    assert findings(ConvFastPaths, conv_model(3, 64, 224, 7, stride=2), tmp_path, "gpu") == []


@pytest.mark.parametrize(
    "proto",
    [
        conv_model(64, 64, 28, 3),
        conv_model(64, 128, 28, 1, stride=2),
        conv_model(64, 64, 28, 3, stride=2),
        conv_model(64, 64, 28, 3, group=64),
        conv_model(3, 96, 224, 16, stride=16, pad=0),  # ViT patch embedding: a reshape and a GEMM
    ],
    ids=["3x3", "1x1-s2", "3x3-s2", "depthwise-3x3", "patchify"],
)
def test_fast_path_shapes_stay_quiet(tmp_path: Path, proto: onnx.ModelProto) -> None:
    assert findings(ConvFastPaths, proto, tmp_path, "gpu") == []


def test_an_engine_with_a_5x5_fast_path(tmp_path: Path) -> None:
    options = ConvFastPathsOptions(fast_kernels=(1, 3, 5))
    assert findings(ConvFastPaths, _after_stem(5, pads=[2] * 4), tmp_path, "gpu", options) == []


def test_silent_on_an_other_kind_of_target(tmp_path: Path) -> None:
    profile = minimal_profile_yaml(tmp_path / "minimal.yaml")  # kind "other": no fast-path data
    assert findings(ConvFastPaths, _after_stem(5, pads=[2] * 4), tmp_path, str(profile)) == []
