"""Throughput: samples/s from the model costed again at each batch, and the saturated figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from archlint.analysis.model_cost import ModelCost, compute_costs
from archlint.analysis.throughput import SEARCH_LIMIT, Batch, BatchCosts, Throughput, throughput
from archlint.api import analyze, analyze_throughput, resolve_model
from archlint.model.batch_axis import batch_axis
from archlint.targets.profile import HardwareProfile
from archlint.validation import validate
from tests.builders import model, save, value, weight

CHANNELS, SIZE = 16, 28
SAMPLE = 2 * CHANNELS * SIZE * SIZE * 4  # input and output of the conv: both live while it runs


def _profile(**extra: Any) -> HardwareProfile:
    # A small GPU: dispatch cost and a small-operator penalty, both of which batching amortizes.
    fields = {"name": "t", "peak_flops": {"fp32": 1e13}, "memory_bandwidth": 3e11, "op_overhead_s": 4e-6}
    return validate(
        HardwareProfile, {**fields, "small_ops": {"flops_below": 5e7, "efficiency": 0.5}, **extra}
    )


def _conv(batch: object = "N") -> onnx.ModelProto:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1] * 4)
    inputs = [value("x", [batch, CHANNELS, SIZE, SIZE])]
    return model([node], inputs, [value("y", None)], [weight("w", (CHANNELS, CHANNELS, 3, 3))])


def _throughput(
    tmp_path: Path,
    proto: onnx.ModelProto,
    profile: HardwareProfile,
    batches: list[Batch] | None = None,
    **binding: Any,
) -> Throughput:
    path = save(proto, tmp_path / "m.onnx")
    _, (found,) = analyze_throughput(path, [profile], batches=batches or [], **binding)
    return found


def _weights() -> int:
    return CHANNELS * CHANNELS * 9 * 4


def test_samples_per_s_never_fall_as_the_batch_grows(tmp_path: Path) -> None:
    profile = _profile(device_memory_bytes=_weights() + 300 * SAMPLE)
    found = _throughput(tmp_path, _conv(), profile, [1, 2, 4, 8, 16, 32, 64, 128, 256, "max"])
    rates = [p.samples_per_s for p in found.curve]
    assert [p.batch for p in found.curve] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert rates == sorted(rates) and rates[-1] > 2 * rates[0]


def test_each_batch_is_costed_at_its_own_shapes(tmp_path: Path) -> None:
    # At batch 1 the conv is under the small-operator threshold (half speed), at batch 16 over it:
    # batch-1 time scaled by 16 would miss that.
    path = save(_conv(), tmp_path / "m.onnx")
    profile = _profile()
    (at_16,) = _throughput(tmp_path, _conv(), profile, [16]).curve
    direct = analyze(path, [profile], dims={"N": 16}).predictions[0]
    assert at_16.latency_s == pytest.approx(direct.latency_s)
    one = analyze(path, [profile]).predictions[0]
    assert at_16.latency_s < 16 * one.latency_s / 1.9


def test_a_batch_16_input_gives_samples_per_second_not_batches(tmp_path: Path) -> None:
    profile = _profile(device_memory_bytes=2**30)
    bound = _throughput(tmp_path, _conv(), profile, dims={"N": 16})
    assert bound.given.batch == 16
    assert bound.given.samples_per_s == pytest.approx(16 / bound.given.latency_s)
    (from_one,) = _throughput(tmp_path, _conv(), profile, [16]).curve
    assert bound.given.samples_per_s == pytest.approx(from_one.samples_per_s)
    # The same from an --input shape, and the saturated figure does not depend on the binding.
    given = _throughput(tmp_path, _conv(), profile, inputs={"x": (16, CHANNELS, SIZE, SIZE)})
    assert given.given.samples_per_s == pytest.approx(from_one.samples_per_s)
    assert given.saturated == bound.saturated


def test_saturated_is_at_least_batch_one_and_fits_device_memory(tmp_path: Path) -> None:
    memory = _weights() + 1000.5 * SAMPLE
    found = _throughput(tmp_path, _conv(), _profile(device_memory_bytes=memory))
    assert found.saturated is not None and found.saturated.samples_per_s >= found.given.samples_per_s
    # Peak memory grows by exactly one sample's input and output per batch: 1000 fit, 1001 do not.
    assert found.largest_batch == found.saturated.batch == 1000
    assert found.saturated.memory_bytes <= memory
    above = [p for p in found.points if p.batch == 1001]
    assert above and not above[0].fits and above[0].memory_bytes > memory
    assert found.note is None


def test_the_memory_search_costs_few_batches(tmp_path: Path) -> None:
    path = save(_conv(), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    given = compute_costs(resolve_model(proto, path))
    axis = batch_axis(proto, {}, {}, {}, given.model.graph)
    costed: list[int] = []

    def counted(batch: int) -> ModelCost:
        costed.append(batch)
        inputs, dims = axis.binding(batch)
        return compute_costs(resolve_model(proto, path, inputs, dims))

    found = throughput(
        BatchCosts(given, 1, counted), _profile(device_memory_bytes=_weights() + 5000 * SAMPLE)
    )
    assert found.largest_batch == 5000 and costed == [5000, 5001]


def test_a_model_that_fixes_its_batch_reports_that_batch_only(tmp_path: Path) -> None:
    found = _throughput(tmp_path, _conv(batch=8), _profile(device_memory_bytes=2**30), [1, 16, "max"])
    assert found.given.batch == 8 and found.given.samples_per_s == pytest.approx(8 / found.given.latency_s)
    assert found.saturated is None and found.largest_batch is None and found.curve == ()
    assert found.note is not None
    assert "the model fixes its batch (input 'x' is declared 8x16x28x28)" in found.note
    assert "throughput at batch 8 only" in found.note


def test_a_model_that_does_not_run_at_another_batch_says_so(tmp_path: Path) -> None:
    # A Reshape traced at batch 1 folds the batch into the features: the Gemm refuses batch 2.
    reshape = helper.make_node("Reshape", ["x", "shape"], ["flat"], name="flatten")
    gemm = helper.make_node("Gemm", ["flat", "w"], ["y"], name="fc")
    proto = model(
        [reshape, gemm],
        [value("x", ["N", 8])],
        [value("y", None)],
        [numpy_helper.from_array(np.array([1, -1]), "shape"), weight("w", (8, 4))],
    )
    found = _throughput(tmp_path, proto, _profile(device_memory_bytes=2**30), [4])
    assert found.saturated is None and found.curve == ()
    assert found.note is not None and found.note.startswith("the model does not run at batch ")


def test_no_device_memory_gives_the_asked_batches_and_no_saturated_figure(tmp_path: Path) -> None:
    found = _throughput(tmp_path, _conv(), _profile(), [1, 4, "max"])
    assert [p.batch for p in found.curve] == [1, 4]
    assert (
        found.saturated is None
        and found.note == "the profile gives no device memory size, so no batch fills it"
    )


def test_a_model_over_device_memory_has_no_saturated_figure(tmp_path: Path) -> None:
    found = _throughput(tmp_path, _conv(), _profile(device_memory_bytes=_weights()))
    assert not found.given.fits and found.saturated is None and found.largest_batch == 0
    assert found.note == "the weights and one sample's activations exceed device memory"


def test_the_search_stops_at_its_limit(tmp_path: Path) -> None:
    found = _throughput(tmp_path, _conv(), _profile(device_memory_bytes=2**50))
    assert found.largest_batch == SEARCH_LIMIT
    assert found.note == f"batch {SEARCH_LIMIT} still fits; the search stops there"


def test_a_curve_that_falls_past_on_chip_memory_saturates_below_the_largest_batch(tmp_path: Path) -> None:
    # A Relu streams its bytes: at 10x the bandwidth while a batch fits the on-chip memory.
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    proto = model([node], [value("x", ["N", CHANNELS, SIZE, SIZE])], [value("y", None)])
    on_chip = {"on_chip_memory_bytes": 8 * SAMPLE, "on_chip_bandwidth": 3e12}
    profile = _profile(op_overhead_s=0, device_memory_bytes=1000 * SAMPLE, **on_chip)
    found = _throughput(tmp_path, proto, profile, dims={"N": 16})  # bound past the on-chip memory
    assert found.largest_batch == 1000 and found.saturated is not None
    at_largest = next(p for p in found.points if p.batch == 1000)
    assert found.saturated.batch < 8 and found.saturated.samples_per_s > 5 * at_largest.samples_per_s


def test_max_of_a_model_that_does_not_fit_costs_nothing_more(tmp_path: Path) -> None:
    found = _throughput(tmp_path, _conv(), _profile(device_memory_bytes=_weights()), ["max"])
    assert found.curve == () and [p.batch for p in found.points] == [1]
