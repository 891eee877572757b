"""AL401 denormal-weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pydantic
import pytest
from archlint.rules.denormal_weights import DenormalWeights, DenormalWeightsOptions
from onnx import helper, numpy_helper

from archlint.api import analyze
from archlint.lint.diagnostics import Severity
from archlint.lint.rule import RuleContext
from archlint.targets.registry import resolve
from tests.builders import minimal_profile_yaml, model, value
from tests.rules.helpers import findings

SUBNORMAL = np.float32(1e-39)  # below float32's smallest normal, 1.1755e-38
SHAPE = (16, 16, 3, 3)  # 2,304 weights


def _conv(w: np.ndarray[Any, Any], batchnorm: tuple[float, ...] | None = None) -> onnx.ModelProto:
    """x (1x16x28x28) -> Conv(w) [-> BatchNormalization(gamma, beta, mean, var)] -> y."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c" if batchnorm else "y"], pads=[1] * 4)]
    inits = [numpy_helper.from_array(w, "w")]
    if batchnorm is not None:
        for name, fill in zip(("gamma", "beta", "mean", "var"), batchnorm, strict=True):
            inits.append(numpy_helper.from_array(np.full(16, fill, np.float32), name))
        nodes.append(helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"]))
    return model(nodes, [value("x", [1, 16, 28, 28])], [value("y", None)], inits)


def _half_subnormal() -> np.ndarray[Any, Any]:
    w = np.full(SHAPE, 0.05, np.float32)
    w.reshape(-1)[::2] = -SUBNORMAL
    return w


def _profile(tmp_path: Path, flush: str) -> str:
    return str(minimal_profile_yaml(tmp_path / f"cpu-{flush}.yaml", kind="cpu", flush_to_zero=flush))


def test_subnormal_weights_warn_on_a_cpu_with_counts_share_and_node(tmp_path: Path) -> None:
    [finding] = findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, "cpu")
    assert finding.node == "Conv_0"
    assert finding.severity is Severity.WARNING
    assert "Conv 'Conv_0' reads weight 'w'" in finding.message
    assert "1,152 subnormal (50%" in finding.message and "2,304 values" in finding.message
    assert "archlint fix" in finding.fix
    assert finding.saving_s > 0


def test_normal_weights_stay_quiet(tmp_path: Path) -> None:
    w = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    assert findings(DenormalWeights, _conv(w), tmp_path, "cpu") == []


@pytest.mark.parametrize("target", ["gpu", "t4", "npu"])
def test_targets_that_flush_to_zero_stay_quiet(tmp_path: Path, target: str) -> None:
    assert findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, target) == []


def test_a_cpu_profile_that_always_flushes_stays_quiet(tmp_path: Path) -> None:
    target = _profile(tmp_path, "always")
    assert findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, target) == []


def test_a_cpu_that_can_never_flush_makes_it_an_error(tmp_path: Path) -> None:
    target = _profile(tmp_path, "never")
    [finding] = findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, target)
    assert finding.severity is Severity.ERROR


def test_tiny_normal_weights_are_only_a_risk(tmp_path: Path) -> None:
    w = np.full(SHAPE, 0.05, np.float32)
    w[0] = 1e-20  # 144 normal floats whose products with small activations underflow
    [finding] = findings(DenormalWeights, _conv(w), tmp_path, "cpu")
    assert finding.severity is Severity.INFO
    assert "144 tiny (6.25%, |w| <= 1e-15)" in finding.message
    assert finding.saving_s is None  # a risk, not a predicted time


def test_tiny_threshold_option(tmp_path: Path) -> None:
    w = np.full(SHAPE, 0.05, np.float32)
    w[0] = 1e-12
    assert findings(DenormalWeights, _conv(w), tmp_path, "cpu") == []
    options = DenormalWeightsOptions(tiny_threshold=1e-10)
    assert len(findings(DenormalWeights, _conv(w), tmp_path, "cpu", options)) == 1


def test_folding_batchnorm_would_underflow(tmp_path: Path) -> None:
    """Stored weights are normal; w * gamma / sqrt(var + eps) with gamma = 1e-37 is not."""
    proto = _conv(np.full(SHAPE, 0.05, np.float32), batchnorm=(1e-37, 0.1, 0.0, 1.0))
    finding, gamma = findings(DenormalWeights, proto, tmp_path, "cpu")
    assert "reads weight 'gamma': 16 tiny" in gamma.message and gamma.severity is Severity.INFO
    assert finding.node == "Conv_0"
    assert "folding BatchNormalization 'BatchNormalization_1' into Conv 'Conv_0'" in finding.message
    assert "2,304 of its 2,304 weights (100%) subnormal" in finding.message
    assert finding.severity is Severity.WARNING
    assert finding.saving_s > 0


