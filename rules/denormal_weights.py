"""AL401 denormal-weights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from archlint.analysis.costs.record import OpClass
from archlint.analysis.model_cost import NodeCost
from archlint.fixes.flush_denormals import SMALLEST_NORMAL, TINY
from archlint.fixes.fold_batchnorm import batchnorm_scale, folded_weight
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.model.weight_scan import SmallValues, count_array, count_stored, scannable
from archlint.model.weights import weight_array
from archlint.targets.profile import HardwareProfile
from archlint.units import seconds

# Measured by benchmarks/denormals.py (one 3x3 Conv, 64 -> 64 channels, 56x56, onnxruntime 1.31.1
# CPU, one thread, default session options, Intel Xeon Cascade Lake, median of 20 runs; see
# docs/fix.md): time with that share of the weights subnormal over time with normal weights.
MEASURED_SLOWDOWN: tuple[tuple[float, float], ...] = ((0.001, 3.3), (0.01, 21.8), (0.1, 117.1), (1.0, 140.1))

# The float format a profile's compute dtype (a peak_flops key) computes in; tf32 keeps
# float32's exponent range, which is all that decides what is subnormal.
_FORMAT_OF_COMPUTE = {
    "fp16": "float16",
    "bf16": "bfloat16",
    "tf32": "float32",
    "fp32": "float32",
    "fp64": "float64",
}


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
    Counts, in every floating-point weight, the values that are subnormal in the format the
    target computes with them, the tiny normal values (0 < |w| <= 1e-15), and the subnormal
    values that folding a BatchNormalization into the Conv before it would create
    (`w * gamma / sqrt(var + eps)`, computed in that format as engines do when they fuse the two
    at load time, onnxruntime's default among them).

    The format is the one the roofline costs the operator in: its compute dtype when the profile
    lists a peak rate for it, float32 otherwise (the engine widens). So fp16 weights are judged
    as float16 (subnormal: 0 < |w| < 6.104e-5) only on a target with an fp16 rate; on a CPU
    profile without one they are widened to float32, where every fp16 value is normal. bfloat16
    and float32 weights are judged as float32 (0 < |w| < 1.1755e-38). Values are counted from
    their stored bits, a bounded chunk at a time (external data memory-mapped): a weight whose
    format cannot hold a value that small is not read at all.

    ## Why is this bad?
    Many CPUs compute with subnormal operands and results on a slow microcode path unless the
    engine turns on flush-to-zero / denormals-are-zero. A ResNet-50-class model retrained on more
    data ran about 3x slower on x86 in two independent engines, all of the extra time in its
    convolutions, because BatchNorm folding had produced many weights below 1e-15. Tiny normal
    weights are a risk rather than a certainty: `w * x` is subnormal only when the activation is
    small too, which happens when layer after layer of tiny weights shrinks the activations (in
    `benchmarks/denormals.py` a conv stack with 90% of its weights near 1e-20 ran at full speed,
    one with all of them there 11x slower). The penalty is a property of the core, not of "x86":
    the same subnormal conv ran 140x slower on an Intel Cascade Lake and at full speed on an AMD
    Zen 4. The rule stays silent on targets whose profile says `flush_to_zero: always` (GPUs,
    NPUs) or `subnormal_slowdown: 1` (a core without a penalty). On a CPU whose profile states
    no `subnormal_slowdown` (nobody measured it; `archlint calibrate` does) subnormal weights are
    info, a risk to check, not a warning.

    The roofline cannot see this slow path. The saving is therefore an estimate from a
    measured slowdown, not a prediction, and it is kept out of the latency after fixes: for each
    Conv that reads subnormal float32 weights, the predicted time times (factor - 1). With `s` the
    share of that Conv's weights that are subnormal and `f(s)` the `measured_slowdown` curve
    (interpolated, `f(0) = 1`), the factor is `f(s)` on a profile whose `subnormal_slowdown` is
    unset, and `1 + (f(s) - 1) * (S - 1) / (f(1) - 1)` on one that states `S`: the measured
    shape, scaled so that a fully subnormal Conv slows by the profile's own factor. The default
    points were measured by `benchmarks/denormals.py` (onnxruntime 1.31 CPU, one thread, Intel
    Xeon Cascade Lake): 0.1% subnormal weights made a 3x3 Conv 3.3x slower, 1% 22x, 10% 117x,
    all of them 140x. Other operators, and weights judged as float16, are reported without an
    estimate.

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
    - `benchmarks/denormals.py` and docs/fix.md: the measurements behind the default factors;
      docs/hardware.md: `subnormal_slowdown` per CPU profile.
    """

    code = "AL401"
    name = "denormal-weights"
    summary = "weights that are subnormal in the format the target computes in, a slow path on many CPUs"
    severity = severity_by_kind(cpu=Severity.WARNING, other=Severity.INFO)
    options_type = DenormalWeightsOptions
    fix_applicability = "safe"
    options: DenormalWeightsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        profile = ctx.profile
        if profile.flush_to_zero == "always" or profile.subnormal_slowdown == 1:
            return  # subnormals flushed in hardware, or computed at full speed: no slow path
        for weight in _weights(ctx):
            counts = self._counts(ctx, weight.name, weight.judged)
            if counts is not None and (counts.subnormal or counts.tiny):
                yield self._stored(ctx, weight, counts)
            for conv, bn in _folded_into(ctx, weight.name, weight.readers):
                folded = self._folded_counts(ctx, weight.name, bn, weight.judged)
                if folded is not None and folded.subnormal > (counts.subnormal if counts else 0):
                    yield self._after_folding(ctx, conv, bn, folded, weight.judged)

    def _counts(self, ctx: RuleContext, name: str, judged: str) -> SmallValues | None:
        """Counted once per model and format, not once per target: reading every weight of a
        large model is the expensive part, and the counts depend on the target only through the
        format it computes in."""
        key = (self.code, name, judged, self.options.tiny_threshold)
        memo = ctx.analysis.memo
        if key not in memo:
            tiny = self.options.tiny_threshold
            memo[key] = count_stored(ctx.cost.model, name, SMALLEST_NORMAL[judged], tiny)
        counts: SmallValues | None = memo[key]
        return counts

    def _folded_counts(self, ctx: RuleContext, name: str, bn: NodeCost, judged: str) -> SmallValues | None:
        key = (self.code, name, bn.name, judged, self.options.tiny_threshold)
        memo = ctx.analysis.memo
        if key not in memo:
            memo[key] = self._fold(ctx, name, bn, judged)
        counts: SmallValues | None = memo[key]
        return counts

    def _fold(self, ctx: RuleContext, name: str, bn: NodeCost, judged: str) -> SmallValues | None:
        values = weight_array(ctx.cost.model, name)
        if values is None:
            return None
        wide = values.astype(_numpy_type(judged))  # folded in the format the target computes in
        scale = _batchnorm_scale(ctx, bn, wide.dtype)
        if scale is None or scale.shape[0] != wide.shape[0]:
            return None
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            folded = folded_weight(wide, scale)
        return count_array(folded, SMALLEST_NORMAL[judged], self.options.tiny_threshold)

    def _stored(self, ctx: RuleContext, weight: _Weight, counts: SmallValues) -> Finding:
        name, readers, judged = weight.name, weight.readers, weight.judged
        first = readers[0]
        more = f" (and {len(readers) - 1} more nodes)" if len(readers) > 1 else ""
        parts = []
        if counts.subnormal:
            widened = ""
            if judged != weight.stored:
                widened = f", which {ctx.profile.name} computes these {weight.stored} weights in"
            parts.append(
                f"{counts.subnormal:,} subnormal ({_pct(counts, counts.subnormal)}, |w| < "
                f"{SMALLEST_NORMAL[judged]:.4g} in {judged}{widened})"
            )
        if counts.tiny:
            parts.append(
                f"{counts.tiny:,} tiny ({_pct(counts, counts.tiny)}, |w| <= {self.options.tiny_threshold:g})"
            )
        message = (
            f"{first.op_type} {first.name!r}{more} reads weight {name!r}: {' and '.join(parts)} of its "
            f"{counts.total:,} values; {_consequence(ctx.profile, counts.subnormal > 0)}"
        )
        saving = self._extra_time(ctx, readers, counts.share(counts.subnormal), judged)
        return Finding(
            node=first.name,
            message=message + _estimate(saving),
            fix=_fix(judged),
            saving_s=saving if saving > 0 else None,  # no estimate: not judged on time
            severity=_severity(ctx.profile, counts.subnormal > 0),
            touched=tuple(r.name for r in readers),
            in_latency=False,
        )

    def _after_folding(
        self, ctx: RuleContext, conv: NodeCost, bn: NodeCost, folded: SmallValues, judged: str
    ) -> Finding:
        saving = self._extra_time(ctx, [conv], folded.share(folded.subnormal), judged)
        message = (
            f"folding {bn.op_type} {bn.name!r} into Conv {conv.name!r} (w * gamma / sqrt(var + eps) in "
            f"{judged}, as engines do when they fuse them at load time) makes {folded.subnormal:,} of "
            f"its {folded.total:,} weights ({_pct(folded, folded.subnormal)}) subnormal; "
            f"{_consequence(ctx.profile, True)}"
        )
        return Finding(
            node=conv.name,
            message=message + _estimate(saving),
            fix="fold the BatchNormalization and flush the result: `archlint fix MODEL -o OUT.onnx` "
            "(safe), or turn on flush-to-zero in the engine",
            saving_s=saving if saving > 0 else None,  # no estimate: not judged on time
            severity=_severity(ctx.profile, True),
            in_latency=False,
        )

    def _extra_time(self, ctx: RuleContext, readers: list[NodeCost], share: float, judged: str) -> float:
        """The slowdown estimate applied to the predicted time of the Convs that read them."""
        if share <= 0 or judged != "float32":
            return 0.0
        factor = self._factor(share, ctx.profile.subnormal_slowdown)
        convs = [r for r in readers if r.op_class is OpClass.CONV]
        return sum(ctx.time(r) for r in convs) * (factor - 1)

    def _factor(self, share: float, profile_factor: float | None) -> float:
        """f(share) from the measured points, rescaled to the profile's factor when it has one."""
        shares, factors = zip(*self.options.measured_slowdown, strict=True)
        measured = float(np.interp(share, [0.0, *shares], [1.0, *factors]))
        if profile_factor is None:
            return measured
        full = float(factors[-1])  # np.interp holds the last point up to a share of 1
        if full <= 1:  # a flat curve has no shape to scale: take the profile's factor linearly
            return 1 + (profile_factor - 1) * share
        return 1 + (measured - 1) * (profile_factor - 1) / (full - 1)


