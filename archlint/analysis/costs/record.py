"""What a cost handler returns for one operator, and the classes operators fall into."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class OpClass(StrEnum):
    """The kind of work an operator does; profiles and rules key their behaviour on it."""

    CONV = "conv"
    DEPTHWISE_CONV = "depthwise_conv"
    MATMUL = "matmul"
    ATTENTION = "attention"
    RECURRENT = "recurrent"
    ELEMENTWISE = "elementwise"
    REDUCTION = "reduction"
    POOLING = "pooling"
    NORMALIZATION = "normalization"
    RESAMPLE = "resample"
    DATA_MOVEMENT = "data_movement"
    VIEW = "view"  # aliases its input: no bytes move, no memory is allocated
    QUANTIZE = "quantize"
    SIGNAL = "signal"
    OTHER = "other"


class OpCost(NamedTuple):
    """The arithmetic of one execution of an operator. (A named tuple: every operator of every
    model gets one, and one builds faster than a frozen dataclass, class and instances alike.)

    ``flops`` counts a multiply-add as 2 (MACs = FLOPs / 2). Bytes are not set by handlers: the
    analysis derives them from the tensors (all inputs + all outputs) unless ``bytes_read``
    overrides the input side for an operator that reads only part of an input (Gather, Slice).
    """

    flops: int
    op_class: OpClass
    # Channel-like dimensions engines round up to the device's alignment (Conv IC/OC, GEMM K/N).
    padded_dims: tuple[int, ...] = ()
    # What each padded dimension is ("input channels", "output channels", "K", "N", ...).
    padded_roles: tuple[str, ...] = ()
    bytes_read: int | None = None
    compute_dtype: str | None = None  # a peak_flops key; default: the first input's dtype
    # Weight bytes read again within one execution, on top of the first read: an LSTM reads its
    # recurrent weights (``reread_set_bytes`` of them) once per time step. They stream from
    # wherever that set fits.
    reread_bytes: int = 0
    reread_set_bytes: int = 0
    # Output positions along the innermost spatial axis (a conv's output width): blocked conv
    # kernels compute one output row per call, and short rows leave their registers idle.
    row_width: int = 0
    # Multiply-adds behind each output element (a conv's input channels per group x kernel taps):
    # the length of the sum a kernel's accumulators run over.
    reduction_length: int = 0


class UnknownShapeError(Exception):
    """A handler needed a tensor whose shape is not resolved; the node goes to unknown_ops."""

    def __init__(self, tensor: str) -> None:
        super().__init__(f"shape of {tensor!r} is unknown")
        self.tensor = tensor
