"""benchmarks/precision.py's fix-and-measure machinery on tiny models built here.

A fix that must not change what the model computes (an unfolded BatchNormalization, a SiLU
written as Sigmoid + Mul) is applied, the rewritten model is checked against the original with
onnxruntime, and both are timed; a width fix (AL101's round-down) keeps the output's shape while
the layers on both sides of the width change together.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.builders import model, value

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))  # benchmarks is not a package: its scripts import it this way

pytest.importorskip("onnxruntime")

import precision  # noqa: E402
from _precision_fixes import Finding, NotApplicableError, apply_fix, static_shapes  # noqa: E402

RNG = np.random.default_rng(0)
INPUT = {"x": [1, 8, 16, 16]}


def _init(name: str, *shape: int, low: float = -1.0) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.uniform(low, 1.0, shape).astype(np.float32), name)


def conv_bn_relu() -> onnx.ModelProto:
    """Conv -> BatchNormalization -> Relu -> Conv, the BatchNormalization left unfolded."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2", kernel_shape=[1, 1]),
    ]
    inits = [
        _init("w1", 24, 8, 3, 3),
        _init("g", 24),
        _init("b", 24),
        _init("m", 24),
        _init("v", 24, low=0.5),
        _init("w2", 16, 24, 1, 1),
    ]
    return model(nodes, [value("x", INPUT["x"])], [value("y", None)], inits)


def two_op_silu() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["c1"], ["s1"], name="sigmoid1"),
        helper.make_node("Mul", ["c1", "s1"], ["y"], name="mul1"),
    ]
    return model(nodes, [value("x", INPUT["x"])], [value("y", None)], [_init("w1", 8, 8, 1, 1)])


def finding(code: str, node: str, message: str = "", fix: str = "") -> Finding:
    return Finding(code, node, "warning", 1e-6, (node,), message, fix)


def run(proto: onnx.ModelProto, feeds: dict[str, Any]) -> list[Any]:
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))


@pytest.fixture
def feeds() -> dict[str, Any]:
    return {"x": RNG.standard_normal(INPUT["x"]).astype(np.float32)}


def test_folding_a_batchnorm_keeps_the_outputs(feeds: dict[str, Any]) -> None:
    proto = conv_bn_relu()
    fixed, what = apply_fix(proto, finding("AL303", "bn1"), static_shapes(proto, INPUT))
    assert "BatchNormalization folded into Conv" in what
    assert [n.op_type for n in fixed.graph.node] == ["Conv", "Relu", "Conv"]
    np.testing.assert_allclose(run(fixed, feeds)[0], run(proto, feeds)[0], rtol=1e-4, atol=1e-5)
    assert [n.op_type for n in proto.graph.node].count("BatchNormalization") == 1  # the original is untouched


def test_sigmoid_times_x_becomes_one_fused_operator(feeds: dict[str, Any]) -> None:
    proto = two_op_silu()
    fixed, _ = apply_fix(proto, finding("AL303", "mul1"), static_shapes(proto, INPUT))
    assert [(n.op_type, n.domain) for n in fixed.graph.node][-1] == ("QuickGelu", "com.microsoft")
    np.testing.assert_allclose(run(fixed, feeds)[0], run(proto, feeds)[0], rtol=1e-5, atol=1e-6)


def test_rounding_a_width_down_changes_both_layers_and_keeps_the_output_shape(feeds: dict[str, Any]) -> None:
    proto = conv_bn_relu()
    message = "Conv 'conv1' has 24 output channels; host packs fp32 channels in blocks of 16, so ..."
    fixed, _ = apply_fix(proto, finding("AL101", "conv1", message), static_shapes(proto, INPUT))
    readers = {n.name: n.input for n in fixed.graph.node}
    shapes = {t.name: tuple(t.dims) for t in fixed.graph.initializer}
    assert shapes[readers["conv1"][1]] == (16, 8, 3, 3)
    assert shapes[readers["bn1"][1]] == (16,)
    assert shapes[readers["conv2"][1]] == (16, 16, 1, 1)
    assert run(fixed, feeds)[0].shape == run(proto, feeds)[0].shape


def test_a_width_that_reaches_the_model_output_is_not_changed() -> None:
    proto = two_op_silu()
    message = "Conv 'conv1' has 8 output channels; host packs fp32 channels in blocks of 16, so ..."
    with pytest.raises(NotApplicableError, match="output"):
        apply_fix(proto, finding("AL101", "conv1", message), static_shapes(proto, INPUT))


def test_evaluate_verifies_and_times_the_fix(tmp_path: Path) -> None:
    proto = conv_bn_relu()
    subject = precision.Subject("conv-bn", "zoo", tmp_path / "unused.onnx", INPUT)
    bench = precision.Bench(subject, proto, precision.runtime.random_inputs(proto, {"x": (1, 8, 16, 16)}))
    result = precision.evaluate(bench, finding("AL303", "bn1"), budget_s=0.05)
    assert result.status == "measured", result.detail
    assert result.pairs >= precision.MIN_PAIRS * precision.ROUNDS
    assert result.before_s is not None and result.before_s > 0
    assert result.after_s is not None and result.after_s > 0
    assert result.measured_s is not None and result.noise_s is not None and result.noise_s >= 0


def test_a_fix_with_nothing_to_change_is_not_timed(tmp_path: Path) -> None:
    proto = conv_bn_relu()
    subject = precision.Subject("conv-bn", "zoo", tmp_path / "unused.onnx", INPUT)
    bench = precision.Bench(subject, proto, precision.runtime.random_inputs(proto, {"x": (1, 8, 16, 16)}))
    # The weights are all normal numbers: flushing subnormals changes nothing, so nothing is timed.
    result = precision.evaluate(bench, finding("AL401", "conv1"), budget_s=0.05)
    assert result.status == "not applied" and result.pairs == 0