@dataclass(frozen=True)
class _Weight:
    """A stored float weight, the operators that read it, and the format it is judged in."""

    name: str
    readers: list[NodeCost]
    stored: str
    judged: str


def _weights(ctx: RuleContext) -> Iterator[_Weight]:
    for name in ctx.cost.model.graph.stored:
        readers = ctx.consumers.get(name, [])
        stored = _stored_format(ctx, name)
        if readers and stored is not None:
            yield _Weight(name, readers, stored, _judged_format(ctx.profile, stored, readers))


def _stored_format(ctx: RuleContext, name: str) -> str | None:
    """The storage format of a weight worth scanning: a float tensor of more than one value."""
    tensor = ctx.cost.model.graph.tensor(name)
    if tensor is None or not tensor.dtype.is_float or (tensor.numel or 0) <= 1:
        return None
    return tensor.dtype.name if scannable(tensor.dtype.name) else None


def computes_in(profile: HardwareProfile, node: NodeCost) -> str:
    """The float format ``profile`` computes ``node`` in: its compute dtype where the profile has
    a peak rate for it, else float32 (the roofline then runs it at fp32's rate: the engine widens)."""
    key = node.compute_dtype if node.compute_dtype in profile.peak_flops else "fp32"
    return _FORMAT_OF_COMPUTE.get(key, "float32")


