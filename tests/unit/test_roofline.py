"""Roofline prediction: padding to the alignment, efficiencies, overhead, batch, memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from onnx import helper

from archlint.analysis.costs.record import OpClass
from archlint.analysis.roofline import MAX_BATCH, conv_shape_factor, max_batch, node_time, padded_flops
from archlint.api import analyze
from archlint.targets.profile import ConvShape, HardwareProfile
from archlint.validation import validate
from tests.builders import conv_model, model, save, value, weight


def _profile(**extra: Any) -> HardwareProfile:
    return validate(
        HardwareProfile, {"name": "t", "peak_flops": {"fp32": 1e12}, "memory_bandwidth": 1e11, **extra}
    )


def _analyze(tmp_path: Path, proto: object, profile: HardwareProfile) -> Any:
    return analyze(save(proto, tmp_path / "m.onnx"), [profile])  # type: ignore[arg-type]


def test_thirty_channels_pay_for_thirty_two(tmp_path: Path) -> None:
    profile = _profile(channel_alignment={"fp32": 8})
    analysis = _analyze(tmp_path, conv_model(30, 30, 56, 3), profile)
    (cost,) = analysis.cost.nodes
    assert padded_flops(cost, profile) == pytest.approx(cost.flops * (32 / 30) ** 2)
    aligned = _analyze(tmp_path, conv_model(32, 32, 56, 3), profile).cost.nodes[0]
    assert padded_flops(aligned, profile) == aligned.flops


def test_overhead_bound_for_tiny_ops(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    profile = _profile(op_overhead_s=5e-6)
    (timed,) = (
        _analyze(tmp_path, model([node], [value("x", [1, 16])], [value("y", None)]), profile)
        .predictions[0]
        .nodes
    )
    assert timed.bound == "overhead"
    assert timed.time_s == pytest.approx(5e-6 + 128 / 1e11)


def test_views_pay_no_dispatch_overhead(tmp_path: Path) -> None:
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Relu", ["f"], ["y"])]
    proto = model(nodes, [value("x", [1, 4, 4])], [value("y", None)])
    flatten, relu = _analyze(tmp_path, proto, _profile(op_overhead_s=5e-6)).predictions[0].nodes
    assert flatten.time_s == 0
    assert relu.overhead_s == 5e-6


def test_class_efficiency_and_small_ops_slow_the_roofline(tmp_path: Path) -> None:
    cost = _analyze(tmp_path, conv_model(64, 64, 28, 3, group=64), _profile()).cost.nodes[0]
    assert cost.op_class is OpClass.DEPTHWISE_CONV
    pure = node_time(cost, _profile()).time_s
    assert node_time(cost, _profile(efficiency={"depthwise_conv": 0.25})).time_s == pytest.approx(4 * pure)
    small = _profile(small_ops={"flops_below": 1e9, "efficiency": 0.5})
    assert node_time(cost, small).time_s == pytest.approx(2 * pure)


def test_compute_and_bandwidth_efficiency(tmp_path: Path) -> None:
    cost = _analyze(tmp_path, conv_model(256, 256, 56, 3), _profile()).cost.nodes[0]
    base = node_time(cost, _profile())
    assert base.bound == "compute"
    assert node_time(cost, _profile(compute_efficiency=0.5)).compute_s == pytest.approx(2 * base.compute_s)
    assert node_time(cost, _profile(bandwidth_efficiency=0.5)).memory_s == pytest.approx(2 * base.memory_s)


def test_int8_ops_use_the_int8_peak_and_unlisted_dtypes_fall_back_to_fp32(tmp_path: Path) -> None:
    cost = _analyze(tmp_path, conv_model(256, 256, 56, 3), _profile()).cost.nodes[0]
    profile = _profile(peak_flops={"fp32": 1e12, "int8": 4e12})
    assert profile.peak_for("int8") == 4e12
    assert profile.peak_for("fp16") == 1e12
    assert node_time(cost, profile).compute_s == pytest.approx(cost.flops / 1e12)


def test_batch_scales_activations_but_reads_weights_once(tmp_path: Path) -> None:
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    proto = model([node], [value("x", [1, 1024])], [value("y", None)], [weight("w", (1024, 1024))])
    cost = _analyze(tmp_path, proto, _profile()).cost.nodes[0]
    one, eight = node_time(cost, _profile(), 1), node_time(cost, _profile(), 8)
    weights = 1024 * 1024 * 4
    assert one.memory_s == pytest.approx((weights + 2 * 1024 * 4) / 1e11)
    assert eight.memory_s == pytest.approx((weights + 8 * 2 * 1024 * 4) / 1e11)


def test_largest_batch_that_fits_device_memory(tmp_path: Path) -> None:
    analysis = _analyze(tmp_path, conv_model(64, 64, 56, 3), _profile())
    cost = analysis.cost
    memory = cost.weight_bytes + 10.5 * cost.peak_activation_bytes
    assert max_batch(cost, _profile(device_memory_bytes=memory)) == 10
    assert max_batch(cost, _profile(device_memory_bytes=1e15)) == MAX_BATCH
    assert max_batch(cost, _profile(device_memory_bytes=cost.weight_bytes / 2)) == 0
    assert max_batch(cost, _profile()) == 1


def test_rgb_input_channels_are_not_padded_but_output_channels_are(tmp_path: Path) -> None:
    profile = _profile(channel_alignment={"fp32": 16})
    (cost,) = _analyze(tmp_path, conv_model(3, 30, 56, 3), profile).cost.nodes
    assert padded_flops(cost, profile) == pytest.approx(cost.flops * 32 / 30)


def test_activations_that_fit_on_chip_stream_at_on_chip_bandwidth_weights_do_not(tmp_path: Path) -> None:
    cost = _analyze(tmp_path, conv_model(64, 64, 28, 3, group=64), _profile()).cost.nodes[0]
    activations = cost.bytes - cost.weight_bytes
    assert cost.weight_bytes > 0
    on_chip = {"on_chip_bandwidth": 4e11, "memory_bandwidth": 1e11}
    fits = _profile(on_chip_memory_bytes=activations, **on_chip)
    spills = _profile(on_chip_memory_bytes=activations - 1, **on_chip)
    weights_s = cost.weight_bytes / 1e11
    assert node_time(cost, fits).memory_s == pytest.approx(weights_s + activations / 4e11)
    assert node_time(cost, spills).memory_s == pytest.approx(cost.bytes / 1e11)
    # A batch of 8 has 8x the activations: they no longer fit.
    assert node_time(cost, fits, batch=8).memory_s == pytest.approx(weights_s + 8 * activations / 1e11)


def _conv_bn_relu_add(tmp_path: Path, profile: HardwareProfile) -> Any:
    """x -> Conv -> BN -> Relu -> Add(+x) -> Relu, and a second reader of the conv's output."""
    channels = 16
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Add", ["r", "x"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["y"]),
        helper.make_node("Relu", ["c"], ["z"]),  # second reader of c: c stays a real tensor
    ]
    bn = [weight(name, (channels,)) for name in "sbmv"]
    proto = model(
        nodes,
        [value("x", [1, channels, 8, 8])],
        [value("y", None), value("z", None)],
        [weight("w", (channels, channels, 3, 3)), *bn],
    )
    return _analyze(tmp_path, proto, profile).predictions[0].nodes


