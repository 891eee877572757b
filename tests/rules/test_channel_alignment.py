"""AL101 channel-alignment."""

from __future__ import annotations

from pathlib import Path

import pytest
from archlint.rules.channel_alignment import ChannelAlignment, ChannelAlignmentOptions
from onnx import helper

from tests.builders import conv_model, model, value, weight
from tests.rules.helpers import findings


def _stem_then(channels: int) -> object:
    """RGB stem (3 -> 32), then a 3x3 conv 32 -> ``channels``, then one more 3x3 conv."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1] * 4),
        helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1] * 4),
    ]
    inits = [
        weight("w0", (32, 3, 3, 3)),
        weight("w1", (channels, 32, 3, 3)),
        weight("w2", (32, channels, 3, 3)),
    ]
    return model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits)


def test_thirty_channels_fire_on_a_gpu_with_32_as_the_fix(tmp_path: Path) -> None:
    found = findings(ChannelAlignment, _stem_then(30), tmp_path, "gpu")
    assert [f.node for f in found] == ["Conv_1", "Conv_2"]
    first = found[0]
    assert "30 output channels" in first.message
    assert "blocks of 4" in first.message  # the a100 profile's fp32 (TF32) alignment
    assert "output channels 32" in first.fix
    assert first.saving_s > 0  # rounding down to 28 re-costs cheaper
    assert "input channels 32" in found[1].fix


def test_aligned_channels_and_rgb_inputs_stay_quiet(tmp_path: Path) -> None:
    assert findings(ChannelAlignment, _stem_then(32), tmp_path, "gpu") == []  # stem IC=3 is the data's


def test_a_classifier_output_is_the_task_s_choice(tmp_path: Path) -> None:
    node = helper.make_node("Gemm", ["x", "w"], ["logits"], transB=1)
    proto = model([node], [value("x", [1, 512])], [value("logits", None)], [weight("w", (10, 512))])
    assert findings(ChannelAlignment, proto, tmp_path, "gpu") == []


def test_alignment_depends_on_the_target(tmp_path: Path) -> None:
    proto = conv_model(30, 30, 28, 3)
    proto.graph.input[0].name = "x"
    on_t4 = findings(ChannelAlignment, _stem_then(30), tmp_path, "t4")  # fp32 on CUDA cores: no blocks
    on_avx512 = findings(ChannelAlignment, _stem_then(30), tmp_path, "cpu")  # N16CHW: 30 -> 32
    assert on_t4 == []
    assert on_avx512 and "blocks of 16" in on_avx512[0].message


@pytest.mark.parametrize(("threshold", "expected"), [(0.02, 2), (0.5, 0)])
def test_min_padding_share_option(tmp_path: Path, threshold: float, expected: int) -> None:
    options = ChannelAlignmentOptions(min_padding_share=threshold)
    assert len(findings(ChannelAlignment, _stem_then(30), tmp_path, "gpu", options)) == expected
