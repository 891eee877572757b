"""ONNX of any opset from 7: attribute forms that later opsets moved to inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from tests.builders import model, value, weight

Cost = Callable[..., ModelCost]


def test_opset7_conv_batchnorm_upsample_gemm(cost_of: Cost) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        helper.make_node("Upsample", ["n"], ["u"], scales=[1.0, 1.0, 2.0, 2.0], mode="nearest"),
        helper.make_node("Flatten", ["u"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
    ]
    inits = [
        weight("w", (8, 3, 3, 3)),
        *(weight(n, (8,)) for n in "sbmv"),
        weight("fc", (10, 8 * 16 * 16)),
    ]
    cost = cost_of(model(nodes, [value("x", [1, 3, 8, 8])], [value("y", None)], inits, opset=7))
    assert not cost.unknown_ops
    conv, bn, upsample, flatten, gemm = cost.nodes
    assert flatten.bytes == 0  # a view
    assert conv.flops == 2 * 8 * 64 * 3 * 9
    assert bn.flops == 2 * 8 * 64
    assert upsample.bytes == 4 * (8 * 64 + 8 * 256)
    assert gemm.flops == 2 * 10 * 8 * 256
    assert cost.params == 8 * 27 + 4 * 8 + 10 * 2048


def test_opset9_upsample_with_scales_input(cost_of: Cost) -> None:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    nodes = [helper.make_node("Upsample", ["x", "scales"], ["y"], mode="linear")]
    cost = cost_of(model(nodes, [value("x", [1, 4, 8, 8])], [value("y", None)], [scales], opset=9))
    (upsample,) = cost.nodes
    assert upsample.flops == 4 * 16 * 16 * (2 * 2) * 2  # bilinear: 4 taps, a multiply-add each
    assert upsample.params == 0  # float scales are metadata
