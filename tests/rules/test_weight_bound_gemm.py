"""AL502 weight-bound-gemm."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from archlint.rules.weight_bound_gemm import WeightBoundGemm, WeightBoundGemmOptions
from onnx import helper

from archlint.units import seconds
from tests.builders import model, value, weight
from tests.rules.helpers import findings

K, N = 1024, 2048
WEIGHTS = K * N * 4  # 8 MiB of fp32
A100_BANDWIDTH, A100_FP32, LAUNCH = 2.039e12, 19.5e12, 4e-6


def _fully_connected(batch: int = 1) -> onnx.ModelProto:
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    return model([node], [value("x", [batch, K])], [value("y", None)], [weight("w", (K, N))])


def _a100_time(weights: int, batch: int) -> float:
    """The a100 profile's roofline for the layer: a matrix-vector product streams at the full
    bandwidth (no small-op efficiency), plus one launch."""
    memory = (weights + batch * (K + N) * 4) / A100_BANDWIDTH
    compute = batch * 2 * K * N / A100_FP32
    return max(memory, compute) + LAUNCH


def test_batch_one_fully_connected_layer_fires_with_batching_and_int8(tmp_path: Path) -> None:
    [found] = findings(WeightBoundGemm, _fully_connected(), tmp_path, "gpu")
    assert found.node is None and found.touched == ("fc",)
    assert "1 matrix product ('fc') read 8 MiB of weights for 4.19 M FLOPs per inference" in found.message
    assert "(0.50 FLOP/B): memory-bound on weight traffic" in found.message
    assert "turn compute-bound at batch" in found.message
    assert f"at batch 8 they take {seconds(_a100_time(WEIGHTS, 8) / 8)} an inference" in found.fix
    assert f"not {seconds(_a100_time(WEIGHTS, 1))}" in found.fix
    assert "int8 (2 MiB)" in found.fix
    assert found.saving_s == pytest.approx(_a100_time(WEIGHTS, 1) - _a100_time(WEIGHTS // 4, 1))


def _decoder_step(layers: int) -> onnx.ModelProto:
    """A decode step: one token through ``layers`` weight matrices, and a key cache read."""
    nodes, inits = [], []
    for i in range(layers):
        source = "x" if i == 0 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [source, f"w{i}"], [f"h{i + 1}"], name=f"proj{i}"))
        inits.append(weight(f"w{i}", (K, K)))
    nodes.append(helper.make_node("ReduceSum", ["past_key"], ["k"], keepdims=0))
    nodes.append(helper.make_node("Add", [f"h{layers}", "k"], ["y"]))
    inputs = [value("x", [1, K]), value("past_key", [256, K])]
    return model(nodes, inputs, [value("y", None)], inits)


def test_a_decode_step_is_one_finding_over_every_weight_bound_product(tmp_path: Path) -> None:
    [found] = findings(WeightBoundGemm, _decoder_step(24), tmp_path, "gpu")
    assert found.touched == tuple(f"proj{i}" for i in range(24))  # each alone is ~4% of the step
    assert "24 matrix products ('proj0', 'proj1', 'proj2' and 21 more)" in found.message
    assert "reads a 1 MiB key/value cache (1 inputs)" in found.message


def test_a_large_batch_or_runtime_weights_stay_quiet(tmp_path: Path) -> None:
    assert findings(WeightBoundGemm, _fully_connected(batch=512), tmp_path, "gpu") == []  # 57% weights
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    runtime = model([node], [value("x", [1, K]), value("w", [K, N])], [value("y", None)])
    assert findings(WeightBoundGemm, runtime, tmp_path, "gpu") == []


def test_options(tmp_path: Path) -> None:
    at_16 = findings(WeightBoundGemm, _fully_connected(), tmp_path, "gpu", WeightBoundGemmOptions(batch=16))
    assert f"at batch 16 they take {seconds(_a100_time(WEIGHTS, 16) / 16)}" in at_16[0].fix
    strict = WeightBoundGemmOptions(min_weight_share=0.9995)
    assert findings(WeightBoundGemm, _fully_connected(), tmp_path, "gpu", strict) == []
