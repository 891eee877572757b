"""AL302 elementwise-heavy."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.elementwise_heavy import ElementwiseHeavy, ElementwiseHeavyOptions
from onnx import helper

from tests.builders import conv_model, minimal_profile_yaml, model, value, weight
from tests.rules.helpers import findings

TENSOR = 64 * 56 * 56 * 4  # bytes of one fp32 1x64x56x56 activation


def _chain() -> onnx.ModelProto:
    """Relu -> Mul -> Add -> Sigmoid on a 1x64x56x56 input: one fusable chain of four."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Mul", ["r", "scale"], ["m"], name="mul"),
        helper.make_node("Add", ["m", "shift"], ["a"], name="add"),
        helper.make_node("Sigmoid", ["a"], ["y"], name="sigmoid"),
    ]
    inits = [weight("scale", (64, 1, 1)), weight("shift", (64, 1, 1))]
    return model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)], inits)


def _profile(tmp_path: Path) -> str:
    return str(minimal_profile_yaml(tmp_path / "p.yaml", peak=1e12, bandwidth=1e11))


def test_elementwise_chain_fires_and_fusing_saves_its_intermediate_tensors(tmp_path: Path) -> None:
    [found] = findings(ElementwiseHeavy, _chain(), tmp_path, _profile(tmp_path))
    assert found.node is None
    assert "4 elementwise and normalization operators take 64.2 µs, 100.0%" in found.message
    assert "0.125 FLOP per byte moved" in found.message  # 4 FLOPs per element over 8 tensors of 4 B
    assert "ridge point of 10.0 FLOP/B for fp32" in found.message
    assert "relu -> mul -> add -> sigmoid (48.2 µs)" in found.fix
    # Fused, the three tensors between the four ops are neither written nor read back.
    assert found.saving_s == pytest.approx(3 * 2 * TENSOR / 1e11)


def test_a_chain_starts_at_the_conv_it_is_the_epilogue_of(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", group=64, pads=[1] * 4),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["y"], name="relu"),
    ]
    inits = [weight("w", (64, 1, 3, 3)), *(weight(k, (64,)) for k in "sbmv")]
    proto = model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)], inits)
    [found] = findings(ElementwiseHeavy, proto, tmp_path, _profile(tmp_path))
    assert "conv -> bn -> relu" in found.fix
    assert found.saving_s == pytest.approx(2 * 2 * TENSOR / 1e11)


def test_a_tensor_read_twice_ends_the_chain(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Sigmoid", ["r"], ["s"], name="sigmoid"),
        helper.make_node("Tanh", ["r"], ["t"], name="tanh"),
        helper.make_node("Add", ["s", "t"], ["y"], name="add"),
    ]
    proto = model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)])
    [found] = findings(ElementwiseHeavy, proto, tmp_path, _profile(tmp_path))
    assert "read back: sigmoid -> add (" in found.fix and " in all." in found.fix
    assert "relu ->" not in found.fix


def test_a_conv_heavy_model_stays_quiet(tmp_path: Path) -> None:
    assert findings(ElementwiseHeavy, conv_model(256, 256, 56, 3), tmp_path, "gpu") == []


def test_min_share_option(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    proto = model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)], [weight("w", (64, 64, 3, 3))])
    # The Relu is 16 µs of the conv's 231 µs compute-bound time: 6.5% of the latency.
    assert findings(ElementwiseHeavy, proto, tmp_path, _profile(tmp_path)) == []
    low = ElementwiseHeavyOptions(min_share=0.05)
    assert len(findings(ElementwiseHeavy, proto, tmp_path, _profile(tmp_path), low)) == 1
