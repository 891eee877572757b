"""Blocked-layout conversions: which tensors the engine copies into or out of its conv layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from onnx import helper

from archlint.analysis.layout import conversions
from archlint.analysis.model_cost import ModelCost
from archlint.analysis.roofline import node_times
from archlint.api import analyze
from archlint.targets.profile import HardwareProfile
from archlint.validation import validate
from tests.builders import model, save, value, weight

BLOCKED = ("Add", "GlobalAveragePool", "Mul", "Relu", "Concat")
FLOAT = 4


def _profile(**extra: Any) -> HardwareProfile:
    fields = {
        "name": "t",
        "peak_flops": {"fp32": 1e12},
        "memory_bandwidth": 1e11,
        "channel_alignment": {"fp32": 16},
        "blocked_ops": BLOCKED,
        **extra,
    }
    return validate(HardwareProfile, fields)


def _conv(name: str, source: str, out: str, ic: int, oc: int) -> tuple[Any, Any]:
    return helper.make_node("Conv", [source, name], [out], kernel_shape=[1, 1]), weight(name, (oc, ic, 1, 1))


def _cost(tmp_path: Path, nodes: list[Any], inits: list[Any], channels: int = 32) -> ModelCost:
    proto = model(nodes, [value("x", [1, channels, 8, 8])], [value("y", None)], inits)
    return analyze(save(proto, tmp_path / "m.onnx")).cost


def _named(cost: ModelCost, charged: dict[int, list[int]]) -> dict[str, list[int]]:
    return {cost.nodes[index].name: sizes for index, sizes in charged.items()}


def test_squeeze_excitation_gate_leaves_and_reenters_the_blocked_layout(tmp_path: Path) -> None:
    conv_a, w_a = _conv("wa", "x", "a", 32, 32)
    pool = helper.make_node("GlobalAveragePool", ["a"], ["p"])
    conv_g, w_g = _conv("wg", "p", "g", 32, 32)
    scale = helper.make_node("Mul", ["a", "g"], ["s"])  # broadcast: (1,32,8,8) x (1,32,1,1)
    conv_y, w_y = _conv("wy", "s", "y", 32, 32)
    cost = _cost(tmp_path, [conv_a, pool, conv_g, scale, conv_y], [w_a, w_g, w_y])
    charged = _named(cost, conversions(cost, _profile(), frozenset()))
    tensor, gate = 32 * 8 * 8 * FLOAT, 32 * FLOAT
    # The graph input is converted in for the first conv; the Mul converts both operands out
    # and the last conv converts its product back in; the blocked graph output is converted out.
    assert charged == {
        cost.nodes[0].name: [tensor],
        cost.nodes[3].name: [tensor, gate],
        cost.nodes[4].name: [tensor, tensor],
    }


def test_ops_the_layout_takes_convert_nothing_between_convs(tmp_path: Path) -> None:
    conv_a, w_a = _conv("wa", "x", "a", 3, 32)
    relu = helper.make_node("Relu", ["a"], ["r"])
    add = helper.make_node("Add", ["r", "a"], ["s"])
    conv_y, w_y = _conv("wy", "s", "y", 32, 32)
    cost = _cost(tmp_path, [conv_a, relu, add, conv_y], [w_a, w_y], channels=3)
    # An RGB input is read in the plain layout: only the graph output is converted.
    assert _named(cost, conversions(cost, _profile(), frozenset())) == {cost.nodes[3].name: [32 * 64 * FLOAT]}
    assert conversions(cost, _profile(blocked_ops=()), frozenset()) == {}
    assert conversions(cost, _profile(channel_alignment={}), frozenset()) == {}


def test_concat_takes_the_layout_only_in_whole_channel_blocks(tmp_path: Path) -> None:
    def concat_of(channels: int) -> dict[str, list[int]]:
        conv_a, w_a = _conv("wa", "x", "a", 32, channels)
        conv_b, w_b = _conv("wb", "x", "b", 32, channels)
        cat = helper.make_node("Concat", ["a", "b"], ["c"], axis=1)
        conv_y, w_y = _conv("wy", "c", "y", 2 * channels, 32)
        cost = _cost(tmp_path, [conv_a, conv_b, cat, conv_y], [w_a, w_b, w_y])
        return _named(cost, conversions(cost, _profile(), frozenset()))

    assert list(concat_of(32).values()) == [[32 * 64 * FLOAT], [32 * 64 * FLOAT]]  # input in, output out
    # 24-channel operands are not whole blocks: both go out for a plain Concat, whose output the
    # next conv converts back in (with the graph output, converted out after it).
    half, whole = 24 * 64 * FLOAT, 32 * 64 * FLOAT
    assert list(concat_of(24).values()) == [[whole], [half, half], [2 * half, whole]]


def test_conversions_add_copy_time_to_the_operator_that_causes_them(tmp_path: Path) -> None:
    conv_a, w_a = _conv("wa", "x", "a", 32, 32)
    transpose = helper.make_node("Transpose", ["a"], ["t"], perm=[0, 1, 3, 2])
    conv_y, w_y = _conv("wy", "t", "y", 32, 32)
    cost = _cost(tmp_path, [conv_a, transpose, conv_y], [w_a, w_y])
    plain = node_times(cost, _profile(blocked_ops=()))
    blocked = node_times(cost, _profile())
    size = 32 * 64 * FLOAT
    assert blocked[1].layout_s == pytest.approx(2 * size / 1e11)
    assert blocked[1].time_s == pytest.approx(plain[1].time_s + 2 * size / 1e11)
    assert plain[1].layout_s == 0.0
