"""What onnxruntime spends outside the operators' kernels, from pairs of graphs that differ in one thing.

**Shape arithmetic on symbolic dims.** Exporters compute Reshape targets from an input's dims:
Shape -> Gather -> Unsqueeze -> Concat -> Reshape. The pair is one graph of ``BLOCKS`` blocks that
flatten a ``[batch, seq, 64]`` tensor to ``[batch * seq, 64]`` and back, each target computed
from dims with the arithmetic (a Mul of two dims, dims of another tensor than the one being
reshaped) that keeps onnxruntime's ReshapeFusion from rewriting it into a constant target. The
two files differ only in how they declare the input: with symbolic dims onnxruntime runs every
shape operator at each inference, with the bound sizes it folds them when it loads the file.

**Subgraph runs.** ``BLOCKS`` If nodes in a row, each running a Relu in its taken branch,
against the same Relus in the main graph: the difference is the set-up of the If's subgraph run
(Loop and Scan iterations are subgraph runs of the same kind).

Each pair is timed in the same rounds; the time difference over the number of extra runs (the
kernels the symbolic file runs beyond the fixed one, read off onnxruntime's profiler rather than
assumed; the If count) is the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper

from archlint.measure.calibration.measure import Measured, relative_mad
from archlint.measure.calibration.micro import Micro
from archlint.model.builder import GraphBuilder

SHAPE = (1, 16, 64)
BLOCKS = 24


def _shape_chains(declared: Sequence[int | str], label: str) -> Micro:
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
    name = f"{BLOCKS} shape chains (Shape, Gather, Mul, Unsqueeze, Concat), {label} dims"
    return Micro(name, g.build(), SHAPE)


def _unsqueezed(g: GraphBuilder, scalar: str) -> str:
    return g.op("Unsqueeze", [scalar, g.const(np.array([0], np.int64))])


def shape_benches() -> tuple[Micro, Micro]:
    """The shape chains with symbolic dims, then with fixed ones."""
    return _shape_chains(("batch", "seq", SHAPE[2]), "symbolic"), _shape_chains(SHAPE, "fixed")


def _relus(branched: bool) -> Micro:
    """``BLOCKS`` Relus on a [1, 64] tensor, each inside an If's branches or in the main graph.
    The condition is computed at run time from the input, so nothing decides the Ifs early."""
    g = GraphBuilder("subgraph-runs")
    x = g.input("x", (1, 64))
    condition = g.op("Greater", [g.op("ReduceSum", [x], keepdims=0), g.const(np.array(-1e30, np.float32))])
    for block in range(BLOCKS):
        if not branched:
            x = g.op("Relu", [x])
            continue
        output = g.fresh("if")
        branches = {
            f"{side}_branch": helper.make_graph(
                [helper.make_node(op, [x], [f"{output}_{side}"])],
                f"{side}_{block}",
                [],
                [helper.make_tensor_value_info(f"{output}_{side}", TensorProto.FLOAT, [1, 64])],
            )
            for side, op in (("then", "Relu"), ("else", "Neg"))
        }
        g.nodes.append(helper.make_node("If", [condition], [output], name=g.fresh("If"), **branches))
        x = output
    g.output(x, TensorProto.FLOAT)
    g.output(g.op("Not", [condition]), TensorProto.BOOL)  # keeps the condition in the plain graph too
    where = "each in an If's branch" if branched else "in the main graph"
    return Micro(f"{BLOCKS} Relus on 64 floats, {where}", g.build(), (1, 64))


def subgraph_benches() -> tuple[Micro, Micro]:
    """The Relus inside Ifs, then in the main graph."""
    return _relus(branched=True), _relus(branched=False)


@dataclass(frozen=True)
class Extra:
    """What one graph of a pair spends beyond the other, and over how many extra runs."""

    runs: int  # extra kernels or subgraph runs per inference
    seconds: float  # the first graph's time over the second's, per inference
    spread: float  # relative MAD of the per-round differences
    benches: str  # the pair's microbenchmarks, "slow against fast"

    @property
    def per_run_s(self) -> float:
        """The profile's figure: seconds per extra run (0 where the difference is noise)."""
        return max(self.seconds, 0.0) / self.runs if self.runs else 0.0


def extra(runs: Sequence[Measured], count: int) -> Extra:
    """The figure of a pair (the costlier graph first) over ``count`` extra runs."""
    slow, fast = runs
    differences = [s - f for s, f in zip(slow.rounds, fast.rounds, strict=True)]
    return Extra(
        max(count, 0),
        slow.seconds - fast.seconds,
        relative_mad(differences) if differences else 0.0,
        f"{slow.micro.name} against {fast.micro.name}",
    )