def _judged_format(profile: HardwareProfile, stored: str, readers: list[NodeCost]) -> str:
    """The format a weight's values are judged in: per reader, the wider of the stored format and
    the one it is computed in (a value widened on load cannot become subnormal; bfloat16 computed
    in float32 is judged as float32); over readers, the narrowest of those, since a slow path on
    any reader is worth reporting."""
    judged = [min(computes_in(profile, r), stored, key=SMALLEST_NORMAL.__getitem__) for r in readers]
    return max(judged, key=SMALLEST_NORMAL.__getitem__)


def _numpy_type(fmt: str) -> type[np.floating[Any]]:
    """The numpy type to compute in a format with (bfloat16 has float32's range)."""
    types: dict[str, type[np.floating[Any]]] = {"float16": np.float16, "float64": np.float64}
    return types.get(fmt, np.float32)


_FLOAT32_FIX = (
    "set them to signed zero with `archlint fix MODEL -o OUT.onnx` (safe: products with them are below "
    "float32 rounding), or turn on flush-to-zero in the engine (onnxruntime: session option "
    "session.set_denormal_as_zero=1)"
)


def _fix(judged: str) -> str:
    if judged != "float16":
        return _FLOAT32_FIX
    return (
        "set them to signed zero with `archlint fix MODEL -o OUT.onnx`, or turn on flush-to-zero in the "
        "engine (onnxruntime: session option session.set_denormal_as_zero=1)"
    )


def _pct(counts: SmallValues, part: int) -> str:
    return f"{100 * counts.share(part):.3g}%"


def _consequence(profile: HardwareProfile, subnormal: bool) -> str:
    mode = profile.flush_to_zero or "not stated in the profile"
    if profile.subnormal_slowdown is not None:
        penalty = f" ({profile.subnormal_slowdown:g}x on a fully subnormal fp32 Conv: subnormal_slowdown)"
    else:
        penalty = ""
    if subnormal:
        return (
            f"{profile.name} computes with subnormals on a slow path{penalty} unless the engine turns on "
            f"flush-to-zero (flush_to_zero: {mode})."
        )
    return (
        f"products with tiny weights underflow to subnormal activations at run time, a slow path on "
        f"{profile.name}{penalty} unless the engine turns on flush-to-zero (flush_to_zero: {mode})."
    )


def _estimate(saving: float) -> str:
    if saving <= 0:
        return ""
    return f" Estimated extra time from a measured slowdown (not the roofline): {seconds(saving)}."


def _severity(profile: HardwareProfile, subnormal: bool) -> Severity:
    """Subnormals are a definite slow path on a CPU; tiny weights and unknown targets a risk."""
    if not subnormal:
        return Severity.INFO
    if profile.flush_to_zero == "never":
        return Severity.ERROR  # the engine cannot switch the slow path off: only new weights help
    if profile.kind != "cpu" or profile.subnormal_slowdown is None:
        # A slow path nobody measured on this CPU is a risk to check (`archlint calibrate`
        # measures it), not a warning.
        return Severity.INFO
    return Severity.WARNING


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
