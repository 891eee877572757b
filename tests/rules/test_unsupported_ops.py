"""AL204 unsupported-ops."""

from __future__ import annotations

from pathlib import Path

import onnx
from archlint.rules.unsupported_ops import UnsupportedOps, UnsupportedOpsOptions
from onnx import helper

from archlint.targets.registry import resolve
from archlint.units import seconds
from tests.builders import model, value, weight
from tests.rules.helpers import findings

SHUFFLENET = Path(onnx.__file__).parent / "backend/test/data/light/light_shufflenet.onnx"


def _residual(merge: str) -> onnx.ModelProto:
    """Conv -> Relu, ``merge`` of the two (a residual), then another Conv: 16 x 32 x 32 tensors."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node(merge, ["a", "b"], ["c"]),
        helper.make_node("Conv", ["c", "w1"], ["y"], pads=[1] * 4),
    ]
    inits = [weight("w0", (16, 16, 3, 3)), weight("w1", (16, 16, 3, 3))]
    return model(nodes, [value("x", [1, 16, 32, 32])], [value("y", None)], inits)


def test_a_sum_splits_the_npu_graph_and_copies_three_tensors(tmp_path: Path) -> None:
    (found,) = findings(UnsupportedOps, _residual("Sum"), tmp_path, "rk3588-npu")
    moved = 3 * 4 * 16 * 32 * 32  # a and b to the host, c back to the NPU
    transfer_s = moved / resolve("rk3588-npu").memory_bandwidth
    assert found.node == "Sum_2"
    assert "1 Sum node ('Sum_2') cannot run on rk3588-npu and fall back to the CPU" in found.message
    assert "cut the graph into 2 device partitions" in found.message
    assert "exchange 3 tensors (192 KiB) with the device" in found.message
    assert f"at least {seconds(transfer_s)} of copies" in found.message
    assert found.fix == "rewrite Sum with Add, which rk3588-npu runs on the device."
    assert found.saving_s is None  # whether it runs there, not a saving
    assert "at least" in found.message and seconds(transfer_s) in found.message


def test_supported_graphs_and_extra_supported_ops_stay_quiet(tmp_path: Path) -> None:
    assert findings(UnsupportedOps, _residual("Add"), tmp_path, "rk3588-npu") == []
    options = UnsupportedOpsOptions(extra_supported=("Sum",))
    assert findings(UnsupportedOps, _residual("Sum"), tmp_path, "rk3588-npu", options) == []


def test_profiles_without_an_operator_list_are_silent(tmp_path: Path) -> None:
    assert resolve("hisilicon-nnie").supported_ops is None
    assert findings(UnsupportedOps, _residual("Sum"), tmp_path, "hisilicon-nnie") == []
    assert findings(UnsupportedOps, _residual("Sum"), tmp_path, "gpu") == []


def test_shufflenet_sums_fall_back_on_the_rk3588(tmp_path: Path) -> None:
    (found,) = findings(UnsupportedOps, onnx.load(str(SHUFFLENET)), tmp_path, "rk3588-npu")
    assert "13 Sum nodes" in found.message
    assert "14 device partitions" in found.message  # a fallback between every pair of units
    assert "device partitions" in found.message