def test_fused_operators_cost_nothing_only_behind_a_sole_reader(tmp_path: Path) -> None:
    fusing = _profile(op_overhead_s=1e-6, fusion={"Conv": ["BatchNormalization", "Relu", "Add"]})
    _, bn, relu, add, _, second_relu = _conv_bn_relu_add(tmp_path, fusing)
    # c has two readers, so the BatchNorm cannot be fused and neither can what follows it.
    assert [t.bound == "fused" for t in (bn, relu, add)] == [False, False, False]
    assert second_relu.bound != "fused"

    single = _profile(op_overhead_s=1e-6, fusion={"Conv": ["Relu"]})
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    proto = model(nodes, [value("x", [1, 8, 4, 4])], [value("y", None)], [weight("w", (8, 8, 1, 1))])
    conv, first, second = _analyze(tmp_path, proto, single).predictions[0].nodes
    assert (first.bound, first.time_s, first.overhead_s) == ("fused", 0.0, 0.0)
    assert second.bound == "fused"  # a chain of fused epilogues stays in the same kernel
    assert conv.bound != "fused"
    unfused = _analyze(tmp_path, proto, _profile(op_overhead_s=1e-6)).predictions[0]
    assert all(t.bound != "fused" for t in unfused.nodes)
    assert unfused.latency_s > _analyze(tmp_path, proto, single).predictions[0].latency_s


