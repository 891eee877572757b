"""AL202 many-groups."""

from __future__ import annotations

from pathlib import Path

import pytest
from archlint.rules.many_groups import ManyGroups, ManyGroupsOptions

from archlint.lint.diagnostics import Severity
from archlint.targets.registry import resolve
from archlint.units import seconds
from tests.builders import conv_model
from tests.rules.helpers import findings


def test_eight_groups_on_a_memory_bound_npu_suggest_a_regular_conv(tmp_path: Path) -> None:
    (found,) = findings(ManyGroups, conv_model(256, 256, 28, 1, group=8), tmp_path, "rk3588-npu")
    bandwidth = resolve("rk3588-npu").memory_bandwidth
    activations = 2 * 256 * 28 * 28
    now_bytes, dense_bytes = 4 * (activations + 256 * 32), 4 * (activations + 256 * 256)
    flops = 2 * 256 * 28 * 28 * 32
    assert found.node == "Conv_0"
    assert "8 groups of 32 input channels (256 -> 256)" in found.message
    assert f"it does {flops / now_bytes:.1f} FLOP/B against the fp32 ridge point of 90.9" in found.message
    assert "is memory-bound and takes 100.0% of the predicted latency" in found.message
    # memory-bound on both sides: the time is the bytes over the bandwidth
    assert f"With 1 group it would do 8x the FLOPs at {8 * flops / dense_bytes:.1f} FLOP/B" in found.message
    expected = (
        f"in a predicted {seconds(dense_bytes / bandwidth)}, against {seconds(now_bytes / bandwidth)} now"
    )
    assert expected in found.message
    assert found.fix.startswith("use 1 group (256 input channels per group): 8x the connections for ")
    assert found.saving_s is None and found.severity is Severity.INFO  # 8x the FLOPs: capacity, not time


def test_an_overhead_bound_gpu_conv_gets_the_fewest_groups_within_the_slowdown(tmp_path: Path) -> None:
    (found,) = findings(ManyGroups, conv_model(256, 256, 28, 1, group=8), tmp_path, "gpu")
    assert "is overhead-bound" in found.message
    assert "With 4 groups it would do 2x the FLOPs" in found.message


def test_on_a_compute_poor_cpu_the_flop_cut_pays_and_it_stays_quiet(tmp_path: Path) -> None:
    assert findings(ManyGroups, conv_model(256, 256, 28, 1, group=8), tmp_path, "arm") == []


@pytest.mark.parametrize("group", [2, 256], ids=["few-groups", "depthwise"])
def test_few_groups_and_depthwise_convs_are_not_reported(tmp_path: Path, group: int) -> None:
    assert findings(ManyGroups, conv_model(256, 256, 28, 1, group=group), tmp_path, "rk3588-npu") == []


def test_max_slowdown_zero_reports_nothing_a_roofline_cannot_make_faster(tmp_path: Path) -> None:
    options = ManyGroupsOptions(max_slowdown=0)
    proto = conv_model(256, 256, 28, 1, group=8)
    assert findings(ManyGroups, proto, tmp_path, "rk3588-npu", options) == []
