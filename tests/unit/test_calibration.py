"""Calibration arithmetic on known timings, and what the microbenchmarks are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest

from archlint.analysis.costs.record import OpClass
from archlint.analysis.roofline import node_time
from archlint.measure.calibration import fit, kernels, micro
from archlint.measure.calibration.host import Host
from archlint.measure.calibration.measure import Measured, cost_of, executed_kernels, executed_op_types
from archlint.targets.profile import ConvShape, HardwareProfile


def _measured(bench: micro.Micro, seconds: float) -> Measured:
    return Measured(bench, seconds, seconds, cost_of(bench))


def test_peak_is_the_best_gemm_rate() -> None:
    small, large = micro.gemm(64), micro.gemm(128)
    runs = [_measured(small, 2 * 64**3 / 50e9), _measured(large, 2 * 128**3 / 80e9)]
    assert fit.best_rate(runs) == pytest.approx(80e9)


def test_copy_rate_counts_read_and_write() -> None:
    run = _measured(micro.copy(2**20), 1e-4)
    assert fit.copy_rate(run) == pytest.approx(2 * 2**20 / 1e-4)


def test_on_chip_capacity_is_the_largest_fast_copy() -> None:
    sizes = [2**17, 2**19, 2**21, 2**23]
    rates = [30e9, 32e9, 25e9, 11e9]  # the 8 MiB copy runs at main-memory speed
    copies = [_measured(micro.copy(n), 2 * n / r) for n, r in zip(sizes, rates, strict=True)]
    bandwidth, capacity = fit.on_chip(copies, main_memory=10e9) or (0, 0)
    assert bandwidth == pytest.approx(32e9)
    assert capacity == 2 * 2**21  # 25 GB/s is above sqrt(32e9 * 10e9) = 17.9 GB/s; 11 GB/s is not
    assert fit.on_chip(copies, main_memory=40e9) is None


def test_dispatch_overhead_is_the_slope_over_chain_length() -> None:
    short, long = micro.tiny_chain(32), micro.tiny_chain(256)
    fixed = 20e-6  # per-run cost that the slope cancels
    overhead = fit.dispatch_overhead(_measured(short, fixed + 32e-6), _measured(long, fixed + 256e-6))
    assert overhead == pytest.approx(1e-6)


def test_efficiency_is_roofline_time_over_measured_time() -> None:
    profile = HardwareProfile(name="t", peak_flops={"fp32": 1e11}, memory_bandwidth=1e10, op_overhead_s=1e-6)
    bench = micro.conv_chain(96, 28, 3, groups=96)
    roof = sum(node_time(n, profile).time_s - 1e-6 for n in cost_of(bench).nodes)
    overhead = micro.CHAIN * 1e-6
    run = _measured(bench, roof / 0.4 + overhead)
    assert fit.efficiency([run], profile) == pytest.approx(0.4)
    # Two runs: roofline and measured times are summed, so the longer run weighs more.
    fast = _measured(bench, roof / 2 + overhead)
    assert fit.efficiency([run, fast], profile) == pytest.approx(2 / (1 / 0.4 + 1 / 2))
    # The robust centre of the rounds counts, not the fastest run.
    centred = Measured(bench, roof / 0.4 + overhead, roof / 2 + overhead, cost_of(bench))
    assert fit.efficiency([centred], profile) == pytest.approx(0.4)


def test_fusions_are_the_followers_that_never_ran() -> None:
    observed = {
        ("Conv", "Relu"): frozenset({"Conv", "ReorderInput"}),
        ("Conv", "Sigmoid"): frozenset({"Conv", "Sigmoid"}),
        ("MatMul", "Add"): frozenset({"Gemm", "MatMul"}),
    }
    assert fit.fusions(observed) == {"Conv": ("Relu",), "MatMul": ("Add",)}


def test_onnxruntime_fuses_batchnorm_and_relu_into_conv_but_not_relu_into_matmul() -> None:
    assert "BatchNormalization" not in executed_op_types(micro.fusion_pair("Conv", "BatchNormalization"), 1)
    assert "Relu" not in executed_op_types(micro.fusion_pair("Conv", "Relu"), 1)
    assert "Relu" in executed_op_types(micro.fusion_pair("MatMul", "Relu"), 1)


def test_every_class_benchmark_costs_only_its_own_class() -> None:
    for bench in micro.class_benches():
        for one in bench.micros:
            classes = {n.op_class for n in cost_of(one).nodes} - {OpClass.VIEW}
            assert classes == {bench.op_class}, one.name


def test_channel_block_follows_the_vector_isa() -> None:
    def host(machine: str, *flags: str) -> Host:
        return Host("cpu", machine, frozenset(flags), None)

    assert host("x86_64", "avx2", "avx512f").fp32_block[0] == 16
    assert host("x86_64", "avx2").fp32_block[0] == 8
    assert host("aarch64").fp32_block[0] == 4
    assert host("x86_64", "sse4_2").fp32_block[0] == 1


def test_narrow_constants_are_the_pair_that_explains_the_conv_runs() -> None:
    profile = HardwareProfile(name="t", peak_flops={"fp32": 1e11}, memory_bandwidth=1e10)
    truth_shape = ConvShape(narrow_channels=8, narrow_rows=2)
    truth = replace(
        profile, conv_shape=truth_shape, efficiency={OpClass.CONV: 0.8, OpClass.DEPTHWISE_CONV: 0.3}
    )
    dense = [
        micro.conv_chain(16, 56, 3),
        micro.conv_chain(64, 28, 3),
        micro.conv_chain(128, 7, 3),
        micro.pointwise_pair(128, 32, 28),
    ]
    depthwise = [micro.conv_chain(96, 56, 3, groups=96), micro.conv_chain(384, 7, 3, groups=384)]

    def timed(bench: micro.Micro) -> Measured:
        return _measured(bench, sum(node_time(n, truth).time_s for n in cost_of(bench).nodes))

    runs = [[timed(bench) for bench in benches] for benches in (dense, depthwise)]
    shape = fit.narrow_shapes(runs, profile)
    assert shape.narrow_channels == pytest.approx(8, rel=0.1)
    assert shape.narrow_rows == pytest.approx(2, rel=0.1)
    shaped = replace(profile, conv_shape=shape)
    assert fit.efficiency(runs[0], shaped) == pytest.approx(0.8, rel=0.05)
    assert fit.efficiency(runs[1], shaped) == pytest.approx(0.3, rel=0.05)


def test_blocked_multiple_is_the_smallest_step_the_layout_still_takes() -> None:
    # onnxruntime with 16-channel blocks: 20 and 24 channels convert, 17 and 18 do not.
    assert fit.blocked_multiple(16, {32: True, 17: False, 18: False, 20: True, 24: True}) == 4
    assert fit.blocked_multiple(16, {32: True, 17: True}) == 1  # any count converts: no fallback
    assert fit.blocked_multiple(16, {32: False, 17: False}) == 1  # no blocked layout at all
    assert fit.blocked_multiple(8, {16: True, 9: False, 10: False, 12: False}) == 8


def test_onnxruntime_runs_convs_of_58_channels_outside_its_blocked_layout() -> None:
    assert "ReorderInput" in executed_op_types(micro.layout_probe(60), 1)
    assert "ReorderInput" not in executed_op_types(micro.layout_probe(58), 1)


def test_blocked_ops_are_those_between_convs_that_needed_no_conversions() -> None:
    kept = Counter({"ReorderInput": 1, "ReorderOutput": 1, "Conv": 2, "Relu": 1})
    converted = Counter({"ReorderInput": 2, "ReorderOutput": 2, "Conv": 2, "Transpose": 1})
    assert fit.blocked_ops({"Transpose": converted, "Relu": kept}) == ("Relu",)


def test_onnxruntime_keeps_relu_in_its_blocked_layout_and_converts_around_a_transpose() -> None:
    assert executed_kernels(micro.blocked_probe("Relu"), 1)["ReorderInput"] == 1
    assert executed_kernels(micro.blocked_probe("Transpose"), 1)["ReorderInput"] == 2


def test_robust_centre_leaves_out_a_burst_of_load() -> None:
    from archlint.measure.calibration.measure import relative_mad, robust_centre

    rounds = [1.00, 1.02, 0.98, 1.01, 0.99, 3.0]  # the last round ran beside another process
    assert robust_centre(rounds) == pytest.approx(1.0)
    assert relative_mad(rounds) == pytest.approx(0.015, abs=0.006)


def _profile() -> HardwareProfile:
    return HardwareProfile(name="t", peak_flops={"fp32": 1e11}, memory_bandwidth=1e10)


def test_kernel_fit_separates_efficiency_from_the_fixed_cost_per_kernel() -> None:
    from archlint.measure.calibration import kernels

    profile, base = _profile(), 5e-6
    benches = [kernels.small_layer_norm(16, 128), kernels.small_layer_norm(128, 768, 4)]
    runs = []
    for bench in benches:
        roof, count = fit.kernel_work(_measured(bench, 1.0), profile)
        runs.append(_measured(bench, roof / 0.3 + count * 2e-6 + base))
    fitted = fit.kernel_fit(runs, profile, base)
    assert fitted.efficiency == pytest.approx(0.3, abs=1e-3)
    assert fitted.overhead_s == pytest.approx(2e-6, rel=1e-3)


def test_kernel_fit_keeps_its_figures_within_bounds() -> None:
    from archlint.measure.calibration import kernels

    bench = kernels.small_unary("Relu", (16, 512))
    roof, _ = fit.kernel_work(_measured(bench, 1.0), _profile())
    faster_than_the_roofline = _measured(bench, roof / 3)
    fitted = fit.kernel_fit([faster_than_the_roofline], _profile(), 0.0)
    assert fitted.efficiency <= 1 and fitted.overhead_s >= 0
    views = kernels.reshapes((16, 4, 32))  # no roofline time at all: only a fixed cost to fit
    assert fit.kernel_fit([_measured(views, 16 * 4e-7)], _profile(), 0.0).overhead_s == pytest.approx(4e-7)


def test_subnormal_penalty_is_the_larger_ratio_and_never_below_one() -> None:
    from archlint.measure.calibration import subnormal

    clean, slow = subnormal.benches()[0], subnormal.benches()[1]

    def rounds(bench: micro.Micro, seconds: float) -> Measured:
        return Measured(bench, seconds, seconds, cost_of(bench), (seconds,) * 3)

    slowed = subnormal.penalty(
        [rounds(clean, 1e-3), rounds(slow, 9e-2), rounds(clean, 1e-3), rounds(slow, 2e-3)], False
    )
    assert slowed.slowdown == pytest.approx(90.0)
    even = subnormal.penalty([rounds(clean, 1e-3), rounds(slow, 0.95e-3)] * 2, False)
    assert even.slowdown == 1.0
    noise = subnormal.penalty([rounds(clean, 1e-3), rounds(slow, 1.01e-3)] * 2, False)
    assert noise.slowdown == 1.0  # two equal timings on a shared machine, not a penalty


def test_subnormal_weights_are_subnormal() -> None:
    import numpy as np
    from onnx import numpy_helper

    from archlint.measure.calibration import subnormal

    for bench in subnormal.benches()[1::2]:
        (w,) = [numpy_helper.to_array(t) for t in bench.proto.graph.initializer if t.dims and len(t.dims) > 1]
        tiny = np.abs(w[w != 0])
        assert tiny.max() < np.finfo(np.float32).tiny


def test_a_fixed_cost_the_runs_cannot_identify_is_held_where_it_is_given() -> None:
    from archlint.measure.calibration import kernels

    bench = kernels.small_layer_norm(128, 768, 4)  # large shapes only
    roof, count = fit.kernel_work(_measured(bench, 1.0), _profile())
    run = _measured(bench, roof / 0.5 + count * 3e-6)
    held = fit.kernel_fit([run], _profile(), 0.0, overhead_s=3e-6)
    assert held.overhead_s == 3e-6
    assert held.efficiency == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    "op_type",
    [
        "SkipLayerNormalization",
        "BiasGelu",
        "FastGelu",
        "QLinearAdd",
        "QLinearMul",
        "QLinearSoftmax",
        "QLinearMatMul",
        "QLinearConv",
    ],
)
def test_fused_and_quantized_kernels_get_benches_archlint_costs(op_type: str) -> None:
    (bench,) = [b for b in kernels.op_type_benches() if b.op_type == op_type]
    for bench_micro in bench.micros:
        cost = cost_of(bench_micro)
        assert not cost.unknown_ops
        assert {n.op_type for n in cost.nodes} == {op_type}
    costs = [cost_of(m) for m in bench.micros]
    # Small and large ones: the fit can tell a fixed cost from an efficiency with them.
    assert min(c.flops for c in costs) < costs[-1].flops


def test_a_pair_that_ran_as_one_kernel_of_another_type_is_a_fused_kernel() -> None:
    executed = {
        ("Add", "LayerNormalization"): Counter({"SkipLayerNormalization": 1}),
        ("Add", "Gelu"): Counter({"Add": 1, "Gelu": 1}),  # not fused: two kernels
        ("Mul", "Relu"): Counter({"Mul": 1}),  # fused into the producer: the other table's business
    }
    assert fit.fused_kernels(executed) == {"LayerNormalization": {"Add": "SkipLayerNormalization"}}


def test_the_integer_im2col_cost_is_recovered_from_timings() -> None:
    """Synthetic QLinearConvs timed as a profile with a known im2col cost predicts them: the fit
    finds that cost again (to the grid's step), and 0 where channels make no difference."""
    base = HardwareProfile(
        name="t",
        peak_flops={"fp32": 1e11, "int8": 4e11},
        memory_bandwidth=2e10,
        channel_alignment={"fp32": 16},
        op_overhead_s=0.0,
    )
    wide = [kernels.qlinear_convs(32, 16), kernels.qlinear_convs(64, 28)]

    def timed(benches: Sequence[micro.Micro], tap_s: float) -> list[Measured]:
        truth = replace(base, conv_shape=ConvShape(int8_tap_s=tap_s))
        return [
            _measured(bench, sum(node_time(n, truth).time_s / 0.8 + 2e-6 for n in cost_of(bench).nodes))
            for bench in benches
        ]

    narrow = kernels.narrow_qlinear_convs()
    found = fit.int8_tap_seconds(timed(narrow, 1.5e-9), timed(wide, 1.5e-9), base, run_base_s=0.0)
    assert found == pytest.approx(1.5e-9, rel=0.2)
    assert fit.int8_tap_seconds(timed(narrow, 0.0), timed(wide, 0.0), base, run_base_s=0.0) == 0.0


def test_an_integer_conv_of_few_channels_pays_for_copying_its_taps() -> None:
    profile = HardwareProfile(
        name="t",
        peak_flops={"fp32": 1e11, "int8": 4e11},
        memory_bandwidth=1e12,
        channel_alignment={"fp32": 16},  # 64-byte vectors
        conv_shape=ConvShape(int8_tap_s=1e-9),
    )
    flat = replace(profile, conv_shape=ConvShape())
    (narrow,) = cost_of(kernels.qlinear_conv(4, 32, 56, 3)).nodes
    extra = node_time(narrow, profile).time_s - node_time(narrow, flat).time_s
    assert extra == pytest.approx(56 * 56 * 9 * 1e-9 * (1 - 4 / 64))  # positions x taps x (1 - c / v)
    (wide,) = cost_of(kernels.qlinear_convs(64, 28, chain=1)).nodes  # fills a vector: no copying cost
    pointwise = replace(narrow, reduction_length=4)  # 4 channels x 1 tap: nothing to copy
    for cost in (wide, pointwise):
        assert node_time(cost, profile).time_s == pytest.approx(node_time(cost, flat).time_s)


def test_transposes_are_timed_from_a_head_swap_to_a_window_partition() -> None:
    (bench,) = [b for b in kernels.op_type_benches() if b.op_type == "Transpose"]
    costs = [cost_of(m) for m in bench.micros]
    assert all({n.op_type for n in c.nodes} == {"Transpose"} for c in costs)
    ranks = [len(m.shape) for m in bench.micros]
    assert ranks == [4, 4, 6, 5]  # the 4-D swap of attention heads, and Swin's 6-D and 5-D ones
    moved = [sum(n.bytes for n in c.nodes) for c in costs]
    assert moved[0] < min(moved[1:])  # small chains beside large ones: fixed cost apart from rate