def test_fusion_follows_the_listed_producer_and_op_types(tmp_path: Path) -> None:
    fusing = _profile(fusion={"Conv": ["BatchNormalization", "Relu", "Add"]})
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Add", ["r", "x"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["y"]),
    ]
    bn = [weight(name, (8,)) for name in "sbmv"]
    proto = model(nodes, [value("x", [1, 8, 4, 4])], [value("y", None)], [weight("w", (8, 8, 1, 1)), *bn])
    bounds = [t.bound for t in _analyze(tmp_path, proto, fusing).predictions[0].nodes]
    assert bounds[1:4] == ["fused"] * 3
    assert bounds[0] != "fused" and bounds[4] != "fused"  # Sigmoid is not listed for Conv


def test_a_pair_the_engine_runs_as_its_own_kernel_is_priced_as_that_kernel(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Add", ["x", "r"], ["s"]),
        helper.make_node("LayerNormalization", ["s", "g", "b"], ["y"], axis=-1),
    ]
    inits = [weight("r", (1, 16, 128)), weight("g", (128,)), weight("b", (128,))]
    proto = model(nodes, [value("x", [1, 16, 128])], [value("y", None)], inits)
    slow_kernel = {"SkipLayerNormalization": {"efficiency": 0.01, "overhead_s": 2e-6}}
    plain = _profile(op_types=slow_kernel)
    fusing = _profile(
        op_types=slow_kernel, fused_kernels={"LayerNormalization": {"Add": "SkipLayerNormalization"}}
    )
    add, norm = _analyze(tmp_path, proto, fusing).predictions[0].nodes
    assert (add.bound, add.time_s) == ("fused", 0.0)
    assert norm.cost.op_type == "LayerNormalization"  # reported as the model's own operator
    # Priced with the kernel's figures, on the bytes the kernel moves (not the sum tensor).
    assert norm.overhead_s == pytest.approx(2e-6)
    unfused = _analyze(tmp_path, proto, plain).predictions[0]
    add_cost, norm_cost = unfused.nodes[0].cost, unfused.nodes[1].cost
    kernel_bytes = add_cost.bytes_read + norm_cost.bytes - add_cost.bytes_written
    assert norm.memory_s == pytest.approx(kernel_bytes / 1e11)
    assert norm.time_s == pytest.approx(kernel_bytes / 1e11 / 0.01 + 2e-6)
    # A sum read twice (a residual kept for later) cannot go into the kernel.
    shared = model(
        [*nodes, helper.make_node("Add", ["s", "y"], ["z"])],
        [value("x", [1, 16, 128])],
        [value("z", None)],
        inits,
    )
    bounds = [t.bound for t in _analyze(tmp_path, shared, fusing).predictions[0].nodes]
    assert "fused" not in bounds


