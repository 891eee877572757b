"""AL303 unfused-patterns."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.unfused_patterns import UnfusedPatterns
from onnx import helper

from archlint.api import analyze
from archlint.lint.diagnostics import Severity
from archlint.lint.rule import RuleOptions
from archlint.targets.registry import resolve
from tests.builders import minimal_profile_yaml, model, save, value, weight
from tests.rules.helpers import diagnostics, findings

TENSOR = 64 * 56 * 56 * 4  # bytes of one fp32 1x64x56x56 activation


def _conv_then(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], out: str = "y") -> onnx.ModelProto:
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4)
    inits = [weight("w", (64, 64, 3, 3)), *inits]
    return model([conv, *nodes], [value("x", [1, 64, 56, 56])], [value(out, None)], inits)


def _profile(tmp_path: Path) -> str:
    return str(minimal_profile_yaml(tmp_path / "p.yaml", peak=1e12, bandwidth=1e11))


def test_conv_batchnorm_fires_and_saves_the_batchnorm(tmp_path: Path) -> None:
    bn = helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], name="bn")
    proto = _conv_then([bn], [weight(k, (64,)) for k in "sbmv"])
    [found] = findings(UnfusedPatterns, proto, tmp_path, _profile(tmp_path))
    assert found.node == "bn"
    assert found.message.startswith("Conv 'conv' -> BatchNormalization 'bn': a per-channel scale")
    assert "1 more operator taking 16.1 µs" in found.message
    assert "fold 'bn' into 'conv'" in found.fix
    # The conv is compute-bound (231 MFLOP at 1 TFLOP/s): its new bias costs nothing; the BN's
    # pass over the tensor (read, write, 4 x 64 parameters) is saved whole.
    assert found.saving_s == pytest.approx((2 * TENSOR + 4 * 64 * 4) / 1e11)


def test_a_constant_scale_and_shift_after_a_conv_is_one_finding(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Mul", ["c", "scale"], ["m"], name="mul"),
        helper.make_node("Add", ["shift", "m"], ["y"], name="add"),
    ]
    proto = _conv_then(nodes, [weight("scale", (64, 1, 1)), weight("shift", (1, 64, 1, 1))])
    [found] = findings(UnfusedPatterns, proto, tmp_path, "gpu")
    assert found.node == "mul"
    assert "Conv 'conv' -> Mul 'mul' -> Add 'add'" in found.message and "2 more operators" in found.message
    assert "fold 'mul', 'add' into 'conv'" in found.fix
    assert found.saving_s > 0


def test_matmul_with_a_constant_bias_add_is_a_gemm(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
        helper.make_node("Add", ["h", "bias"], ["y"], name="bias_add"),
    ]
    inits = [weight("w", (128, 256)), weight("bias", (256,))]
    proto = model(nodes, [value("x", [1, 128])], [value("y", None)], inits)
    # TensorRT and onnxruntime fuse a MatMul's bias Add (the gpu and cpu profiles say so):
    # there it costs nothing and raises nothing; an engine that runs the graph as written pays.
    assert findings(UnfusedPatterns, proto, tmp_path, "gpu") == []
    [found] = findings(UnfusedPatterns, proto, tmp_path, _profile(tmp_path))
    assert found.node == "bias_add"
    assert "replace the MatMul and its bias Add 'bias_add' by one Gemm" in found.fix
    assert found.saving_s > 0


def test_x_times_sigmoid_x_as_two_ops(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"),
        helper.make_node("Mul", ["x", "s"], ["y"], name="mul"),
    ]
    proto = model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)])
    [found] = findings(UnfusedPatterns, proto, tmp_path, _profile(tmp_path))
    assert found.node == "mul"
    assert "x * Sigmoid(x) with Sigmoid 'sigmoid'" in found.message and "784 KiB output" in found.message
    assert "Swish" in found.fix
    # Two ops move x, s, x, s, y; one Swish moves x and y.
    assert found.saving_s == pytest.approx(3 * TENSOR / 1e11)


@pytest.mark.parametrize(
    ("node", "constant"),
    [
        (helper.make_node("Add", ["c", "k"], ["y"], name="add"), (1, 64, 56, 56)),  # not per channel
        (helper.make_node("Mul", ["c", "k"], ["y"], name="mul"), (56,)),  # along the width
        (helper.make_node("Div", ["k", "c"], ["y"], name="div"), (64, 1, 1)),  # k / x is not affine
        (helper.make_node("Relu", ["c"], ["y"], name="relu"), None),
    ],
)
def test_what_does_not_fold_stays_quiet(
    tmp_path: Path, node: onnx.NodeProto, constant: tuple[int, ...] | None
) -> None:
    inits = [weight("k", constant)] if constant else []
    assert findings(UnfusedPatterns, _conv_then([node], inits), tmp_path, "gpu") == []


def test_a_conv_output_read_twice_stays_quiet(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Add", ["n", "c"], ["y"], name="residual"),
    ]
    proto = _conv_then(nodes, [weight(k, (64,)) for k in "sbmv"])
    assert findings(UnfusedPatterns, proto, tmp_path, "gpu") == []


def test_min_saving_share_option(tmp_path: Path) -> None:
    bn = helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], name="bn")
    proto = _conv_then([bn], [weight(k, (64,)) for k in "sbmv"])
    # A warning at the default share of the latency; info when the rule asks for more.
    # A CPU whose engine does not fold BatchNorm: onnxruntime would (the cpu profile says so).
    cpu = str(minimal_profile_yaml(tmp_path / "cpu.yaml", kind="cpu"))
    assert diagnostics(UnfusedPatterns, proto, tmp_path, "xeon-avx512") == []
    (default,) = diagnostics(UnfusedPatterns, proto, tmp_path, cpu)
    assert default.severity is Severity.WARNING
    assert default.saving_s < 0.5 * _latency(proto, tmp_path, cpu)
    options = RuleOptions(min_saving_share=0.5)
    (raised,) = diagnostics(UnfusedPatterns, proto, tmp_path, cpu, options)
    assert raised.severity is Severity.INFO


def _latency(proto: onnx.ModelProto, tmp_path: Path, target: str) -> float:
    return analyze(save(proto, tmp_path / "latency.onnx"), [resolve(target)]).predictions[0].latency_s
