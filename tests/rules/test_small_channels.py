"""AL102 small-channels."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.small_channels import SmallChannels, SmallChannelsOptions
from onnx import helper

from archlint.targets.registry import resolve
from tests.builders import model, value, weight
from tests.rules.helpers import findings


def _bottleneck(width: int) -> onnx.ModelProto:
    """RGB stem 3 -> 64, a 1x1 conv 64 -> ``width``, Relu, a 3x3 conv ``width`` -> 64, on 56x56."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Conv", ["c", "w2"], ["y"], pads=[1] * 4),
    ]
    inits = [weight("w0", (64, 3, 3, 3)), weight("w1", (width, 64, 1, 1)), weight("w2", (64, width, 3, 3))]
    return model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits)


def _thin_3x3(width: int, size: int) -> onnx.ModelProto:
    """RGB stem 3 -> 32, a 3x3 conv 32 -> ``width``, a 3x3 conv ``width`` -> 32."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1] * 4),
        helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1] * 4),
    ]
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (width, 32, 3, 3)), weight("w2", (32, width, 3, 3))]
    return model(nodes, [value("x", [1, 3, size, size])], [value("y", None)], inits)


def test_an_8_channel_bottleneck_on_an_npu_is_merged_away(tmp_path: Path) -> None:
    # the thin tensor, reported once
    (found,) = findings(SmallChannels, _bottleneck(8), tmp_path, "hisilicon-nnie")
    flops = 2 * 8 * 64 * 56 * 56
    moved = 4 * (64 * 56 * 56 + 8 * 56 * 56 + 8 * 64)
    ridge = resolve("hisilicon-nnie").peak_for("fp32") / resolve("hisilicon-nnie").memory_bandwidth
    assert found.node == "Conv_1"
    assert "has 8 output channels (fewer than 16)" in found.message
    assert (
        "hisilicon-nnie packs fp32 channels in blocks of 16, so 50% of the lanes carry data" in found.message
    )
    assert f"it does {flops / moved:.1f} FLOP/B, below the fp32 ridge point of {ridge:.1f}" in found.message
    assert found.fix.startswith("merge it with 'Conv_3' into one Conv 64 -> 64 (no 8-channel bottleneck)")
    assert found.saving_s > 0


def test_on_a_gpu_where_merging_and_widening_are_slower_nothing_is_reported(tmp_path: Path) -> None:
    # The merged layer and the 16-channel one are both predicted slower than the bottleneck:
    # a fix that costs time is no fix, so the 8 channels stand.
    assert findings(SmallChannels, _bottleneck(8), tmp_path, "gpu") == []


def test_a_thin_layer_that_keeps_a_gpu_busy_costs_nothing_there(tmp_path: Path) -> None:
    # 32 -> 12, 3x3 on 112x112: 39 FLOP/B, above the a100's fp32 ridge, in whole blocks of 4
    assert findings(SmallChannels, _thin_3x3(12, 112), tmp_path, "gpu") == []
    # On the NNIE 12 channels fill 75% of a 16-lane block, but 16 channels would write a third
    # more bytes in a memory-bound layer: slower, so nothing to advise.
    assert findings(SmallChannels, _thin_3x3(12, 112), tmp_path, "hisilicon-nnie") == []


def test_rgb_stems_classifiers_and_wide_layers_stay_quiet(tmp_path: Path) -> None:
    gemm = helper.make_node("Gemm", ["f", "wc"], ["logits"], transB=1)
    stem = helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4)
    pool = helper.make_node("GlobalAveragePool", ["a"], ["p"])
    flat = helper.make_node("Flatten", ["p"], ["f"])
    inits = [weight("w0", (64, 3, 3, 3)), weight("wc", (10, 64))]
    proto = model([stem, pool, flat, gemm], [value("x", [1, 3, 56, 56])], [value("logits", None)], inits)
    assert findings(SmallChannels, proto, tmp_path, "hisilicon-nnie") == []
    assert findings(SmallChannels, _bottleneck(64), tmp_path, "hisilicon-nnie") == []


def test_cpus_are_not_checked(tmp_path: Path) -> None:
    assert findings(SmallChannels, _bottleneck(8), tmp_path, "cpu") == []
    assert not SmallChannels.applies_to(resolve("cpu"))


@pytest.mark.parametrize(("min_channels", "expected"), [(8, 0), (16, 1)])
def test_min_channels_option(tmp_path: Path, min_channels: int, expected: int) -> None:
    options = SmallChannelsOptions(min_channels=min_channels)
    assert len(findings(SmallChannels, _bottleneck(8), tmp_path, "hisilicon-nnie", options)) == expected


def test_a_low_rank_gemm_pair_on_a_gpu_merges_into_one_launch(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1),
        helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1),
    ]
    inits = [weight("w1", (8, 256)), weight("w2", (256, 8))]
    proto = model(nodes, [value("x", [1, 256])], [value("y", None)], inits)
    (found,) = findings(SmallChannels, proto, tmp_path, "gpu")
    assert "Gemm 'Gemm_0' has 8 output features (N) (fewer than 16)" in found.message
    assert found.fix.startswith("merge it with 'Gemm_1' into one Gemm 256 -> 256")
    # both layers pay the a100's launch cost; the merged one pays it once
    assert found.saving_s == pytest.approx(resolve("gpu").op_overhead_s, rel=0.1)