def test_conv_shape_slows_narrow_grouped_and_unaligned_convs(tmp_path: Path) -> None:
    def conv(*args: int, **kwargs: int) -> Any:
        return _analyze(tmp_path, conv_model(*args, **kwargs), _profile()).cost.nodes[0]

    shape = ConvShape(
        narrow_channels=16, grouped=0.5, fallback_multiple=4, fallback={OpClass.DEPTHWISE_CONV: 0.1}
    )
    # Few output channels per group, or few multiply-adds per output (input channels per group x
    # taps), leave little work per accumulator: c / (c + 16), c the smaller of the two.
    assert conv_shape_factor(conv(64, 16, 28, 3), shape, 16) == pytest.approx(16 / 32)
    assert conv_shape_factor(conv(16, 64, 28, 1), shape, 16) == pytest.approx(16 / 32)
    assert conv_shape_factor(conv(16, 64, 28, 3), shape, 16) == pytest.approx(64 / 80)  # 144 taps
    assert conv_shape_factor(conv(3, 32, 56, 3), shape, 16) == pytest.approx(27 / 43)  # RGB 3x3 stem
    assert conv_shape_factor(conv(3, 64, 56, 7), shape, 16) == pytest.approx(64 / 80)  # 147 taps
    assert conv_shape_factor(conv(256, 256, 14, 3), shape, 16) == pytest.approx(256 / 272)
    # A grouped conv pays the grouped factor on top of its channels per group.
    assert conv_shape_factor(conv(64, 64, 28, 3, group=4), shape, 16) == pytest.approx(0.5 * 16 / 32)
    # Depthwise convs keep their class efficiency unless the layout cannot take their channels.
    assert conv_shape_factor(conv(64, 64, 28, 3, group=64), shape, 16) == 1.0
    assert conv_shape_factor(conv(58, 58, 28, 3, group=58), shape, 16) == pytest.approx(0.1)
    # An RGB stem's 3 input channels are read in the plain layout: no fallback for them.
    assert (
        conv_shape_factor(
            conv(3, 32, 56, 3), ConvShape(fallback_multiple=4, fallback={OpClass.CONV: 0.1}), 16
        )
        == 1.0
    )
    # Short output rows: w / (w + narrow_rows), w the output width, depthwise convs included.
    rows = ConvShape(narrow_rows=7)
    assert conv_shape_factor(conv(256, 256, 7, 3), rows, 16) == pytest.approx(7 / 14)
    assert conv_shape_factor(conv(256, 256, 14, 3, stride=2), rows, 16) == pytest.approx(7 / 14)
    assert conv_shape_factor(conv(64, 64, 56, 3, group=64), rows, 16) == pytest.approx(56 / 63)
    # The default shape changes nothing, and the factor divides the roofline time.
    narrow = conv(64, 16, 28, 3)
    assert conv_shape_factor(narrow, ConvShape(), 16) == 1.0
    plain, shaped = node_time(narrow, _profile()), node_time(narrow, _profile(conv_shape=shape))
    assert shaped.time_s == pytest.approx(plain.time_s * 2)
    # The shape slows arithmetic only: a 1x1 conv on a 1x1 map (an SE block's) streams its weights.
    gemv = conv(960, 240, 1, 1)
    plain, shaped = node_time(gemv, _profile()), node_time(gemv, _profile(conv_shape=rows))
    assert plain.bound == "memory" and shaped.time_s == pytest.approx(plain.time_s)


def test_recurrent_weights_read_every_step_stream_from_where_they_fit(tmp_path: Path) -> None:
    seq, hidden = 20, 64
    node = helper.make_node("LSTM", ["x", "W", "R"], ["", "h"], hidden_size=hidden)
    inits = [weight("W", (1, 4 * hidden, hidden)), weight("R", (1, 4 * hidden, hidden))]
    proto = model([node], [value("x", [seq, 1, hidden])], [value("h", None)], inits)
    (cost,) = _analyze(tmp_path, proto, _profile()).cost.nodes
    activations = cost.bytes - cost.weight_bytes - cost.reread_bytes
    assert cost.reread_bytes == (seq - 1) * 4 * 4 * hidden * hidden
    assert cost.reread_set_bytes == 4 * 4 * hidden * hidden  # R alone: W is read once, before the steps
    fits = _profile(on_chip_memory_bytes=cost.reread_set_bytes, on_chip_bandwidth=4e11)
    expected = cost.weight_bytes / 1e11 + cost.reread_bytes / 4e11 + activations / 4e11
    assert node_time(cost, fits).memory_s == pytest.approx(expected)
    spills = _profile(on_chip_memory_bytes=cost.reread_set_bytes - 1, on_chip_bandwidth=4e11)
    assert node_time(cost, spills).memory_s > node_time(cost, fits).memory_s


