"""AL304 unequal-pointwise-widths."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.unequal_pointwise_widths import UnequalPointwiseWidths, UnequalPointwiseWidthsOptions
from onnx import helper

from archlint.api import analyze
from archlint.lint.diagnostics import Severity
from archlint.targets.registry import resolve
from tests.builders import conv_model, minimal_profile_yaml, model, save, value, weight
from tests.rules.helpers import findings


def _profile(tmp_path: Path, bandwidth: float = 1e10) -> str:
    return str(minimal_profile_yaml(tmp_path / "p.yaml", peak=1e12, bandwidth=bandwidth))


def _between_layers(c1: int, c2: int, size: int) -> onnx.ModelProto:
    """A 1x1 conv c1 -> c2 between two 3x3 convs: both of its widths are the designer's."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4, name="before"),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="pointwise"),
        helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1] * 4, name="after"),
    ]
    inits = [weight("w0", (c1, 16, 3, 3)), weight("w1", (c2, c1, 1, 1)), weight("w2", (16, c2, 3, 3))]
    return model(nodes, [value("x", [1, 16, size, size])], [value("y", None)], inits)


def test_64_to_16_pointwise_conv_fires_with_the_g1_numbers(tmp_path: Path) -> None:
    [found] = findings(UnequalPointwiseWidths, _between_layers(64, 16, 56), tmp_path, _profile(tmp_path))
    assert found.node is not None
    assert "from 64 to 16 channels on hw = 3,136 positions" in found.message
    assert "MAC = hw(c1 + c2) + c1*c2 = 251,904 elements is 24.9% above" in found.message  # 3136*80 + 1024
    assert "2*sqrt(hw*B) + B/hw = 201,728" in found.message  # 3136 * 2 * 32 + 1024
    assert "B = hw*c1*c2 = 3,211,264 multiply-adds" in found.message
    assert "memory-bound" in found.message and found.severity is Severity.WARNING
    assert "32 -> 32" in found.fix and "19.9% less traffic" in found.fix
    # The saving is the whole change: the model with a 32-channel tensor on both sides of the
    # 1x1 conv (so the layers before and after change too) against today's.
    equal = _between_layers(32, 32, 56)
    before = analyze(save(_between_layers(64, 16, 56), tmp_path / "a.onnx"), [resolve(_profile(tmp_path))])
    after = analyze(save(equal, tmp_path / "b.onnx"), [resolve(_profile(tmp_path))])
    assert found.saving_s == pytest.approx(before.predictions[0].latency_s - after.predictions[0].latency_s)
    assert found.touched == ("before", "pointwise", "after")


def test_a_width_shared_with_a_residual_stream_is_not_priced_alone(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4, name="before"),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="pointwise"),
        helper.make_node("Add", ["b", "x"], ["y"], name="residual"),
    ]
    inits = [weight("w0", (64, 16, 3, 3)), weight("w1", (16, 64, 1, 1))]
    proto = model(nodes, [value("x", [1, 16, 56, 56])], [value("y", None)], inits)
    assert findings(UnequalPointwiseWidths, proto, tmp_path, _profile(tmp_path)) == []


@pytest.mark.parametrize(
    "proto",
    [
        _between_layers(64, 64, 56),  # equal widths
        conv_model(64, 16, 56, 1),  # widths the model's input and output fix
        conv_model(64, 16, 56, 3),  # not a 1x1 conv
        conv_model(64, 16, 56, 1, stride=2),  # the spatial size changes too
        conv_model(64, 48, 56, 1),  # MAC only 1% above the minimum
    ],
)
def test_other_convs_stay_quiet(tmp_path: Path, proto: onnx.ModelProto) -> None:
    assert findings(UnequalPointwiseWidths, proto, tmp_path, _profile(tmp_path)) == []


def test_compute_bound_pointwise_conv_stays_quiet(tmp_path: Path) -> None:
    # At 1 PB/s the conv is compute-bound: equal widths would move less but take as long.
    target = _profile(tmp_path, bandwidth=1e15)
    assert findings(UnequalPointwiseWidths, conv_model(64, 16, 56, 1), tmp_path, target) == []


def test_min_excess_traffic_option(tmp_path: Path) -> None:
    options = UnequalPointwiseWidthsOptions(min_excess_traffic=0.3)
    assert (
        findings(UnequalPointwiseWidths, conv_model(64, 16, 56, 1), tmp_path, _profile(tmp_path), options)
        == []
    )