def test_a_harmless_batchnorm_stays_quiet(tmp_path: Path) -> None:
    proto = _conv(np.full(SHAPE, 0.05, np.float32), batchnorm=(1.0, 0.1, 0.0, 1.0))
    assert findings(DenormalWeights, proto, tmp_path, "cpu") == []


# An x86 profile that states no subnormal slowdown of its own: the options' curve applies as given.
CURVE_ONLY = "x86-avx2-desktop"


def test_saving_is_the_measured_factor_applied_to_the_predicted_conv_time(tmp_path: Path) -> None:
    """All weights subnormal, a single measured point (100%, 3x): the saving is 2x the conv's time."""
    w = np.full(SHAPE, SUBNORMAL, np.float32)
    options = DenormalWeightsOptions(measured_slowdown=((1.0, 3.0),))
    [finding] = findings(DenormalWeights, _conv(w), tmp_path, CURVE_ONLY, options)
    conv_time = analyze(tmp_path / "model.onnx", [resolve(CURVE_ONLY)]).predictions[0].nodes[0].time_s
    assert finding.saving_s == pytest.approx(2 * conv_time)


def test_the_estimate_interpolates_between_measured_points(tmp_path: Path) -> None:
    """Half the weights subnormal between points (0, 1x) and (1.0, 3x): factor 2, saving 1x the time."""
    options = DenormalWeightsOptions(measured_slowdown=((1.0, 3.0),))
    [finding] = findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, CURVE_ONLY, options)
    conv_time = analyze(tmp_path / "model.onnx", [resolve(CURVE_ONLY)]).predictions[0].nodes[0].time_s
    assert finding.saving_s == pytest.approx(conv_time)


@pytest.mark.parametrize("points", [((0.5, 2.0), (0.1, 3.0)), ((0.5, 0.5),), ((1.5, 2.0),), ()])
def test_measured_slowdown_must_be_increasing_shares_and_factors_of_at_least_one(
    points: tuple[tuple[float, float], ...],
) -> None:
    with pytest.raises(pydantic.ValidationError):
        DenormalWeightsOptions(measured_slowdown=points)


def test_external_data_weights_are_read(tmp_path: Path) -> None:
    path = tmp_path / "external.onnx"
    onnx.save(_conv(_half_subnormal()), str(path), save_as_external_data=True, location="external.onnx.data")
    assert (tmp_path / "external.onnx.data").is_file()
    analysis = analyze(path, [resolve("cpu")])
    found = list(DenormalWeights().check(RuleContext(analysis, analysis.predictions[0])))
    assert len(found) == 1 and "1,152 subnormal" in found[0].message


def test_a_target_of_unknown_kind_gets_information_only(tmp_path: Path) -> None:
    target = str(minimal_profile_yaml(tmp_path / "minimal.yaml"))  # kind "other", flush_to_zero unset
    [finding] = findings(DenormalWeights, _conv(_half_subnormal()), tmp_path, target)
    assert finding.severity is Severity.INFO
    assert "flush_to_zero: not stated in the profile" in finding.message


def test_weights_are_read_once_per_model_not_once_per_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archlint.rules.denormal_weights as module

    reads: list[str] = []
    original = module.count_stored

    def counting(model_: Any, name: str, *args: Any) -> Any:
        reads.append(name)
        return original(model_, name, *args)

    monkeypatch.setattr(module, "count_stored", counting)
    path = tmp_path / "m.onnx"
    onnx.save(_conv(_half_subnormal()), str(path))
    analysis = analyze(path, [resolve("cpu"), resolve("arm"), resolve("cortex-a53")])
    found = [list(DenormalWeights().check(RuleContext(analysis, p))) for p in analysis.predictions]
    assert all(found) and reads == ["w"]


# --- the format the target computes in ------------------------------------------------------

FP16_SUBNORMAL = np.float16(3e-6)  # between fp16's smallest value (6e-8) and smallest normal (6.1e-5)


