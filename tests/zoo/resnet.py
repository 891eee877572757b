"""ResNet-50 (He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016).

The bottleneck puts its stride on the 3x3 convolution ("v1.5"), as torchvision's weights do; the
paper strides the first 1x1, which skips three quarters of its input. The figures we compare with
(4.09 G multiply-adds, 25,557,032 parameters) are those of the v1.5 layout.
"""

from __future__ import annotations

import torch
from torch import nn

# (bottleneck width, blocks, stride of the stage's first block): Table 1 of the paper, conv2_x..conv5_x.
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
EXPANSION = 4  # the last 1x1 of each bottleneck widens back to 4x the bottleneck width


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    # No conv bias: the BatchNorm that follows has its own shift.
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)
    )


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand, plus a shortcut: Fig. 5 (right) of He et al. 2016."""

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * EXPANSION
        self.reduce = conv_bn(cin, width, 1)
        self.spatial = conv_bn(width, width, 3, stride)
        self.expand = conv_bn(width, cout, 1)
        # Projection shortcut (option B of the paper) only where the shape changes.
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.reduce(x))
        y = self.relu(self.spatial(y))
        return self.relu(self.expand(y) + self.shortcut(x))


class ResNet50(nn.Module):
    """ResNet-50 for 224x224 ImageNet: He et al., "Deep Residual Learning", CVPR 2016, Table 1."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn(3, 64, 7, stride=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1)
        )
        blocks: list[nn.Module] = []
        cin = 64
        for width, count, stride in STAGES:
            for index in range(count):
                blocks.append(Bottleneck(cin, width, stride if index == 0 else 1))
                cin = width * EXPANSION
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def resnet50() -> ResNet50:
    return ResNet50()
