"""Build the example model that ships with the repository (examples/mobilenet_tiny.onnx).

A small MobileNet-style classifier for 96x96 images with the patterns archlint exists to flag:
a 30-channel stem (not a multiple of 8), depthwise-separable blocks, BatchNormalization left
unfolded, and a fan of tiny elementwise ops. Weights are seeded random numbers, so the file is
reproducible: ``python examples/make_examples.py`` rewrites it byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).with_name("mobilenet_tiny.onnx")
_rng = np.random.default_rng(0)


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def _weight(self, stem: str, shape: tuple[int, ...], scale: float = 0.1) -> str:
        name = self._name(stem)
        self.weights.append(
            numpy_helper.from_array((_rng.standard_normal(shape) * scale).astype(np.float32), name)
        )
        return name

    def conv_bn_relu(self, x: str, ic: int, oc: int, kernel: int, stride: int = 1, group: int = 1) -> str:
        w = self._weight("conv_w", (oc, ic // group, kernel, kernel))
        conv = self._name("conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, w],
                [conv],
                name=conv,
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=[kernel // 2] * 4,
                group=group,
            )
        )
        scale, bias = self._weight("bn_scale", (oc,), 1.0), self._weight("bn_bias", (oc,))
        mean, var = self._weight("bn_mean", (oc,)), self._name("bn_var")
        self.weights.append(numpy_helper.from_array(np.ones(oc, dtype=np.float32), var))
        bn = self._name("bn")
        self.nodes.append(
            helper.make_node("BatchNormalization", [conv, scale, bias, mean, var], [bn], name=bn)
        )
        relu = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [bn], [relu], name=relu))
        return relu

    def separable(self, x: str, ic: int, oc: int, stride: int) -> str:
        depthwise = self.conv_bn_relu(x, ic, ic, 3, stride, group=ic)
        return self.conv_bn_relu(depthwise, ic, oc, 1)


def build() -> onnx.ModelProto:
    b = _Builder()
    x = b.conv_bn_relu("image", 3, 30, 3, stride=2)  # 30 channels: padded to 32 by engines
    channels = 30
    for out, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1)):
        x = b.separable(x, channels, out, stride)
        channels = out
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
    b.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], name="flatten"))
    fc_w, fc_b = b._weight("fc_w", (10, channels)), b._weight("fc_b", (10,))
    b.nodes.append(
        helper.make_node("Gemm", ["features", fc_w, fc_b], ["logits"], name="classifier", transB=1)
    )
    graph = helper.make_graph(
        b.nodes,
        "mobilenet_tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 96, 96])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        b.weights,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="archlint-examples"
    )
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(build(), str(OUT))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")