def _fp16_matmul(w: np.ndarray[Any, Any]) -> onnx.ModelProto:
    """x (1x16, float16) @ w (16x16, float16): the roofline costs it in fp16 where a profile has
    an fp16 rate, and at the fp32 rate (the engine widens) where it has none."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    fp16 = onnx.TensorProto.FLOAT16
    inits = [numpy_helper.from_array(w, "w")]
    return model(nodes, [value("x", [1, 16], fp16)], [value("y", None, fp16)], inits)


def _half_fp16_subnormal() -> np.ndarray[Any, Any]:
    w = np.full((16, 16), 0.05, np.float16)
    w.reshape(-1)[::2] = -FP16_SUBNORMAL
    return w


def _cpu(tmp_path: Path, name: str, **extra: Any) -> str:
    extra.setdefault("flush_to_zero", "optional")
    return str(minimal_profile_yaml(tmp_path / f"{name}.yaml", kind="cpu", **extra))


def test_fp16_weights_are_normal_on_a_cpu_that_computes_fp16_in_fp32(tmp_path: Path) -> None:
    """No fp16 rate in the profile: the engine widens fp16 to fp32, where 3e-6 is a normal number."""
    target = _cpu(tmp_path, "widens")
    assert findings(DenormalWeights, _fp16_matmul(_half_fp16_subnormal()), tmp_path, target) == []


def test_fp16_subnormals_are_reported_where_the_target_computes_in_fp16(tmp_path: Path) -> None:
    target = _cpu(tmp_path, "fp16", peak_flops={"fp32": 1e12, "fp16": 2e12}, subnormal_slowdown=10)
    [finding] = findings(DenormalWeights, _fp16_matmul(_half_fp16_subnormal()), tmp_path, target)
    assert "128 subnormal (50%, |w| < 6.104e-05 in float16)" in finding.message
    assert finding.severity is Severity.WARNING  # a CPU with a known penalty
    unmeasured = _cpu(tmp_path, "fp16-unmeasured", peak_flops={"fp32": 1e12, "fp16": 2e12})
    [risk] = findings(DenormalWeights, _fp16_matmul(_half_fp16_subnormal()), tmp_path, unmeasured)
    assert risk.severity is Severity.INFO  # nobody measured this CPU's slow path: a risk
    assert finding.saving_s is None  # the measured factors are float32 Conv factors: no estimate


def test_bfloat16_weights_are_judged_as_float32(tmp_path: Path) -> None:
    """bfloat16 has float32's exponent range; a CPU without a bf16 rate computes it in float32."""
    bits = np.full(16 * 16, 0x3D4D, "<u2")  # bfloat16 0.05
    bits[::4] = 0x0040  # a bfloat16 subnormal (5.9e-39), subnormal in float32 too
    w = helper.make_tensor("w", onnx.TensorProto.BFLOAT16, (16, 16), bits.tobytes(), raw=True)
    bf16 = onnx.TensorProto.BFLOAT16
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    proto = model(nodes, [value("x", [1, 16], bf16)], [value("y", None, bf16)], [w])
    [finding] = findings(DenormalWeights, proto, tmp_path, _cpu(tmp_path, "bf16"))
    assert "64 subnormal (25%, |w| < 1.175e-38 in float32, which minimal computes these bfloat16" in (
        finding.message
    )


# --- the profile's own subnormal penalty ----------------------------------------------------


def test_a_cpu_without_a_subnormal_penalty_stays_silent(tmp_path: Path) -> None:
    """subnormal_slowdown 1: the core computes with subnormals at full speed. Neither stored
    subnormals, nor tiny weights, nor subnormals made by folding are worth a word there."""
    target = _cpu(tmp_path, "no-penalty", subnormal_slowdown=1.0)
    tiny = np.full(SHAPE, 0.05, np.float32)
    tiny[0] = 1e-20
    folding = _conv(np.full(SHAPE, 0.05, np.float32), batchnorm=(1e-37, 0.1, 0.0, 1.0))
    for proto in (_conv(_half_subnormal()), _conv(tiny), folding):
        assert findings(DenormalWeights, proto, tmp_path, target) == []


@pytest.mark.parametrize(("weights", "factor"), [("all", 5.0), ("half", 3.0)])
def test_the_profile_factor_rescales_the_measured_curve(tmp_path: Path, weights: str, factor: float) -> None:
    """Curve (0, 1x) .. (1.0, 3x) and a profile stating 5x: all subnormal -> 5x; half -> the curve's
    2x rescaled, 1 + (2 - 1) * (5 - 1) / (3 - 1) = 3x. The estimate stays out of the latency."""
    target = _cpu(tmp_path, "slow", subnormal_slowdown=5.0)
    w = np.full(SHAPE, SUBNORMAL, np.float32) if weights == "all" else _half_subnormal()
    options = DenormalWeightsOptions(measured_slowdown=((1.0, 3.0),))
    [finding] = findings(DenormalWeights, _conv(w), tmp_path, target, options)
    conv_time = analyze(tmp_path / "model.onnx", [resolve(target)]).predictions[0].nodes[0].time_s
    assert finding.saving_s == pytest.approx((factor - 1) * conv_time)
    assert finding.in_latency is False
    assert "(5x on a fully subnormal fp32 Conv: subnormal_slowdown)" in finding.message
