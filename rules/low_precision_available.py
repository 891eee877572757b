"""AL403 low-precision-available."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from archlint.analysis.model_cost import NodeCost
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind
from archlint.targets.profile import human_rate
from archlint.units import percent, seconds

from ._graph import in_dtype

# Storage bits of the dtypes this rule can suggest: bytes moved scale by bits / 32.
_BITS = {"fp16": 16, "bf16": 16, "int8": 8}


class LowPrecisionAvailableOptions(RuleOptions):
    min_speedup: float = Field(
        4.0, gt=1, description="Report when a lower-precision peak is at least this multiple of fp32's."
    )
    dtypes: tuple[str, ...] = Field(
        ("fp16", "bf16", "int8"),
        description="Lower precisions to consider, in order of preference (floats need no calibration).",
    )

    @field_validator("dtypes")
    @classmethod
    def _known(cls, dtypes: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(dtypes) - set(_BITS))
        if unknown or not dtypes:
            raise ValueError(f"unknown dtype(s) {unknown}; choose from {sorted(_BITS)}")
        return dtypes


class LowPrecisionAvailable(Rule):
    """## What it does
    Finds models that compute in fp32 on a target whose fp16, bf16 or int8 peak is at least 4x
    its fp32 peak, and says how much of the predicted time is compute-bound fp32 work, the part
    that a faster arithmetic rate shortens.

    ## Why is this bad?
    Tensor cores and matrix engines run only lower precisions at their headline rate: an A100
    does 19.5 TFLOP/s in fp32 on its CUDA cores and 312 TFLOP/s in fp16 or bf16; a T4 8.1 vs
    65; an AVX-512 VNNI Xeon does 4x more int8 than fp32 operations per cycle. An fp32 model
    leaves that rate unused. fp16 halves and int8 quarters the bytes, so memory-bound operators
    gain too, but this rule counts only the compute-bound ones.

    The saving re-costs every compute-bound fp32 operator on the roofline with the suggested
    dtype's peak rate and channel alignment and half (fp16, bf16) or a quarter (int8) of its
    bytes; memory-bound operators are left as they are, so the figure is a floor.

    ## Example
    ```python
    torch.onnx.export(model.float(), x, "model.onnx")  # fp32 weights and activations
    ```

    ## Use instead
    ```python
    torch.onnx.export(model.half(), x.half(), "model_fp16.onnx")  # or bf16, or quantize to int8
    ```
    and check accuracy: fp16 and bf16 rarely need more than that; int8 needs calibration
    (onnxruntime.quantization, TensorRT, OpenVINO's post-training quantization).

    ## Options
    (written from the options model)

    ## References
    - NVIDIA A100 and T4 datasheets (fp32 vs tensor-core fp16/bf16/int8 rates), as quoted in
      hardware/*.yaml.
    - NVIDIA, "Train With Mixed Precision" (fp16 inference and accuracy).
    - Wang Jinwei (Momenta), "让深度学习更高效运行的两个视角" (talk write-up by 量子位): fp16 halves
      and int8 quarters the bytes moved.
    """

    code = "AL403"
    name = "low-precision-available"
    summary = "an fp32 model on a target whose fp16/bf16/int8 peak is several times faster"
    severity = severity_by_kind(
        gpu=Severity.WARNING, npu=Severity.INFO, cpu=Severity.INFO, other=Severity.INFO
    )
    options_type = LowPrecisionAvailableOptions
    options: LowPrecisionAvailableOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        profile = ctx.profile
        fp32 = [n for n in ctx.cost.nodes if n.compute_dtype == "fp32" and n.flops > 0]
        dtype = self._faster_dtype(ctx)
        if not fp32 or dtype is None:
            return
        bound = [n for n in fp32 if ctx.timed(n).bound == "compute"]
        compute_s = sum(ctx.time(n) for n in bound)
        saving = sum(_saving(ctx, n, dtype) for n in bound)
        if saving <= 0:
            return
        base, fast = profile.peak_for("fp32"), profile.peak_flops[dtype]
        fp32_share = percent(sum(n.flops for n in fp32), sum(n.flops for n in ctx.cost.nodes))
        unit = "OP/s" if dtype.startswith("int") else "FLOP/s"
        message = (
            f"{fp32_share} of the model's FLOPs are fp32; {profile.name} peaks at {human_rate(base)}FLOP/s "
            f"in fp32 and {human_rate(fast)}{unit} in {dtype} ({fast / base:.3g}x). {len(bound)} "
            f"compute-bound fp32 operators take {seconds(compute_s)}, {percent(compute_s, ctx.latency_s)} "
            f"of the predicted {seconds(ctx.latency_s)}."
        )
        fix = (
            f"run the model in {dtype}{' (quantize and calibrate)' if dtype == 'int8' else ''}: re-costed in "
            f"{dtype}, the compute-bound operators would take {seconds(compute_s - saving)} instead of "
            f"{seconds(compute_s)}"
        )
        touched = tuple(n.name for n in bound)
        yield Finding(node=None, message=message, fix=fix + ".", saving_s=saving, touched=touched)

    def _faster_dtype(self, ctx: RuleContext) -> str | None:
        """The first preferred dtype whose listed peak is at least min_speedup times fp32's."""
        base = ctx.profile.peak_for("fp32")
        for dtype in self.options.dtypes:
            peak = ctx.profile.peak_flops.get(dtype)
            if peak is not None and peak >= self.options.min_speedup * base:
                return dtype
        return None


def _saving(ctx: RuleContext, node: NodeCost, dtype: str) -> float:
    """What the operator saves with its tensors stored, and its arithmetic run, in ``dtype``."""
    return ctx.saving_by([node], [alt]) or 0.0 if (alt := in_dtype(ctx, node, dtype)) else 0.0