def _matmul_cost(tmp_path: Path, rows: int, width: int = 1024) -> Any:
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    proto = model([node], [value("x", [1, rows, width])], [value("y", None)], [weight("w", (width, width))])
    return _analyze(tmp_path, proto, _profile()).cost.nodes[0]


def test_matrix_vector_products_stream_at_the_bandwidth_without_small_ops_or_class_factors(
    tmp_path: Path,
) -> None:
    profile = _profile(
        small_ops={"flops_below": 1e12, "efficiency": 0.25}, efficiency={"matmul": 0.5}, op_overhead_s=1e-6
    )
    decode = node_time(_matmul_cost(tmp_path, rows=1), profile)
    weights, activations = 1024 * 1024 * 4, 2 * 1024 * 4
    assert decode.time_s == pytest.approx((weights + activations) / 1e11 + 1e-6)
    assert decode.bound == "memory"
    prefill = node_time(_matmul_cost(tmp_path, rows=16), profile)  # sixteen rows: both factors apply
    assert prefill.time_s == pytest.approx(max(prefill.compute_s, prefill.memory_s) / (0.5 * 0.25) + 1e-6)


def test_op_type_figures_override_the_class_and_class_overheads_override_the_global_one(
    tmp_path: Path,
) -> None:
    nodes = [helper.make_node("Erf", ["x"], ["e"]), helper.make_node("Relu", ["e"], ["y"])]
    proto = model(nodes, [value("x", [64, 1024])], [value("y", None)])
    profile = _profile(
        op_overhead_s=1e-7,
        efficiency={"elementwise": 0.5},
        class_overhead_s={"elementwise": 2e-6},
        op_types={"Erf": {"efficiency": 0.1, "overhead_s": 5e-6}},
    )
    erf, relu = _analyze(tmp_path, proto, profile).predictions[0].nodes
    assert erf.overhead_s == 5e-6 and relu.overhead_s == 2e-6
    assert erf.time_s - erf.overhead_s == pytest.approx(5 * (relu.time_s - relu.overhead_s))


def test_views_pay_an_overhead_only_when_the_profile_measured_one(tmp_path: Path) -> None:
    nodes = [helper.make_node("Flatten", ["x"], ["y"])]
    proto = model(nodes, [value("x", [1, 4, 4])], [value("y", None)])
    (flatten,) = _analyze(tmp_path, proto, _profile(class_overhead_s={"view": 3e-7})).predictions[0].nodes
    assert flatten.time_s == 3e-7


def test_weights_stream_from_chip_when_the_whole_model_stays_there(tmp_path: Path) -> None:
    proto = conv_model(64, 64, 7, 3)  # 147 KiB of weights, a 7x7 map
    chip = {"on_chip_bandwidth": 4e11, "memory_bandwidth": 1e11}
    roomy, small = _profile(on_chip_memory_bytes=2**22, **chip), _profile(on_chip_memory_bytes=2**14, **chip)
    (cost,) = _analyze(tmp_path, proto, roomy).cost.nodes
    (resident,) = _analyze(tmp_path, proto, roomy).predictions[0].nodes
    (streamed,) = _analyze(tmp_path, proto, small).predictions[0].nodes
    activations = cost.bytes - cost.weight_bytes
    assert resident.memory_s == pytest.approx(cost.weight_bytes / 4e11 + activations / 4e11)
    assert streamed.memory_s == pytest.approx(cost.weight_bytes / 1e11 + activations / 1e11)
