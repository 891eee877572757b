"""What the engine spends outside the operators: the call, shape arithmetic on symbolic dims,
subgraph runs; counted by the analysis, priced by the profile, measured by calibrate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.api import analyze
from archlint.measure.calibration import engine
from archlint.measure.calibration.measure import Measured, cost_of
from archlint.targets.profile import HardwareProfile
from archlint.validation import validate
from tests.builders import save


def _int64(name: str, values: list[int] | int) -> object:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _flatten_model(batch: int | str, seq: int | str) -> object:
    """x [batch, seq, 64] -> Reshape to [batch * seq, 64], the target computed from x's dims by
    two identical Shape -> Gather chains (one repeats the other), and a Cast to int64 of an int64."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Shape", ["x"], ["s_again"]),  # a repeat: the engine keeps one
        helper.make_node("Gather", ["s", "zero"], ["b"]),
        helper.make_node("Gather", ["s_again", "one"], ["t"]),
        helper.make_node("Cast", ["t"], ["t64"], to=TensorProto.INT64),  # already int64: dropped
        helper.make_node("Mul", ["b", "t64"], ["rows"]),
        helper.make_node("Unsqueeze", ["rows", "axis0"], ["rows1"]),
        helper.make_node("Concat", ["rows1", "width"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "flatten",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [_int64("zero", 0), _int64("one", 1), _int64("axis0", [0]), _int64("width", [64])],  # type: ignore[list-item]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _profile(**extra: object) -> HardwareProfile:
    return validate(
        HardwareProfile, {"name": "t", "peak_flops": {"fp32": 1e12}, "memory_bandwidth": 1e11, **extra}
    )


def test_symbolic_dims_leave_shape_operators_to_the_engine(tmp_path: Path) -> None:
    path = save(_flatten_model("batch", "seq"), tmp_path / "m.onnx")
    analysis = analyze(path, [_profile(shape_op_overhead_s=1e-6), _profile()], {"x": (2, 8, 64)})
    # Shape, Gather, Gather, Mul, Unsqueeze, Concat: the repeated Shape and the no-op Cast drop out.
    assert len(analysis.cost.symbolic_shape_nodes) == 6
    assert analysis.cost.folded_nodes == 8
    charged, free = analysis.predictions
    assert charged.shape_s == pytest.approx(6e-6)
    assert charged.latency_s == pytest.approx(sum(t.time_s for t in charged.nodes) + 6e-6)
    assert free.shape_s == 0.0
    assert free.latency_s == pytest.approx(charged.latency_s - 6e-6)


def _positions_model() -> object:
    """Position indices the way detection and vision exports build them: a Range up to the input's
    width, reshaped, and a Shape of that Range sizing the next step (a ConstantOfShape)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "two"], ["w"]),
        helper.make_node("Range", ["zero", "w", "one"], ["positions"]),
        helper.make_node("Reshape", ["positions", "column"], ["grid"]),
        helper.make_node("Shape", ["grid"], ["grid_shape"]),  # of a tensor sized by the dims
        helper.make_node("ConstantOfShape", ["grid_shape"], ["mask"]),
        helper.make_node("Shape", ["s"], ["rank"]),  # of a shape vector: its length is fixed
        helper.make_node("Add", ["x", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "positions",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "w"])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("rank", TensorProto.INT64, None),
        ],
        [_int64("zero", 0), _int64("one", 1), _int64("two", 2), _int64("column", [-1, 1])],  # type: ignore[list-item]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_shape_of_a_tensor_sized_by_the_dims_is_engine_work_too(tmp_path: Path) -> None:
    # onnxruntime runs every node here but the last Shape: the Range's length, and so the Reshape's
    # and the second Shape's results, change with the width the file leaves open.
    path = save(_positions_model(), tmp_path / "m.onnx")
    analysis = analyze(path, [_profile(shape_op_overhead_s=1e-6)], {"x": (1, 4, 16)})
    work = {name.split("_")[0] for name in analysis.cost.symbolic_shape_nodes}
    kinds = sorted(
        n.op_type for n in analysis.model.graph.nodes if n.name in analysis.cost.symbolic_shape_nodes
    )
    assert kinds == ["ConstantOfShape", "Gather", "Range", "Reshape", "Shape", "Shape"], work


def test_fixed_dims_let_the_engine_fold_them(tmp_path: Path) -> None:
    path = save(_flatten_model(2, 8), tmp_path / "m.onnx")
    analysis = analyze(path, [_profile(shape_op_overhead_s=1e-6)])
    assert analysis.cost.symbolic_shape_nodes == ()
    assert analysis.predictions[0].shape_s == 0.0


def test_calibration_pair_differs_only_in_declared_dims() -> None:
    symbolic, fixed = engine.shape_benches()
    assert symbolic.shape == fixed.shape
    assert len(symbolic.proto.graph.node) == len(fixed.proto.graph.node)
    assert cost_of(symbolic).symbolic_shape_nodes
    assert cost_of(fixed).symbolic_shape_nodes == ()


def test_calibrated_figure_is_the_time_difference_per_extra_run() -> None:
    symbolic, fixed = engine.shape_benches()
    cost = cost_of(fixed)

    def run(micro: object, rounds: tuple[float, ...]) -> Measured:
        return Measured(micro, float(np.median(rounds)), min(rounds), cost, rounds)  # type: ignore[arg-type]

    timed = [run(symbolic, (60e-6, 61e-6, 62e-6)), run(fixed, (30e-6, 31e-6, 32e-6))]
    figure = engine.extra(timed, 240 - 96)
    assert figure.runs == 144
    assert figure.per_run_s == pytest.approx(30e-6 / 144)
    # A symbolic file no slower than the fixed one (the noise of a shared machine) costs nothing.
    assert engine.extra(list(reversed(timed)), 144).per_run_s == 0.0


def test_subgraph_pair_counts_one_run_per_if() -> None:
    branched, plain = engine.subgraph_benches()
    assert cost_of(branched).subgraph_runs == engine.BLOCKS
    assert cost_of(plain).subgraph_runs == 0
    assert cost_of(branched).flops == cost_of(plain).flops


def _if_model(condition_input: bool) -> object:
    """y = If(c) {Relu(x)} else {Neg(x)}, c an input (decided by --value) or computed from x."""
    branches = {
        f"{side}_branch": helper.make_graph(
            [helper.make_node(op, ["x"], [f"y_{side}"])],
            side,
            [],
            [helper.make_tensor_value_info(f"y_{side}", TensorProto.FLOAT, [1, 8])],
        )
        for side, op in (("then", "Relu"), ("else", "Neg"))
    }
    nodes = [helper.make_node("If", ["c"], ["y"], **branches)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])]
    if condition_input:
        inputs.append(helper.make_tensor_value_info("c", TensorProto.BOOL, []))
    else:
        nodes.insert(0, helper.make_node("ReduceMax", ["x"], ["m"], keepdims=0))
        nodes.insert(1, helper.make_node("Greater", ["m", "zero"], ["c"]))
    graph = helper.make_graph(
        nodes,
        "if",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.array(0, np.float32), "zero")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("decided", [True, False])
def test_an_if_is_a_subgraph_run_whether_or_not_the_binding_decides_it(tmp_path: Path, decided: bool) -> None:
    path = save(_if_model(decided), tmp_path / "m.onnx")
    profile = _profile(run_overhead_s=4e-6, subgraph_overhead_s=1e-6)
    analysis = analyze(path, [profile], values={"c": True} if decided else None)
    assert analysis.cost.subgraph_runs == 1
    (prediction,) = analysis.predictions
    assert (prediction.run_s, prediction.subgraph_s) == (pytest.approx(4e-6), pytest.approx(1e-6))
    assert prediction.latency_s == pytest.approx(sum(t.time_s for t in prediction.nodes) + 5e-6)
