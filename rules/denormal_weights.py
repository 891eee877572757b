"""AL401 denormal-weights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.fixes.flush_denormals import SMALLEST_NORMAL, TINY, Counts
from archlint.fixes.fold_batchnorm import batchnorm_scale, folded_weight
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.model.weights import float_weights, weight_array
from archlint.units import seconds

# Measured by benchmarks/denormals.py (one 3x3 Conv, 64 -> 64 channels, 56x56, onnxruntime 1.31.1
# CPU, one thread, default session options, Intel Xeon Cascade Lake, median of 20 runs; see
# docs/fix.md): time with that share of the weights subnormal over time with normal weights.
MEASURED_SLOWDOWN: tuple[tuple[float, float], ...] = ((0.001, 3.3), (0.01, 21.8), (0.1, 117.1), (1.0, 140.1))


@dataclass(frozen=True)
class _Scanned:
    """A weight with subnormal or tiny values, or whose BatchNorm folding would create some."""

    name: str
    dtype: str
    counts: Counts
    folds: tuple[tuple[NodeCost, NodeCost, Counts], ...]  # (Conv, BatchNormalization, folded counts)


class DenormalWeightsOptions(RuleOptions):
    tiny_threshold: float = Field(
        TINY,
        gt=0,
        description="Also report normal weights whose magnitude is at or below this.",
    )
    measured_slowdown: tuple[tuple[float, float], ...] = Field(
        MEASURED_SLOWDOWN,
        description="(share of a Conv's weights that are subnormal, measured time factor of that Conv) "
        "points; the estimate interpolates between them. Default: benchmarks/denormals.py.",
    )

    @field_validator("measured_slowdown")
    @classmethod
    def _increasing_shares(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        shares = [share for share, _ in points]
        if not points or shares != sorted(shares) or not all(0 < s <= 1 for s in shares):
            raise ValueError("give (share, factor) points with shares increasing in (0, 1]")
        if any(factor < 1 for _, factor in points):
            raise ValueError("a slowdown factor is at least 1")
        return points


class DenormalWeights(Rule):
    """## What it does
    Reads the values of every floating-point weight and counts three things: subnormal values
    (float32: 0 < |w| < 1.1755e-38; float16: 0 < |w| < 6.104e-5), tiny normal values
    (0 < |w| <= 1e-15), and the subnormal values that folding a BatchNormalization into the
    Conv before it would create (`w * gamma / sqrt(var + eps)`, computed in float32 as engines
    do when they fuse the two at load time, onnxruntime's default among them).

    ## Why is this bad?
    x86 CPUs compute with subnormal operands and results on a slow microcode path unless the
    engine turns on flush-to-zero / denormals-are-zero. A ResNet-50-class model retrained on more
    data ran about 3x slower on x86 in two independent engines, all of the extra time in its
    convolutions, because BatchNorm folding had produced many weights below 1e-15. Tiny normal
    weights are a risk rather than a certainty: `w * x` is subnormal only when the activation is
    small too, which happens when layer after layer of tiny weights shrinks the activations (in
    `benchmarks/denormals.py` a conv stack with 90% of its weights near 1e-20 ran at full speed,
    one with all of them there 11x slower). GPUs (CUDA FMA pipelines) and NPUs flush subnormals
    and lose nothing, so the rule stays silent on targets whose profile says
    `flush_to_zero: always`.

    The roofline cannot see this slow path. The saving is therefore an estimate from a
    measured slowdown, not a prediction: for each Conv that reads subnormal weights, the
    predicted time times (factor - 1), where the factor is interpolated at the share of that
    Conv's weights that are subnormal from `measured_slowdown`. The default points were measured
    by `benchmarks/denormals.py` (onnxruntime 1.31 CPU, one thread, Intel Xeon Cascade Lake): 0.1%
    subnormal weights made a 3x3 Conv 3.3x slower, 1% 22x, 10% 117x, all of them 140x. The
    factor depends on the CPU, the engine and the kernel; operators other than Conv are
    reported without an estimate.

    ## Example
    ```python
    # A channel whose BatchNorm gamma trained to ~1e-38 folds into subnormal conv weights.
    fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
    torch.onnx.export(fused, x, "model.onnx")
    ```

    ## Use instead
    ```sh
    archlint fix model.onnx -o fixed.onnx  # folds BatchNorm, then sets |w| <= 1e-15 to ±0
    ```
    or turn on flush-to-zero in the engine (onnxruntime: session option
    `session.set_denormal_as_zero = 1`; PyTorch: `torch.set_flush_denormal(True)`).

    ## Options
    (written from the options model)

    ## References
    - Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 1, section 10.2.3: the
      MXCSR flush-to-zero and denormals-are-zeros modes.
    - alibaba/MNN issue #786 and opencv/opencv issue #17259 (fix: pull #17295): a retrained
      ResNet-50 about 3x slower on x86 CPUs in two engines, from weights below 1e-15.
    - `benchmarks/denormals.py` and docs/fix.md: the measurements behind the default factors.
    """

    code = "AL401"
    name = "denormal-weights"
    summary = "subnormal or tiny weights that send x86 CPUs down their slow path"
    severity = severity_by_kind(cpu=Severity.WARNING, other=Severity.INFO)
    options_type = DenormalWeightsOptions
    fix_applicability = "safe"
    options: DenormalWeightsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.profile.flush_to_zero == "always":
            return  # the target flushes subnormals in hardware: no slow path to report
        for scanned in self._scan(ctx):
            readers = ctx.consumers.get(scanned.name, [])
            if scanned.counts.subnormal or scanned.counts.tiny:
                yield self._stored(ctx, scanned.name, readers, scanned.counts, scanned.dtype)
            for conv, bn, folded in scanned.folds:
                yield self._after_folding(ctx, conv, bn, folded, scanned.dtype)

    def _scan(self, ctx: RuleContext) -> tuple[_Scanned, ...]:
        """Weight values are read once per model, not once per target: the counts do not depend
        on the target, and reading every weight of a large model is the expensive part."""
        key = (self.code, self.options)
        if key not in ctx.analysis.memo:
            ctx.analysis.memo[key] = tuple(self._scan_weights(ctx))
        scanned: tuple[_Scanned, ...] = ctx.analysis.memo[key]
        return scanned

    def _scan_weights(self, ctx: RuleContext) -> Iterator[_Scanned]:
        for name, values in float_weights(ctx.cost.model):  # one tensor in memory at a time
            dtype = str(values.dtype)  # float32, float16, bfloat16, float64; fp8 formats are skipped
            smallest = SMALLEST_NORMAL.get(dtype)
            readers = ctx.consumers.get(name, [])
            if smallest is None or not readers:
                continue
            counts = Counts.of(values, smallest, self.options.tiny_threshold)
            folds = []
            for conv, bn in _folded_into(ctx, name, readers):
                folded = self._folded_counts(ctx, bn, values)
                if folded is not None and folded.subnormal > counts.subnormal:
                    folds.append((conv, bn, folded))
            if counts.subnormal or counts.tiny or folds:
                yield _Scanned(name, dtype, counts, tuple(folds))

    def _folded_counts(self, ctx: RuleContext, bn: NodeCost, values: np.ndarray[Any, Any]) -> Counts | None:
        scale = _batchnorm_scale(ctx, bn, values.dtype)
        if scale is None or scale.shape[0] != values.shape[0]:
            return None
        smallest = SMALLEST_NORMAL[str(values.dtype)]
        return Counts.of(folded_weight(values, scale), smallest, self.options.tiny_threshold)

    def _stored(
        self, ctx: RuleContext, name: str, readers: list[NodeCost], counts: Counts, dtype: str
    ) -> Finding:
        first = readers[0]
        more = f" (and {len(readers) - 1} more nodes)" if len(readers) > 1 else ""
        parts = []
        if counts.subnormal:
            parts.append(
                f"{counts.subnormal:,} subnormal ({_pct(counts, counts.subnormal)}, |w| < "
                f"{SMALLEST_NORMAL[dtype]:.4g} in {dtype})"
            )
        if counts.tiny:
            parts.append(
                f"{counts.tiny:,} tiny ({_pct(counts, counts.tiny)}, |w| <= {self.options.tiny_threshold:g})"
            )
        message = (
            f"{first.op_type} {first.name!r}{more} reads weight {name!r}: {' and '.join(parts)} of its "
            f"{counts.total:,} values; {_consequence(ctx, counts.subnormal > 0)}"
        )
        saving = self._extra_time(ctx, readers, counts.share(counts.subnormal), dtype)
        return Finding(
            node=first.name,
            message=message + _estimate(saving),
            fix=_FIX,
            saving_s=saving if saving > 0 else None,  # tiny normal weights: a risk, not a time
            severity=_severity(ctx, counts.subnormal > 0),
            touched=tuple(r.name for r in readers),
            in_latency=False,
        )

    def _after_folding(
        self, ctx: RuleContext, conv: NodeCost, bn: NodeCost, folded: Counts, dtype: str
    ) -> Finding:
        saving = self._extra_time(ctx, [conv], folded.share(folded.subnormal), dtype)
        message = (
            f"folding {bn.op_type} {bn.name!r} into Conv {conv.name!r} (w * gamma / sqrt(var + eps) in "
            f"{dtype}, as engines do when they fuse them at load time) makes {folded.subnormal:,} of "
            f"its {folded.total:,} weights ({_pct(folded, folded.subnormal)}) subnormal; "
            f"{_consequence(ctx, True)}"
        )
        return Finding(
            node=conv.name,
            message=message + _estimate(saving),
            fix="fold the BatchNormalization and flush the result: `archlint fix MODEL -o OUT.onnx` "
            "(safe), or turn on flush-to-zero in the engine",
            saving_s=saving if saving > 0 else None,  # tiny normal weights: a risk, not a time
            severity=_severity(ctx, True),
            in_latency=False,
        )

    def _extra_time(self, ctx: RuleContext, readers: list[NodeCost], share: float, dtype: str) -> float:
        """The measured slowdown applied to the predicted time of the fp32 Convs that read them."""
        if share <= 0 or dtype != "float32":
            return 0.0
        shares, factors = zip(*self.options.measured_slowdown, strict=True)
        factor = float(np.interp(share, [0.0, *shares], [1.0, *factors]))
        convs = [r for r in readers if r.op_class is OpClass.CONV]
        return sum(ctx.time(r) for r in convs) * (factor - 1)


_FIX = (
    "set them to signed zero with `archlint fix MODEL -o OUT.onnx` (safe: products with them are below "
    "float32 rounding), or turn on flush-to-zero in the engine (onnxruntime: session option "
    "session.set_denormal_as_zero=1)"
)


def _pct(counts: Counts, part: int) -> str:
    return f"{100 * counts.share(part):.3g}%"


def _consequence(ctx: RuleContext, subnormal: bool) -> str:
    profile = ctx.profile
    mode = profile.flush_to_zero or "not stated in the profile"
    if subnormal:
        return (
            f"{profile.name} computes with subnormals on a slow path unless the engine turns on "
            f"flush-to-zero (flush_to_zero: {mode})."
        )
    return (
        f"products with tiny weights underflow to subnormal activations at run time, a slow path on "
        f"{profile.name} unless the engine turns on flush-to-zero (flush_to_zero: {mode})."
    )


def _estimate(saving: float) -> str:
    if saving <= 0:
        return ""
    return f" Estimated extra time from a measured slowdown (not the roofline): {seconds(saving)}."


def _severity(ctx: RuleContext, subnormal: bool) -> Severity:
    """Subnormals are a definite slow path on a CPU; tiny weights and unknown targets a risk."""
    if not subnormal:
        return Severity.INFO
    if ctx.profile.flush_to_zero == "never":
        return Severity.ERROR  # the engine cannot switch the slow path off: only new weights help
    return Severity.WARNING if ctx.profile.kind == "cpu" else Severity.INFO


def _folded_into(ctx: RuleContext, name: str, readers: list[NodeCost]) -> Iterator[tuple[NodeCost, NodeCost]]:
    """(Conv, BatchNormalization) pairs an engine would fuse, for Convs that read ``name`` as weight."""
    for conv in readers:
        if conv.op_type != "Conv" or conv.node.input(1) != name:
            continue
        after = ctx.consumers.get(conv.node.outputs[0], [])
        if len(after) == 1 and after[0].op_type == "BatchNormalization" and after[0].node.input(0):
            yield conv, after[0]


def _batchnorm_scale(ctx: RuleContext, bn: NodeCost, dtype: np.dtype[Any]) -> np.ndarray[Any, Any] | None:
    model = ctx.cost.model
    gamma, var = weight_array(model, bn.node.input(1)), weight_array(model, bn.node.input(4))
    if gamma is None or var is None:
        return None
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        return batchnorm_scale(gamma, var, float(bn.node.attr("epsilon", 1e-5)), dtype)
