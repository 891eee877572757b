"""Hardware profiles: the schema of hardware/*.yaml and of user profiles given by path.

Only ``name``, ``peak_flops`` and ``memory_bandwidth`` are required; that minimal profile is a
pure roofline. Every other field has a neutral default (no alignment, no overhead, efficiency 1).
"""

# No ``from __future__ import annotations`` here: every run reads these classes' field types
# (archlint.exact_build, through typing.get_type_hints), and string annotations would each be
# compiled then; evaluated once at import they cost a fifth of that.
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from archlint.analysis.costs.record import OpClass
from archlint.bounds import Bounds
from archlint.errors import ProfileError
from archlint.exact_build import build_checked
from archlint.targets.profile_file import read_builtin_mapping, read_mapping

#: Keys of ``peak_flops`` and ``channel_alignment``: the compute classes of archlint.model.dtypes.
COMPUTE_KEYS = frozenset(
    {"fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "fp4", "int32", "int16", "int8", "int4"}
)

Fraction = Annotated[float, Bounds(gt=0, le=1)]
Positive = Annotated[float, Bounds(gt=0)]
NonNegative = Annotated[float, Bounds(ge=0)]

# The schema classes are frozen dataclasses; a file is checked against them by pydantic
# (archlint.validation), where keys they do not have are errors.
_FORBID_EXTRA = {"extra": "forbid"}


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a figure comes from: a datasheet, a paper, a measurement."""

    __pydantic_config__ = _FORBID_EXTRA

    figure: str
    source: str
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class SmallOps:
    """Operators too small to fill the device reach only ``efficiency`` of the roofline."""

    __pydantic_config__ = _FORBID_EXTRA

    flops_below: NonNegative = 0.0
    efficiency: Fraction = 1.0


@dataclass(frozen=True, kw_only=True)
class ConvShape:
    """How a convolution's shape slows its arithmetic below its op class's figure (measured by calibrate).

    Blocked-layout CPU kernels (onnxruntime's NCHWc) keep a few output channel blocks in
    registers and stream over the input channels: with few channels per group or short output
    rows there is little to reuse, grouped convs run one narrow conv per group, and a channel count the layout
    cannot take falls back to a generic im2col kernel.
    """

    __pydantic_config__ = _FORBID_EXTRA

    # c at which a conv runs at half its class efficiency: efficiency x c / (c + narrow_channels),
    # c the smaller of its output channels per group and its multiply-adds per output element
    # (input channels per group x kernel taps). 0: no effect.
    narrow_channels: NonNegative = 0.0
    # w at which a conv (depthwise too) runs at half its efficiency: x w / (w + narrow_rows), w its
    # output width. The kernels compute one output row per call; a 7-wide row is short work for
    # a call's set-up and padding edges. 0: no effect.
    narrow_rows: NonNegative = 0.0
    grouped: Fraction = 1.0  # factor for grouped convs that are not depthwise
    # Convs whose channel counts are not a multiple of this run the engine's fallback kernel, at
    # the ``fallback`` factor of their op class (conv, depthwise_conv). 1: every count is taken.
    fallback_multiple: Annotated[int, Bounds(ge=1)] = 1
    fallback: dict[OpClass, Fraction] = field(default_factory=dict)
    # Seconds an integer conv with a kernel larger than 1x1 (QLinearConv, ConvInteger, a QDQ group
    # run as one) spends per output position and kernel tap copying its input into a matrix before
    # multiplying (im2col), when its c input channels per group fill less than one vector register
    # of bytes (v = channel_alignment.fp32 x 4): paid x (1 - c / v), so an RGB stem pays nearly all
    # of it and a 64-channel conv on AVX-512 none. 0: no such cost.
    int8_tap_s: NonNegative = 0.0


@dataclass(frozen=True, kw_only=True)
class OpFigures:
    """One op type's own figures, where its kernels differ from the rest of its op class (a
    transcendental Erf among elementwise Adds, a LayerNormalization's two passes). Unset: the class's."""

    __pydantic_config__ = _FORBID_EXTRA

    efficiency: Fraction | None = None  # on the roofline, instead of the class's efficiency
    overhead_s: NonNegative | None = None  # fixed cost per execution, instead of the class's


@dataclass(frozen=True, kw_only=True)
class HardwareProfile:
    """A device as archlint models it: its roofline, and what its engine adds to it."""

    __pydantic_config__ = _FORBID_EXTRA

    name: str
    kind: Literal["gpu", "cpu", "npu", "other"] = "other"
    description: str = ""
    aliases: tuple[str, ...] = ()
    peak_flops: dict[str, Positive]  # FLOP/s (OP/s for integer types) per compute dtype
    memory_bandwidth: Positive  # bytes/s of the main memory
    device_memory_bytes: Positive | None = None
    on_chip_memory_bytes: Positive | None = None  # last-level cache or scratchpad SRAM
    # bytes/s of on-chip memory, for operators whose bytes fit in on_chip_memory_bytes; unset:
    # every operator streams at memory_bandwidth.
    on_chip_bandwidth: Positive | None = None
    channel_alignment: dict[str, int] = field(default_factory=dict)  # per compute dtype
    layout: str = ""  # the tensor layout the alignment figures assume, e.g. "NHWC, tensor cores"
    op_overhead_s: NonNegative = 0.0  # dispatch cost paid by every operator execution
    # Fixed cost per execution of a kernel of an op class (its set-up, the output's allocation,
    # the executor's step): paid instead of op_overhead_s. A class not listed pays op_overhead_s.
    class_overhead_s: dict[OpClass, NonNegative] = field(default_factory=dict)
    compute_efficiency: Fraction = 1.0  # fraction of peak that dense kernels sustain
    bandwidth_efficiency: Fraction = 1.0  # fraction of bandwidth that streaming kernels sustain
    efficiency: dict[OpClass, Fraction] = field(default_factory=dict)  # per op class, on the roofline
    # Fixed cost of one inference call beyond its operators (the engine binding inputs and
    # outputs, scheduling the graph): paid once per inference, whatever the model.
    run_overhead_s: NonNegative = 0.0
    # Fixed cost of one operator computing on tensor shapes (Shape, Gather, Unsqueeze, Concat of
    # dims) that the engine runs at every inference because the file leaves the input dims
    # symbolic; archlint folds such operators once the binding fixes the dims. 0: the engine
    # builds for the bound shapes (TensorRT engines, onnxruntime with free-dimension overrides)
    # and they cost nothing. ``archlint calibrate`` measures onnxruntime's.
    shape_op_overhead_s: NonNegative = 0.0
    # Fixed cost of one subgraph run (an If's branch, a Loop or Scan iteration) on top of the
    # operators inside it: the engine sets up the subgraph's inputs and outputs each time.
    subgraph_overhead_s: NonNegative = 0.0
    small_ops: SmallOps = field(default_factory=SmallOps)
    # Per op type: efficiency and fixed cost where they differ from the op class's. Empty: none.
    op_types: dict[str, OpFigures] = field(default_factory=dict)
    conv_shape: ConvShape = field(default_factory=ConvShape)
    # Op types besides Conv that run in the engine's blocked conv layout (``layout``): a tensor
    # passing between them and any other op is copied into or out of it (see archlint/analysis/layout.py).
    # Empty: no conversions are charged.
    blocked_ops: tuple[str, ...] = ()
    # Op types the engine runs inside the kernel of the operator producing their input, keyed by
    # that producer's op type ({Conv: [BatchNormalization, Relu]}): they cost no time of their own.
    fusion: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Pairs the engine replaces by one kernel of its own, keyed by the second operator's op type,
    # then by the producer's: {LayerNormalization: {Add: SkipLayerNormalization}} runs a
    # LayerNormalization whose input is an Add's only-read output, the Add included, as one
    # SkipLayerNormalization kernel, priced with that op type's figures (``op_types``).
    fused_kernels: dict[str, dict[str, str]] = field(default_factory=dict)
    # DequantizeLinear -> op -> QuantizeLinear groups of a QDQ model that the engine runs as one
    # integer kernel, keyed by the op's type: {Conv: QLinearConv, MatMul: QLinearMatMul}, priced
    # with that kernel's figures (``op_types``) on 8-bit tensors; an op mapped to itself
    # (Reshape: Reshape) runs on the 8-bit tensor, its DQ and Q dropped. Empty: none
    # (archlint/analysis/quantized.py says when a group qualifies).
    quantized_kernels: dict[str, str] = field(default_factory=dict)
    # True: the engine runs the DequantizeLinear of a stored weight at every inference where the
    # weight's reader is not such a kernel (onnxruntime folds no DequantizeLinear when it loads a
    # model); False: the engine folds it once, as archlint's analysis does.
    dequantizes_weights: bool = False
    # How subnormal floats are handled: "always" flushed (no penalty), "optional" (slow path
    # unless the engine turns on FTZ/DAZ, as on x86), "never" (slow path cannot be avoided).
    flush_to_zero: Literal["always", "optional", "never"] | None = None
    # How many times slower an fp32 Conv/GEMM runs when all of its weights are subnormal, with the
    # engine's default settings (``archlint calibrate`` measures it; built-in profiles cite the
    # microarchitecture's documented behaviour). 1: no penalty (the core handles subnormals at
    # full speed, or the engine flushes them). Unset: not known for this target.
    subnormal_slowdown: Annotated[float, Bounds(ge=1)] | None = None
    supported_ops: tuple[str, ...] | None = None
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        # Checked here rather than by the validator alone: plugins and calibrate build profiles in code.
        if not self.peak_flops:
            raise ValueError("peak_flops: give at least one peak rate, e.g. {fp32: 1.0e12}")
        for key in ("peak_flops", "channel_alignment"):
            unknown = sorted(set(getattr(self, key)) - COMPUTE_KEYS)
            if unknown:
                raise ValueError(f"{key}: unknown dtype key(s) {unknown}; use one of {sorted(COMPUTE_KEYS)}")

    def peak_for(self, compute: str) -> float:
        """Peak rate for a compute dtype; a dtype the profile does not list runs at fp32's rate."""
        if compute in self.peak_flops:
            return self.peak_flops[compute]
        return self.peak_flops.get("fp32", max(self.peak_flops.values()))

    def alignment_for(self, compute: str) -> int:
        return self.channel_alignment.get(compute, 1)

    @property
    def ridge_point(self) -> float:
        """FLOP per byte above which an fp32 operator is compute-bound on this device."""
        return self.peak_for("fp32") / self.memory_bandwidth

    def bandwidth_for(self, moved_bytes: float) -> float:
        """The bandwidth an operator moving ``moved_bytes`` streams at, before efficiency."""
        if self.on_chip_bandwidth and self.on_chip_memory_bytes and moved_bytes <= self.on_chip_memory_bytes:
            return self.on_chip_bandwidth
        return self.memory_bandwidth

    def efficiency_for(self, op_class: OpClass, flops: int, op_type: str = "") -> float:
        own = self.op_types.get(op_type)
        value = own.efficiency if own and own.efficiency is not None else self.efficiency.get(op_class, 1.0)
        if flops < self.small_ops.flops_below:
            value *= self.small_ops.efficiency
        return value

    def overhead_for(self, op_class: OpClass, op_type: str = "") -> float:
        """Fixed seconds per execution of one kernel: the op type's, else its class's, else op_overhead_s."""
        own = self.op_types.get(op_type)
        if own and own.overhead_s is not None:
            return own.overhead_s
        return self.class_overhead_s.get(op_class, self.op_overhead_s)


def load_profile(path: str | Path) -> HardwareProfile:
    """A profile file, checked against the schema: unknown keys and out-of-range figures are errors."""
    return build_checked(HardwareProfile, read_mapping(path), str(path), ProfileError)


def load_builtin_profile(path: str | Path) -> HardwareProfile:
    """One of archlint's own profile files, its parsed data cached (archlint.targets.profile_file)."""
    return build_checked(HardwareProfile, read_builtin_mapping(path), str(path), ProfileError)


def as_data(value: Any, *, exclude_defaults: bool = False) -> Any:
    """A profile (or any part of one) as the plain data its YAML file holds: mappings, lists,
    strings and numbers, op classes by name; with ``exclude_defaults``, only the fields that
    differ from their defaults."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {}
        for item in dataclasses.fields(value):
            own = getattr(value, item.name)
            if exclude_defaults and own == _default(item):
                continue
            data[item.name] = as_data(own, exclude_defaults=exclude_defaults)
        return data
    if isinstance(value, dict):
        return {str(key): as_data(item, exclude_defaults=exclude_defaults) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [as_data(item, exclude_defaults=exclude_defaults) for item in value]
    if isinstance(value, str):
        return str(value)  # an op class (a StrEnum) by its name
    return value


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def human_rate(value: float) -> str:
    """2.86e12 -> '2.86 T'."""
    if value <= 0:
        return "0"
    exponent = min(int(math.log10(value) // 3), 5)
    return f"{value / 10 ** (3 * exponent):.3g} {' kMGTP'[exponent]}".rstrip()
