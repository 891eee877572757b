"""AL203 conv-fast-paths."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import Field

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.units import count, percent, seconds

from ._graph import conv_alternative, conv_ints, conv_weight, fed_by_model_input, static_shape

# Gray, RGB and RGBA images: a conv reading this few channels from a model input is a stem.
_IMAGE_CHANNELS = 4


class ConvFastPathsOptions(RuleOptions):
    fast_kernels: tuple[int, ...] = Field(
        (1, 3), description="Square kernel sizes the target's engines have fast kernels for."
    )
    fast_strides: tuple[int, ...] = Field((1, 2), description="Strides those fast kernels support.")


@dataclass(frozen=True)
class _Conv:
    """What the rule reads of one 2-D convolution."""

    node: NodeCost
    weight: tuple[int, ...]  # (OC, IC/G, KH, KW)
    in_channels: int
    strides: tuple[int, ...]
    dilations: tuple[int, ...]

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.weight[2:]

    @property
    def groups(self) -> int:
        return self.in_channels // self.weight[1]


class ConvFastPaths(Rule):
    """## What it does
    Finds 2-D convolutions whose shape is off the fast paths inference engines optimize: kernels
    other than 1x1 and 3x3 (5x5, 7x7, 1x7), strides other than 1 and 2, and dilations above 1.
    For an odd square kernel of 5 or more it re-costs the stack of 3x3 convs with the same
    receptive field (two for 5x5, three for 7x7), the narrower of the input and output widths
    running between them, so the stack never does more FLOPs than the kernel it replaces.
    Non-overlapping "patchify" convs (kernel equal to stride, no padding, as in ViT and ConvNeXt
    stems) are not reported: engines run them as a reshape and one matrix product. A
    large-kernel stem (a conv that reads at most 4 channels, a gray, RGB or RGBA image, from a
    model input) is common and is reported at info severity; its stack keeps the output width
    between its convs, as the ResNet-C stem does, since 3 channels cannot carry features.

    ## Why is this bad?
    Engines have hand-tuned kernels for the common shapes (3x3 and 1x1 at stride 1 or 2, and
    depthwise 3x3 at stride 1 or 2, with Winograd for 3x3 stride 1); other shapes fall back to
    generic im2col or direct kernels. On GPUs a dense 3x3 conv reaches roughly 4x the compute
    density of 1x1 and 5x5 ones (RepVGG), and NPUs often support only a few kernel sizes and
    strides natively. Two stacked 3x3 convs see what one 5x5 sees with 18/25 of the FLOPs at
    equal widths, plus a nonlinearity in between. The finding gives the shape, the conv's share
    of the predicted latency and, for large kernels, the predicted time of the 3x3 stack. The
    roofline knows nothing of fast paths, so it credits the stack only with the FLOPs it saves
    and charges it for the extra launch and intermediate tensor: the real gain is larger.

    ## Example
    ```python
    nn.Conv2d(64, 64, 5, padding=2)  # 5x5: no fast path on many engines
    nn.Conv2d(64, 64, 3, stride=3)  # stride 3: generic kernel
    ```

    ## Use instead
    ```python
    nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1))  # 18/25 of the FLOPs
    nn.Conv2d(64, 64, 3, stride=2, padding=1)  # downsample by 2 and adjust the next stage
    ```

    ## Options
    (written from the options model)

    ## References
    - Ding et al., "RepVGG: Making VGG-style ConvNets Great Again", CVPR 2021 (3x3 compute
      density on GPUs).
    - Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
      Recognition", ICLR 2015 (stacked 3x3 convs in place of larger kernels).
    - Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016 (Winograd
      for 3x3 stride-1 convs).
    """

    code = "AL203"
    name = "conv-fast-paths"
    summary = "conv kernels, strides and dilations off the engines' fast paths"
    severity = severity_by_kind(gpu=Severity.WARNING, npu=Severity.WARNING, cpu=Severity.INFO)
    options_type = ConvFastPathsOptions
    options: ConvFastPathsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for node in ctx.cost.nodes:
            conv = _conv(ctx, node)
            if conv is None or node.flops == 0 or _patchify(conv):
                continue
            problems = self._problems(conv)
            found = self._finding(ctx, conv, problems) if problems else None
            if found is not None:
                yield found

    def _problems(self, conv: _Conv) -> list[tuple[str, str]]:
        """(what is off the fast path, the fix for it)."""
        kh, kw = conv.kernel
        found = []
        if kh != kw or kh not in self.options.fast_kernels:
            found.append((f"a {kh}x{kw} kernel", _kernel_fix(conv, self.options.fast_kernels)))
        if any(s not in self.options.fast_strides for s in conv.strides):
            usable = max((s for s in self.options.fast_strides if s <= max(conv.strides)), default=1)
            fix = f"use stride {usable} and downsample the rest elsewhere (pooling or a later strided stage)"
            found.append((f"stride {'x'.join(map(str, conv.strides))}", fix))
        if any(d > 1 for d in conv.dilations):
            fix = "reach the receptive field with stacked 3x3 convs, or undilated ones at a lower resolution"
            found.append((f"dilation {'x'.join(map(str, conv.dilations))}", fix))
        return found

    def _finding(self, ctx: RuleContext, conv: _Conv, problems: list[tuple[str, str]]) -> Finding | None:
        node = conv.node
        stack = _stack_of_3x3(ctx, conv)
        stack_s = ctx.time_of(stack)
        saving = ctx.time(node) - stack_s if stack else None
        if saving is not None and saving <= 0:
            # The 3x3 stack is predicted no faster: the large kernel is the right call here.
            problems, stack, saving = problems[1:], [], None
            if not problems:
                return None
        fixes = [fix for _, fix in problems]
        kind = "depthwise " if node.op_class is OpClass.DEPTHWISE_CONV else ""
        kernels = " and ".join(f"{k}x{k}" for k in self.options.fast_kernels)
        strides = " or ".join(map(str, self.options.fast_strides))
        message = (
            f"{kind}{node.op_type} {node.name!r} ({conv.in_channels} -> {conv.weight[0]}) has "
            f"{' and '.join(what for what, _ in problems)}, off the engines' fast paths ({kernels} "
            f"kernels at stride {strides}); it takes {percent(ctx.time(node), ctx.latency_s)} of the "
            f"predicted latency on {ctx.profile.name}."
        )
        if stack:
            widths = " -> ".join(map(str, _stack_widths(ctx, conv)))
            fixes[0] = f"use {len(stack)} stacked 3x3 convs {widths} (same receptive field)"
            message += (
                f" {len(stack)} stacked 3x3 convs cover the same receptive field with "
                f"{count(sum(c.flops for c in stack))} FLOPs instead of {count(node.flops)}, in a predicted "
                f"{seconds(stack_s)} against {seconds(ctx.time(node))} now."
            )
        stem = _image_stem(ctx, conv)
        if stem:
            fixes.append("a large-kernel stem on the image input is common")
        # Without a priced alternative the roofline cannot say what the fast path is worth.
        severity = Severity.INFO if stem or saving is None else None
        return Finding(
            node=node.name,
            message=message[:1].upper() + message[1:],
            fix="; ".join(fixes) + ".",
            saving_s=saving,
            severity=severity,
        )


def _image_stem(ctx: RuleContext, conv: _Conv) -> bool:
    """The first conv on an image: few input channels (gray, RGB, RGBA) straight from the input."""
    return conv.in_channels <= _IMAGE_CHANNELS and fed_by_model_input(ctx, conv.node)


def _conv(ctx: RuleContext, node: NodeCost) -> _Conv | None:
    weight = conv_weight(ctx, node)
    x_shape = static_shape(ctx, node.node.input(0))
    if weight is None or x_shape is None or len(weight[0]) != 4 or len(x_shape) < 2:
        return None
    shape, _ = weight
    if x_shape[1] < shape[1] or x_shape[1] % shape[1]:
        return None  # input channels the weight cannot group: not a conv anything can run
    strides, dilations = conv_ints(node, "strides", 2), conv_ints(node, "dilations", 2)
    return _Conv(node, shape, x_shape[1], strides, dilations)


def _patchify(conv: _Conv) -> bool:
    """Non-overlapping windows: engines lower these to a reshape and one GEMM."""
    pads = conv.node.node.attr("pads", [0, 0, 0, 0])
    unpadded = not any(pads) and conv.node.node.attr("auto_pad", "NOTSET") in ("NOTSET", "VALID")
    return conv.kernel == conv.strides and unpadded and all(d == 1 for d in conv.dilations)


def _kernel_fix(conv: _Conv, fast_kernels: tuple[int, ...]) -> str:
    kh, kw = conv.kernel
    if kh == kw and kh % 2 and kh > 3 and 3 in fast_kernels:
        return f"use {(kh - 1) // 2} stacked 3x3 convs (same {kh}x{kh} receptive field)"
    return "use 3x3 or 1x1 kernels, stacking 3x3 convs where a larger receptive field is needed"


def _stack_widths(ctx: RuleContext, conv: _Conv) -> list[int]:
    """Channels into, between and out of the 3x3 stack that replaces a k x k kernel."""
    out_channels = conv.weight[0]
    width = out_channels if _image_stem(ctx, conv) else min(conv.in_channels, out_channels)
    return [conv.in_channels] + [width] * ((conv.kernel[0] - 1) // 2 - 1) + [out_channels]


def _stack_of_3x3(ctx: RuleContext, conv: _Conv) -> list[NodeCost]:
    """The 3x3 convs that replace an odd square kernel of 5 or more. The first carries the
    stride; between them runs the narrower of the input and output widths, so the stack never
    does more FLOPs than the kernel it replaces (an image stem's 3 channels are too few to carry
    features, so a stem's stack runs at the output width, as the ResNet-C stem does)."""
    kh, kw = conv.kernel
    out_shape = static_shape(ctx, conv.node.node.outputs[0])
    if kh != kw or kh % 2 == 0 or kh <= 3 or any(d > 1 for d in conv.dilations) or out_shape is None:
        return []
    node, widths = conv.node, _stack_widths(ctx, conv)
    in_shape = static_shape(ctx, node.node.input(0))
    if in_shape is None:
        return []
    stack = []
    for cin, cout in itertools.pairwise(widths):
        groups = cin if node.op_class is OpClass.DEPTHWISE_CONV else conv.groups
        out = (out_shape[0], cout, *out_shape[2:])
        layer = conv_alternative(ctx, node, (cout, cin // groups, 3, 3), out, groups, in_shape)
        if layer is None:
            return []
        stack.append(layer)
        in_shape = out  # the first carries the stride; the rest run at the output resolution
    return stack
