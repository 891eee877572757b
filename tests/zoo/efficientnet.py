"""EfficientNet-B0 (Tan, Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019).

B0 is the searched baseline, so no width or depth scaling applies. Stochastic depth only acts in
training; in eval mode it is the identity, so it is left out.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion, kernel, first stride, output channels, layers): Table 1 of the paper, stages 2..8.
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM, HEAD = 32, 1280
SE_RATIO = 0.25  # of the block's input channels, as in MnasNet, which the B0 search space follows


def conv_bn_silu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.SiLU(inplace=True),  # the paper's "swish"
    )


class SqueezeExcite(nn.Module):
    """Channel gating from globally pooled features (Hu et al., "Squeeze-and-Excitation", 2018)."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.act = nn.SiLU(inplace=True)
        self.restore = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.restore(self.act(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation: the building block of Table 1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = conv_bn_silu(cin, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = conv_bn_silu(hidden, hidden, kernel, stride, groups=hidden)
        self.se = SqueezeExcite(hidden, max(1, int(cin * SE_RATIO)))
        # Linear projection, as in MobileNetV2: an activation here would destroy information.
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


class EfficientNetB0(nn.Module):
    """EfficientNet-B0 for 224x224 ImageNet: Tan & Le, ICML 2019, Table 1."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_silu(3, STEM, 3, stride=2)]
        cin = STEM
        for expansion, kernel, stride, cout, count in STAGES:
            for index in range(count):
                layers.append(MBConv(cin, cout, kernel, stride if index == 0 else 1, expansion))
                cin = cout
        layers.append(conv_bn_silu(cin, HEAD, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def efficientnet_b0() -> EfficientNetB0:
    return EfficientNetB0()
