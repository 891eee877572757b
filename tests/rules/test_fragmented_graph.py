"""AL301 fragmented-graph."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.fragmented_graph import FragmentedGraph, FragmentedGraphOptions
from onnx import helper

from tests.builders import conv_model, minimal_profile_yaml, model, value, weight
from tests.rules.helpers import findings


def _conv_then_pointwise() -> onnx.ModelProto:
    """A tiny conv and four pointwise ops after it: five launches for almost no work."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "shift"], ["a"], name="add"),
        helper.make_node("Mul", ["a", "scale"], ["m"], name="mul"),
        helper.make_node("Sigmoid", ["m"], ["y"], name="sigmoid"),
    ]
    inits = [weight("w", (8, 8, 3, 3)), weight("shift", (8, 1, 1)), weight("scale", (8, 1, 1))]
    return model(nodes, [value("x", [1, 8, 8, 8])], [value("y", None)], inits)


def _profile(tmp_path: Path) -> str:
    return str(minimal_profile_yaml(tmp_path / "p.yaml", peak=1e12, bandwidth=1e11, op_overhead_s=1e-5))


def test_dispatch_dominated_model_fires_with_the_launches_fusion_removes(tmp_path: Path) -> None:
    [found] = findings(FragmentedGraph, _conv_then_pointwise(), tmp_path, _profile(tmp_path))
    assert found.node is None
    assert "5 operator executions each pay 10 µs" in found.message
    assert ": 50 µs, 99." in found.message  # the roofline part of five tiny ops is well under 1%
    assert "5 of them take longer to launch than to run" in found.message
    assert "the 4 pointwise operators" in found.fix and "'relu', 'add', 'mul', 'sigmoid'" in found.fix
    assert found.saving_s == pytest.approx(4 * 1e-5)  # four launches; the conv keeps its own


def test_a100_launch_cost_counts_on_a_small_model(tmp_path: Path) -> None:
    [found] = findings(FragmentedGraph, _conv_then_pointwise(), tmp_path, "gpu")
    # TensorRT runs the Relu and the Add inside the conv (the a100 profile's fusion): three
    # launches are left, and fusing the Mul and Sigmoid would save two of them.
    assert "3 operator executions each pay 4 µs of dispatch cost on a100: 12 µs" in found.message
    assert "the 2 pointwise operators" in found.fix and "'mul', 'sigmoid'" in found.fix
    assert found.saving_s == pytest.approx(8e-6)


def test_one_large_conv_stays_quiet(tmp_path: Path) -> None:
    assert findings(FragmentedGraph, conv_model(256, 256, 56, 3), tmp_path, "gpu") == []


def test_npus_without_per_op_cost_stay_quiet(tmp_path: Path) -> None:
    assert findings(FragmentedGraph, _conv_then_pointwise(), tmp_path, "rk3588-npu") == []


def test_max_overhead_share_option(tmp_path: Path) -> None:
    options = FragmentedGraphOptions(max_overhead_share=0.999)
    assert findings(FragmentedGraph, _conv_then_pointwise(), tmp_path, _profile(tmp_path), options) == []
