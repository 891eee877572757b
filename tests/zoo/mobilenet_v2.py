"""MobileNetV2, width 1.0 (Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals
and Linear Bottlenecks", CVPR 2018).
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper.
BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM, HEAD = 32, 1280


def conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    # ReLU6 rather than ReLU: the paper keeps activations bounded for low-precision inference.
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Expand 1x1, depthwise 3x3, linear 1x1 projection; residual when shapes match (Table 1)."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        # t=1 has nothing to expand, so the paper's first bottleneck starts at the depthwise conv.
        self.expand = conv_bn_relu6(cin, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden)
        # No activation after the projection: the "linear bottleneck" that gives the paper its name.
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 1.0 for 224x224 ImageNet: Sandler et al., CVPR 2018, Table 2."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu6(3, STEM, 3, stride=2)]
        cin = STEM
        for expansion, cout, repeats, stride in BLOCKS:
            for index in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if index == 0 else 1, expansion))
                cin = cout
        layers.append(conv_bn_relu6(cin, HEAD, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mobilenet_v2() -> MobileNetV2:
    return MobileNetV2()
