"""AL002 uncosted-operators."""

from __future__ import annotations

from pathlib import Path

from archlint.rules.uncosted_operators import UncostedOperators
from onnx import helper

from tests.builders import model, value, weight
from tests.rules.helpers import findings


def _with_custom_ops(count: int) -> object:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c0"], pads=[1] * 4)]
    for i in range(count):
        nodes.append(helper.make_node("Scramble", [f"c{i}"], [f"c{i + 1}"], domain="vendor.ops"))
    return model(
        nodes,
        [value("x", [1, 8, 16, 16])],
        [value(f"c{count}", None)],
        [weight("w", (8, 8, 3, 3))],
        extra_opsets={"vendor.ops": 1},
    )


def test_uncosted_operators_are_one_error_naming_the_types_and_the_count(tmp_path: Path) -> None:
    (found,) = findings(UncostedOperators, _with_custom_ops(3), tmp_path, "gpu")
    assert found.node == "Scramble_1"
    assert found.message.startswith("1 of 4 operators costed: 3 vendor.ops::Scramble have no cost")
    assert "no cost model for vendor.ops::Scramble" in found.message
    assert "lower bound" in found.message


def test_a_completely_costed_model_passes(tmp_path: Path) -> None:
    assert findings(UncostedOperators, _with_custom_ops(0), tmp_path, "cpu") == []
