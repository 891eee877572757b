"""What onnxruntime spends on shape arithmetic it cannot fold: one graph, symbolic dims against fixed.

Exporters compute Reshape targets from an input's dims: Shape -> Gather -> Unsqueeze -> Concat
-> Reshape. Both microbenchmarks are the same graph, ``BLOCKS`` blocks that flatten a
``[batch, seq, 64]`` tensor to ``[batch * seq, 64]`` and back, each target computed from the
tensor's dims with the arithmetic (a Mul of two dims, dims of another tensor than the one being
reshaped) that keeps onnxruntime's ReshapeFusion from rewriting the chain into a constant
target; they differ only in how the file declares the input. Declared
``[batch, seq, 64]``, onnxruntime runs every shape operator at each inference; declared with the
bound sizes, it folds them when it loads the file. Timed in the same rounds, the difference
over the number of kernels the symbolic file runs beyond the fixed one (read off onnxruntime's
profiler, not assumed: its ReshapeFusion still rewrites some targets) is the cost of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from archlint.measure.calibration.measure import Measured, relative_mad
from archlint.measure.calibration.micro import Micro
from archlint.model.builder import GraphBuilder

SHAPE = (1, 16, 64)
BLOCKS = 24


def _chains(declared: Sequence[int | str], label: str) -> Micro:
    g = GraphBuilder("shape-ops")
    x = g.input("x", declared)
    last = g.const(np.array([SHAPE[2]], np.int64))
    for _ in range(BLOCKS):
        shape = g.op("Shape", [x])
        batch, seq = (g.op("Gather", [shape, g.const(np.array(axis, np.int64))]) for axis in (0, 1))
        rows = _unsqueezed(g, g.op("Mul", [batch, seq]))
        flat = g.op("Relu", [g.op("Reshape", [x, g.op("Concat", [rows, last], axis=0)])])
        target = g.op("Concat", [_unsqueezed(g, batch), _unsqueezed(g, seq), last], axis=0)
        x = g.op("Relu", [g.op("Reshape", [flat, target])])
    g.output(x, TensorProto.FLOAT)
    return Micro(
        f"{BLOCKS} shape chains (Shape, Gather, Mul, Unsqueeze, Concat), {label} dims", g.build(), SHAPE
    )


def _unsqueezed(g: GraphBuilder, scalar: str) -> str:
    return g.op("Unsqueeze", [scalar, g.const(np.array([0], np.int64))])


def benches() -> tuple[Micro, Micro]:
    """The chains with symbolic dims, then with fixed ones."""
    return _chains(("batch", "seq", SHAPE[2]), "symbolic"), _chains(SHAPE, "fixed")


@dataclass(frozen=True)
class ShapeOps:
    operators: int  # kernels the symbolic file runs beyond the fixed one
    seconds: float  # the symbolic file's time over the fixed one's, per inference
    spread: float  # relative MAD of the per-round differences

    @property
    def overhead_s(self) -> float:
        """The profile's figure: seconds per shape operator (0 where the difference is noise)."""
        return max(self.seconds, 0.0) / self.operators if self.operators else 0.0


def shape_ops(runs: Sequence[Measured], kernels: tuple[int, int]) -> ShapeOps:
    """The figure from the two timings and the kernels each file ran (symbolic, fixed)."""
    symbolic, fixed = runs
    differences = [s - f for s, f in zip(symbolic.rounds, fixed.rounds, strict=True)]
    return ShapeOps(
        max(kernels[0] - kernels[1], 0),
        symbolic.seconds - fixed.seconds,
        relative_mad(differences) if differences else 0.0,
    )
