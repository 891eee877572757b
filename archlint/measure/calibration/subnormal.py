"""The host's subnormal penalty: a conv and a GEMM with subnormal weights against clean ones.

Each pair has the same shapes and kernels; one has He-scaled weights, the other the same weights
scaled into the fp32 subnormal range (|w| < 1.1755e-38), so that with normal inputs every
product, and every partial sum, is subnormal too. Both run in onnxruntime with its default
settings (it does not turn on flush-to-zero unless asked), interleaved in the same rounds, so
their ratio is the penalty a model with subnormal weights pays on this CPU. Whether the engine
or the CPU flushed is read off the outputs: a flushed product is an exact zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archlint.measure.calibration.measure import Measured, relative_mad
from archlint.measure.calibration.micro import Micro, _Graph

#: Subnormal weights are the clean ones times this: He-scaled weights of a few tenths become
#: magnitudes around 1e-39, below fp32's smallest normal number (1.1755e-38).
SUBNORMAL_SCALE = 1e-38
CONV_SHAPE = (1, 64, 28, 28)
#: A subnormal run this little slower than the normal one counts as no penalty.
NOISE = 0.05
GEMM_SIZE = 256


def _conv(scale: float, label: str) -> Micro:
    g = _Graph(CONV_SHAPE)
    rng = np.random.default_rng(3)
    channels = CONV_SHAPE[1]
    w = (rng.standard_normal((channels, channels, 3, 3)) * np.sqrt(2 / (9 * channels)) * scale).astype(
        np.float32
    )
    y = g.op("Conv", ["x", g.const(w)], kernel_shape=[3, 3], pads=[1] * 4)
    return Micro(f"conv 3x3 {channels}ch 28x28, {label} weights", g.finish(y), g.shape)


def _gemm(scale: float, label: str) -> Micro:
    g = _Graph((GEMM_SIZE, GEMM_SIZE))
    rng = np.random.default_rng(4)
    w = (rng.standard_normal((GEMM_SIZE, GEMM_SIZE)) * np.sqrt(2 / GEMM_SIZE) * scale).astype(np.float32)
    y = g.op("MatMul", ["x", g.const(w)])
    return Micro(f"matmul {GEMM_SIZE}^3, {label} weights", g.finish(y), g.shape)


def benches() -> tuple[Micro, ...]:
    """Clean conv, subnormal conv, clean GEMM, subnormal GEMM: in that order."""
    return (
        _conv(1.0, "normal"),
        _conv(SUBNORMAL_SCALE, "subnormal"),
        _gemm(1.0, "normal"),
        _gemm(SUBNORMAL_SCALE, "subnormal"),
    )


@dataclass(frozen=True)
class Penalty:
    conv: float  # subnormal time over clean time
    gemm: float
    spread: float  # relative MAD of the per-round ratios, the larger of the two
    flushed: bool  # the subnormal products came out as zeros

    @property
    def slowdown(self) -> float:
        """The profile's figure: the larger ratio, or 1 where it is within the noise.

        Within the noise: no more than ``NOISE`` above 1, nor than three of its rounds' MADs (a
        1.01x "penalty" on a shared machine is two equal timings).
        """
        worst = max(self.conv, self.gemm)
        if worst - 1 <= max(NOISE, 3 * self.spread):
            return 1.0
        return round(worst, 2)


def penalty(runs: Sequence[Measured], flushed: bool) -> Penalty:
    conv_clean, conv_sub, gemm_clean, gemm_sub = runs

    def ratios(clean: Measured, slow: Measured) -> list[float]:
        return [s / c for s, c in zip(slow.rounds, clean.rounds, strict=True)]

    conv, gemm = ratios(conv_clean, conv_sub), ratios(gemm_clean, gemm_sub)
    return Penalty(
        conv_sub.seconds / conv_clean.seconds,
        gemm_sub.seconds / gemm_clean.seconds,
        max(relative_mad(conv), relative_mad(gemm)),
        flushed,
    )


def outputs_flushed(subnormal_gemm: Micro) -> bool:
    """Whether onnxruntime's default session returned zeros for products that are subnormal."""
    from archlint.measure import runtime

    session = runtime.make_session(subnormal_gemm.proto, optimization="all", threads=1)
    feeds = runtime.random_inputs(subnormal_gemm.proto, {"x": subnormal_gemm.shape})
    (output,) = runtime.run(session, feeds).values()
    return bool(np.count_nonzero(output) == 0)
