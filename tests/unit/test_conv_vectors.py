"""domain.md's test vectors: FLOPs exact, bytes within 0.1 %, pure-roofline time within 1 %."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archlint.analysis.model_cost import ModelCost
from archlint.api import analyze
from archlint.targets.registry import resolve
from tests.builders import conv_model, minimal_profile_yaml, save

MIB = 2**20
PEAK, BANDWIDTH = 2.86e12, 98.3e9

# (ic, oc, size, kernel, group, pad, flops, bytes)
VECTORS = [
    pytest.param(128, 128, 28, 3, 1, 1, 231.211e6, 1.328 * MIB, id="dense-128-28x28-3x3"),
    pytest.param(512, 1024, 7, 1, 1, 0, 51.380e6, 2.287 * MIB, id="pointwise-512-1024-7x7"),
    pytest.param(128, 128, 28, 3, 128, 1, 1.806e6, 0.770 * MIB, id="depthwise-128-28x28"),
    pytest.param(16, 16, 448, 3, 16, 1, 57.803e6, 24.501 * MIB, id="depthwise-16-448x448"),
    pytest.param(16, 16, 448, 3, 1, 1, 924.844e6, 24.509 * MIB, id="dense-16-448x448"),
]


def closed_form(ic: int, oc: int, size: int, kernel: int, group: int) -> tuple[int, int]:
    flops = 2 * 1 * oc * size * size * (ic // group) * kernel * kernel
    elements = ic * size * size + oc * size * size + oc * (ic // group) * kernel * kernel
    return flops, 4 * elements


@pytest.mark.parametrize(("ic", "oc", "size", "kernel", "group", "pad", "flops", "nbytes"), VECTORS)
def test_conv_vector(
    cost_of: Callable[..., ModelCost],
    tmp_path: Path,
    ic: int,
    oc: int,
    size: int,
    kernel: int,
    group: int,
    pad: int,
    flops: float,
    nbytes: float,
) -> None:
    cost = cost_of(conv_model(ic, oc, size, kernel, group, pad))
    (node,) = cost.nodes
    expected_flops, expected_bytes = closed_form(ic, oc, size, kernel, group)
    assert node.flops == expected_flops
    assert node.flops == pytest.approx(flops, abs=0.0005e6)  # the brief prints M to 3 decimals
    assert node.bytes == pytest.approx(nbytes, rel=1e-3)
    assert node.bytes == expected_bytes


@pytest.mark.parametrize(("ic", "oc", "size", "kernel", "group", "pad", "flops", "nbytes"), VECTORS)
def test_pure_roofline_time(
    tmp_path: Path,
    ic: int,
    oc: int,
    size: int,
    kernel: int,
    group: int,
    pad: int,
    flops: float,
    nbytes: float,
) -> None:
    profile = resolve(str(minimal_profile_yaml(tmp_path / "minimal.yaml", PEAK, BANDWIDTH)))
    path = save(conv_model(ic, oc, size, kernel, group, pad), tmp_path / "conv.onnx")
    (timed,) = analyze(path, [profile]).predictions[0].nodes
    expected = max(flops / PEAK, nbytes / BANDWIDTH)
    assert timed.time_s == pytest.approx(expected, rel=0.01)
    assert timed.bound == ("compute" if flops / PEAK > nbytes / BANDWIDTH else "memory")


def test_depthwise_has_a_sixteenth_of_the_flops_and_the_same_bytes(
    cost_of: Callable[..., ModelCost],
) -> None:
    dense = cost_of(conv_model(16, 16, 448, 3)).nodes[0]
    depthwise = cost_of(conv_model(16, 16, 448, 3, group=16)).nodes[0]
    assert dense.flops == 16 * depthwise.flops
    assert depthwise.bytes == pytest.approx(dense.bytes, rel=1e-3)
    assert dense.intensity / depthwise.intensity == pytest.approx(16, rel=1e-3)


def test_bias_is_ignored_in_flops_but_read(cost_of: Callable[..., ModelCost]) -> None:
    plain = cost_of(conv_model(128, 128, 28, 3)).nodes[0]
    biased = cost_of(conv_model(128, 128, 28, 3, bias=True)).nodes[0]
    assert biased.flops == plain.flops
    assert biased.bytes - plain.bytes == 128 * 4
    assert biased.params - plain.params == 128


def test_stride_and_dilation_act_through_the_output_shape(
    cost_of: Callable[..., ModelCost],
) -> None:
    strided = cost_of(conv_model(64, 64, 56, 3, stride=2)).nodes[0]  # 28 x 28 output
    assert strided.flops == 2 * 64 * 28 * 28 * 64 * 9
    dilated = cost_of(conv_model(8, 8, 32, 3, pad=0, dilation=2)).nodes[0]  # 28 x 28 output
    assert dilated.flops == 2 * 8 * 28 * 28 * 8 * 9


def test_conv_records_its_row_width_and_reduction_length(cost_of: Callable[..., ModelCost]) -> None:
    # The shape the roofline's conv_shape reads: output width, and multiply-adds per output.
    strided = cost_of(conv_model(64, 64, 56, 3, stride=2)).nodes[0]
    assert (strided.row_width, strided.reduction_length) == (28, 64 * 9)
    grouped = cost_of(conv_model(64, 128, 14, 3, group=4)).nodes[0]
    assert (grouped.row_width, grouped.reduction_length) == (14, 16 * 9)
    stem = cost_of(conv_model(3, 64, 224, 7, stride=2)).nodes[0]
    assert (stem.row_width, stem.reduction_length) == (112, 3 * 49)


def test_resnet_block_vectors(cost_of: Callable[..., ModelCost]) -> None:
    """IC=OC=256 56x56 3x3: ~3.7 G FLOPs, ~8.8 MB; 1x1-3x3-1x1 bottleneck: ~0.44 G, ~9.9 MB."""
    dense = cost_of(conv_model(256, 256, 56, 3)).nodes[0]
    assert dense.flops == pytest.approx(3.7e9, rel=0.01)
    assert dense.bytes == pytest.approx(8.8e6, rel=0.01)
    parts = [
        cost_of(conv_model(i, o, 56, k)).nodes[0] for i, o, k in ((256, 64, 1), (64, 64, 3), (64, 256, 1))
    ]
    assert sum(p.flops for p in parts) == pytest.approx(0.44e9, rel=0.01)
    assert sum(p.bytes for p in parts) == pytest.approx(9.9e6, rel=0.01)


def test_conv_transpose_scatters_each_input_over_the_kernel(
    cost_of: Callable[..., ModelCost],
) -> None:
    from onnx import helper

    from tests.builders import model, value, weight

    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    proto = model([node], [value("x", [1, 64, 14, 14])], [value("y", None)], [weight("w", (64, 32, 2, 2))])
    (deconv,) = cost_of(proto).nodes
    assert deconv.flops == 2 * 64 * 14 * 14 * 32 * 4
    assert deconv.padded_roles == ("input channels", "output channels")
    assert deconv.padded_dims == (64, 32)
