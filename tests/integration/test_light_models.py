"""Every classic architecture onnx ships in backend/test/data/light: no unknown op, and params /
MACs within a few percent of the published figures (their weights are built by ConstantOfShape).

Published figures and where they come from:
- Sze, Chen, Yang, Emer, "Efficient Processing of Deep Neural Networks", Proc. IEEE 2017, Table:
  AlexNet 61 M weights, 724 M MACs (227x227 input); GoogLeNet v1 7.0 M weights, 1.43 G MACs.
- torchvision model docs (weights' num_params and GFLOPS, GFLOPS there meaning multiply-adds):
  ResNet-50 25,557,032 / 4.09 G; VGG-19 143,667,240 / 19.63 G; DenseNet-121 7,978,856 / 2.83 G;
  SqueezeNet 1.1 1,235,496 / 0.35 G.
- Zhang et al., "ShuffleNet", CVPR 2018, Table 1: ShuffleNet 1x, g=4 (272 channels in stage 2):
  133 M MFLOPs (their FLOPs are multiply-adds).
- ONNX model zoo READMEs (file size of fp32 weights): ZFNet-512 349 MB (87.2 M params),
  Inception-v2 44 MB (11.0 M params), ShuffleNet 5.3 MB (1.39 M params, read as MiB).
- Bianco et al., "Benchmark Analysis of Representative Deep Neural Network Architectures",
  IEEE Access 2018: BN-Inception (Inception-v2) ~2.0 G multiply-adds.
Our params also count BatchNorm running mean and variance, which the ONNX files store as weights
and torchvision does not count: that is the +0.2 % (ResNet-50) to +2.1 % (DenseNet-121).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from archlint.api import analyze

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
TOLERANCE = 0.05

# file stem -> (published params, published MACs or None, input override)
PUBLISHED: dict[str, tuple[float, float | None, dict[str, tuple[int, ...]]]] = {
    "light_bvlc_alexnet": (60.97e6, 724e6, {"data_0": (1, 3, 227, 227)}),
    "light_vgg19": (143.667e6, 19.63e9, {}),
    "light_resnet50": (25.557e6, 4.09e9, {}),
    "light_densenet121": (7.979e6, 2.83e9, {}),
    "light_squeezenet": (1.235e6, 0.35e9, {}),
    "light_inception_v1": (7.0e6, 1.43e9, {}),
    "light_inception_v2": (11.0e6, 2.0e9, {}),
    "light_shufflenet": (1.39e6, 133e6, {}),
    "light_zfnet512": (87.2e6, None, {}),
}


def test_every_light_model_is_covered() -> None:
    assert {p.stem for p in LIGHT.glob("*.onnx")} == set(PUBLISHED)


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_light_model_matches_published_figures(stem: str) -> None:
    params, macs, inputs = PUBLISHED[stem]
    cost = analyze(LIGHT / f"{stem}.onnx", inputs=inputs).cost
    assert cost.unknown_ops == ()
    assert cost.folded_nodes > 0  # the ConstantOfShape weight builders
    assert cost.params == pytest.approx(params, rel=TOLERANCE)
    if macs is not None:
        assert cost.flops / 2 == pytest.approx(macs, rel=TOLERANCE)
