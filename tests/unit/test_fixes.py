"""The fixes of `archlint fix`, one at a time, and the driver that verifies them."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.errors import UsageError
from archlint.fixes import driver, verify
from archlint.fixes.flush_denormals import flush_denormals
from archlint.fixes.fold_batchnorm import fold_batchnorm
from archlint.fixes.pad_channels import pad_channels
from tests.builders import model, value

Array = np.ndarray[Any, Any]
RNG = np.random.default_rng(7)


def _init(name: str, values: Array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.float32), name)


def _values(proto: onnx.ModelProto, name: str) -> Array:
    return numpy_helper.to_array(next(t for t in proto.graph.initializer if t.name == name))


def _outputs(proto: onnx.ModelProto, shape: tuple[int, ...]) -> dict[str, Array]:
    return verify.run(proto, {"x": np.random.default_rng(0).standard_normal(shape).astype(np.float32)})


def _copy(proto: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    return copy


# ---- fold-batchnorm ----


def _conv_bn(bias: bool = True, extra_reader: bool = False) -> onnx.ModelProto:
    conv_inputs = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [
        helper.make_node("Conv", conv_inputs, ["c"], pads=[1] * 4, name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "beta", "m", "v"], ["n"], epsilon=1e-3, name="bn"),
        helper.make_node("Relu", ["n"], ["y"], name="relu"),
    ]
    outputs = [value("y", None)]
    if extra_reader:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["s"]))
        outputs.append(value("s", None))
    inits = [
        _init("w", RNG.standard_normal((8, 4, 3, 3))),
        _init("b", RNG.standard_normal(8)),
        _init("g", RNG.standard_normal(8)),
        _init("beta", RNG.standard_normal(8)),
        _init("m", RNG.standard_normal(8)),
        _init("v", RNG.random(8) + 0.5),
    ]
    return model(nodes, [value("x", [1, 4, 10, 10])], outputs, inits if bias else inits[:1] + inits[2:])


@pytest.mark.parametrize("bias", [True, False])
def test_folding_batchnorm_keeps_the_outputs(bias: bool) -> None:
    original = _conv_bn(bias)
    fixed = _copy(original)
    assert fold_batchnorm(fixed)[0] == 1
    assert [n.op_type for n in fixed.graph.node] == ["Conv", "Relu"]
    assert {t.name for t in fixed.graph.initializer}.isdisjoint({"g", "beta", "m", "v", "w", "b"})
    want, got = _outputs(original, (1, 4, 10, 10)), _outputs(fixed, (1, 4, 10, 10))
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-5, atol=1e-6)


def test_a_conv_output_read_elsewhere_is_not_folded() -> None:
    proto = _conv_bn(extra_reader=True)
    assert fold_batchnorm(proto)[0] == 0
    assert "BatchNormalization" in [n.op_type for n in proto.graph.node]


# ---- flush-denormals ----


def test_flushing_zeroes_exactly_the_subnormal_and_tiny_values_and_keeps_signs() -> None:
    values = np.array(
        [1e-39, -1e-39, 1e-20, -1e-16, 1e-15, 2e-15, -1e-14, 0.0, -0.0, 0.5, -3.0, 1.2e-38], np.float32
    )
    # 1.2e-38 is normal (above 1.1755e-38) but tiny; 1e-15 is at the threshold, 2e-15 above it.
    flushed_at = [True, True, True, True, True, False, False, False, False, False, False, True]
    proto = model([helper.make_node("Mul", ["x", "w"], ["y"])], [value("x", [12])], [value("y", None)])
    proto.graph.initializer.append(_init("w", values))
    changed, _ = flush_denormals(proto)
    after = _values(proto, "w")
    assert changed == 6
    assert np.all(after[flushed_at] == 0)
    assert np.array_equal(np.signbit(after), np.signbit(values))
    kept = ~np.array(flushed_at)
    assert np.array_equal(after[kept].view(np.uint32), values[kept].view(np.uint32))  # bit for bit


def test_flushing_covers_float16_subnormals_and_constant_nodes() -> None:
    half = np.array([3e-5, -1e-6, 1e-3], np.float16)  # the first two are below 6.104e-5
    constant = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(half, "c"))
    proto = model(
        [constant, helper.make_node("Mul", ["x", "c"], ["y"])],
        [value("x", [3], TensorProto.FLOAT16)],
        [value("y", None, TensorProto.FLOAT16)],
    )
    assert flush_denormals(proto)[0] == 2
    after = numpy_helper.to_array(proto.graph.node[0].attribute[0].t)
    assert after.tolist() == [0.0, -0.0, half[2]] and np.signbit(after[1])


def test_integer_weights_are_left_alone() -> None:
    proto = model([helper.make_node("Add", ["x", "i"], ["y"])], [value("x", [2], TensorProto.INT32)], [])
    proto.graph.initializer.append(numpy_helper.from_array(np.array([0, 1], np.int32), "i"))
    assert flush_denormals(proto)[0] == 0


# ---- pad-channels ----


def _thirty_channels() -> onnx.ModelProto:
    """RGB stem 3 -> 30, BN, ReLU, depthwise 3x3 on 30, ReLU, then 1x1 30 -> 16 and 3x3 30 -> 8."""
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["a"], pads=[1] * 4, name="stem"),
        helper.make_node("BatchNormalization", ["a", "g", "beta", "m", "v"], ["an"], name="bn"),
        helper.make_node("Relu", ["an"], ["ar"], name="relu"),
        helper.make_node("Conv", ["ar", "wd"], ["d"], pads=[1] * 4, group=30, name="dw"),
        helper.make_node("Relu", ["d"], ["dr"], name="relu2"),
        helper.make_node("Conv", ["dr", "w1"], ["y1"], name="pw"),
        helper.make_node("Conv", ["dr", "w2"], ["y2"], pads=[1] * 4, name="side"),
    ]
    inits = [
        _init("w0", RNG.standard_normal((30, 3, 3, 3))),
        _init("b0", RNG.standard_normal(30)),
        _init("g", RNG.standard_normal(30)),
        _init("beta", RNG.standard_normal(30)),
        _init("m", RNG.standard_normal(30)),
        _init("v", RNG.random(30) + 0.5),
        _init("wd", RNG.standard_normal((30, 1, 3, 3))),
        _init("w1", RNG.standard_normal((16, 30, 1, 1))),
        _init("w2", RNG.standard_normal((8, 30, 3, 3))),
    ]
    return model(nodes, [value("x", [1, 3, 12, 12])], [value("y1", None), value("y2", None)], inits)


def test_padding_adds_zero_filters_and_keeps_the_outputs() -> None:
    original = _thirty_channels()
    fixed = _copy(original)
    count, summary = pad_channels(fixed, lambda dtype: 16)
    assert count == 1 and "2 zero output channels" in summary
    assert _values(fixed, "w0").shape == (32, 3, 3, 3) and not _values(fixed, "w0")[30:].any()
    assert _values(fixed, "wd").shape == (32, 1, 3, 3)
    assert _values(fixed, "w1").shape == (16, 32, 1, 1) and not _values(fixed, "w1")[:, 30:].any()
    assert _values(fixed, "w2").shape == (8, 32, 3, 3)
    assert _values(fixed, "v")[30:].tolist() == [1.0, 1.0]  # neutral BatchNorm for the new channels
    dw = next(n for n in fixed.graph.node if n.name == "dw")
    assert helper.get_attribute_value(next(a for a in dw.attribute if a.name == "group")) == 32
    want, got = _outputs(original, (1, 3, 12, 12)), _outputs(fixed, (1, 3, 12, 12))
    for name in ("y1", "y2"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)


def test_padding_stops_at_an_operator_that_mixes_or_exposes_channels() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4),
        helper.make_node("GlobalAveragePool", ["a"], ["y"]),
    ]
    inits = [_init("w0", RNG.standard_normal((30, 3, 3, 3)))]
    proto = model(nodes, [value("x", [1, 3, 8, 8])], [value("y", None)], inits)
    assert pad_channels(proto, lambda dtype: 16)[0] == 0
    assert _values(proto, "w0").shape == (30, 3, 3, 3)


def test_aligned_channels_are_not_padded() -> None:
    assert pad_channels(_thirty_channels(), lambda dtype: 2)[0] == 0  # 30 is a multiple of 2


# ---- the driver ----


def _double_a_weight(proto: onnx.ModelProto, settings: driver.Settings) -> tuple[int, str]:
    """A broken fix: changes what the model computes."""
    tensor = proto.graph.initializer[0]
    tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * 2, tensor.name))
    return 1, "doubled a weight"


def test_a_fix_that_changes_the_outputs_is_not_applied() -> None:
    original = _conv_bn()
    broken = driver.Fix("double", (), "safe", _double_a_weight)
    verifier = verify.Verifier(original, verify.random_inputs(original, {"x": (1, 4, 10, 10)}))
    settings = driver.Settings(alignment=lambda dtype: 1)
    fixed, [outcome] = driver.run_fixes(original, [broken], settings, verifier)
    assert outcome.status == "rejected"
    assert outcome.line().startswith("double: not applied: output 'y' differs by up to")
    assert fixed.SerializeToString() == original.SerializeToString()


def test_verified_fixes_build_on_each_other() -> None:
    original = _conv_bn()
    verifier = verify.Verifier(original, verify.random_inputs(original, {"x": (1, 4, 10, 10)}))
    settings = driver.Settings(alignment=lambda dtype: 1)
    fixed, outcomes = driver.run_fixes(original, driver.select(None), settings, verifier)
    assert [o.status for o in outcomes] == ["applied", "nothing", "unsafe"]
    assert "outputs match" in outcomes[0].line()
    assert [n.op_type for n in fixed.graph.node] == ["Conv", "Relu"]
    assert [n.op_type for n in original.graph.node] == ["Conv", "BatchNormalization", "Relu"]


def test_without_a_verifier_fixes_are_marked_unverified() -> None:
    _, [outcome] = driver.run_fixes(
        _conv_bn(), driver.select(["fold-batchnorm"]), driver.Settings(alignment=lambda dtype: 1), None
    )
    assert outcome.status == "unverified" and outcome.line().endswith("(not verified)")


def test_selection_by_name_code_and_prefix() -> None:
    assert [f.name for f in driver.select(["AL4"])] == ["fold-batchnorm", "flush-denormals"]
    assert [f.name for f in driver.select(["al101"])] == ["pad-channels"]
    assert [f.name for f in driver.select(["AL303"])] == ["fold-batchnorm"]
    assert [f.name for f in driver.select(["flush-denormals", "fold-batchnorm"])] == [
        "fold-batchnorm",
        "flush-denormals",
    ]  # always in the order the fixes must run
    with pytest.raises(UsageError, match="no fix has that name"):
        driver.select(["AL999"])


def test_outputs_of_different_shape_do_not_match() -> None:
    verdict = verify.compare_outputs({"y": np.zeros((1, 30))}, {"y": np.zeros((1, 32))})
    assert not verdict.same and "shape" in verdict.detail


def test_tolerance_scales_with_the_output_s_largest_magnitude() -> None:
    """A near-zero element of a large output may move by rounding; a real change may not."""
    want = np.array([1000.0, 0.0001], np.float32)
    assert verify.compare_outputs({"y": want}, {"y": np.array([1000.0, 0.0003], np.float32)}).same
    assert not verify.compare_outputs({"y": want}, {"y": np.array([1000.5, 0.0001], np.float32)}).same


def test_nan_matches_only_nan() -> None:
    want = np.array([np.nan, np.inf, 1.0])
    assert verify.compare_outputs({"y": want}, {"y": want.copy()}).same
    assert not verify.compare_outputs({"y": want}, {"y": np.array([0.0, np.inf, 1.0])}).same
    assert not verify.compare_outputs({"y": want}, {"y": np.array([np.nan, -np.inf, 1.0])}).same
