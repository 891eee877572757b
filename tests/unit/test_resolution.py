"""Shape and value resolution as real exports need it: stale exporter shapes after rebinding,
sizes a model freezes, If decided by shapes or by input values, computed Reshape targets before
an LSTM, -1 declared dims, and loops counted by a shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.model_cost import ModelCost
from archlint.api import load_model
from archlint.errors import ShapeError, UsageError
from tests.builders import model, save, value, weight

Cost = Callable[..., ModelCost]


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _exported_mlp() -> onnx.ModelProto:
    """What torch.onnx.export(dynamo=True) writes for a static export: a value_info for every
    intermediate tensor at the traced batch (1), and a declared output shape."""
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["a"])]
    nodes.append(helper.make_node("MatMul", ["a", "w2"], ["y"]))
    proto = model(
        nodes, [value("x", [1, 8])], [value("y", [1, 4])], [weight("w1", (8, 16)), weight("w2", (16, 4))]
    )
    proto.graph.value_info.extend([value("h", [1, 16]), value("a", [1, 16])])
    return proto


def test_rebinding_an_input_discards_the_exporters_downstream_shapes(cost_of: Cost) -> None:
    one = cost_of(_exported_mlp())
    four = cost_of(_exported_mlp(), inputs={"x": (4, 8)})
    assert four.flops == 4 * one.flops == 4 * (2 * 8 * 16 + 16 + 2 * 16 * 4)
    assert four.model.graph.tensors["y"].shape == (4, 4)


def test_a_reshape_constant_frozen_at_export_refuses_the_new_batch(tmp_path: Path) -> None:
    nodes = [helper.make_node("Reshape", ["x", "target"], ["flat"], name="flatten")]
    nodes.append(helper.make_node("MatMul", ["flat", "w"], ["y"], name="fc"))
    inits = [_ints("target", [1, 2048]), weight("w", (2048, 10))]
    proto = model(nodes, [value("x", [1, 2048, 1, 1])], [value("y", [1, 10])], inits)
    path = save(proto, tmp_path / "frozen.onnx")
    from archlint.api import analyze

    with pytest.raises(
        ShapeError, match=r"'flatten' \(Reshape\) cannot turn \(16, 2048, 1, 1\) into \(1, 2048\)"
    ):
        analyze(path, inputs={"x": (16, 2048, 1, 1)})


def test_a_weight_that_fixes_a_size_refuses_another_resolution_naming_the_node(tmp_path: Path) -> None:
    """Token mixing: a MatMul over the token axis whose weight was sized for 196 tokens."""
    node = helper.make_node("MatMul", ["x", "mix"], ["y"], name="token_mixing")
    proto = model([node], [value("x", ["batch", 64, 196])], [value("y", None)], [weight("mix", (196, 196))])
    path = save(proto, tmp_path / "mixer.onnx")
    assert load_model(path).graph.tensors["y"].shape == (1, 64, 196)
    expected = (
        r"node 'token_mixing' \(MatMul\) cannot take inputs \(1, 64, 256\) and \(196, 196\): .*does not run"
    )
    with pytest.raises(ShapeError, match=expected):
        load_model(path, inputs={"x": (1, 64, 256)})


def _branch(name: str, channels: int) -> onnx.GraphProto:
    """A branch that convolves the outer input x with its own weight."""
    conv = helper.make_node("Conv", ["x", f"{name}_w"], [f"{name}_y"], kernel_shape=[3], pads=[1, 1])
    relu = helper.make_node("Relu", [f"{name}_y"], [f"{name}_out"])
    return helper.make_graph(
        [conv, relu], name, [], [value(f"{name}_out", None)], [weight(f"{name}_w", (channels, 4, 3))]
    )


def _shape_driven_if(rank_check: int) -> onnx.ModelProto:
    """Shape -> Size(of the shape) -> Equal -> If: `if x.dim() == 3`, as VAD exports do."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Size", ["shape"], ["rank"]),
        helper.make_node("Equal", ["rank", "three"], ["is_3d"]),
        helper.make_node(
            "If",
            ["is_3d"],
            ["y"],
            name="pick",
            then_branch=_branch("then", 32),
            else_branch=_branch("else", 8),
        ),
    ]
    inits = [numpy_helper.from_array(np.array(rank_check, dtype=np.int64), "three")]
    return model(nodes, [value("x", [1, 4, 100])], [value("y", None)], inits)


def test_an_if_decided_by_shapes_costs_only_the_taken_branch_with_outer_shapes(cost_of: Cost) -> None:
    taken = cost_of(_shape_driven_if(3))
    assert not taken.unknown_ops and not taken.notes
    conv = next(n for n in taken.nodes if n.op_type == "Conv")
    assert conv.name == "pick/then_branch/Conv_0"
    assert conv.flops == 2 * 32 * 100 * 4 * 3
    # The untaken branch does not run, but its weight is stored and loaded with the model.
    assert taken.params == 32 * 4 * 3 + 8 * 4 * 3
    assert taken.weight_bytes == 4 * taken.params
    other = cost_of(_shape_driven_if(2))
    assert [n.name for n in other.nodes if n.op_type == "Conv"] == ["pick/else_branch/Conv_0"]
    assert other.model.graph.tensors["y"].shape == (1, 8, 100)


def _sample_rate_model() -> onnx.ModelProto:
    """A rank-0 `sr` input picks the branch (16 kHz vs 8 kHz), as VAD models do."""
    nodes = [
        helper.make_node("Equal", ["sr", "sixteen_k"], ["is_16k"]),
        helper.make_node(
            "If", ["is_16k"], ["y"], name="rate", then_branch=_branch("hi", 16), else_branch=_branch("lo", 8)
        ),
    ]
    inits = [numpy_helper.from_array(np.array(16000, dtype=np.int64), "sixteen_k")]
    inputs = [value("x", [1, 4, 64]), value("sr", [], TensorProto.INT64)]
    return model(nodes, inputs, [value("y", None)], inits)


def test_an_input_value_picks_the_branch(cost_of: Cost) -> None:
    high = cost_of(_sample_rate_model(), values={"sr": 16000})
    low = cost_of(_sample_rate_model(), values={"sr": 8000})
    assert [n.name for n in high.nodes if n.op_type == "Conv"] == ["rate/then_branch/Conv_0"]
    assert [n.name for n in low.nodes if n.op_type == "Conv"] == ["rate/else_branch/Conv_0"]
    assert high.flops - 1 == 2 * (low.flops - 1)  # twice the channels; the Equal runs either way
    unknown = cost_of(_sample_rate_model())
    assert any("condition known only at run time" in note for note in unknown.notes)


def test_a_value_for_an_input_that_does_not_exist_or_does_not_fit_is_a_usage_error(tmp_path: Path) -> None:
    path = save(_sample_rate_model(), tmp_path / "vad.onnx")
    with pytest.raises(UsageError, match=r"--value rate: the model has no input 'rate'"):
        load_model(path, values={"rate": 1})
    with pytest.raises(UsageError, match=r"--value sr: rank 1 given, the model declares rank 0"):
        load_model(path, values={"sr": [16000, 8000]})


def _crnn() -> onnx.ModelProto:
    """CNN features (N, C, H, W) -> Reshape to (N, C*H, W) with a computed target ->
    Transpose to (W, N, C*H) -> LSTM: the OCR head TorchScript exports of `x.view(b, c*h, w)` give."""
    nodes = [
        helper.make_node("Conv", ["x", "cw"], ["f"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Shape", ["f"], ["fs"]),
        helper.make_node("Gather", ["fs", "i0"], ["n"], axis=0),
        helper.make_node("Gather", ["fs", "i1"], ["c"], axis=0),
        helper.make_node("Gather", ["fs", "i2"], ["h"], axis=0),
        helper.make_node("Gather", ["fs", "i3"], ["w"], axis=0),
        helper.make_node("Mul", ["c", "h"], ["ch"]),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Unsqueeze", ["ch", "ax0"], ["ch1"]),
        helper.make_node("Unsqueeze", ["w", "ax0"], ["w1"]),
        helper.make_node("Concat", ["n1", "ch1", "w1"], ["target"], axis=0),
        helper.make_node("Reshape", ["f", "target"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["tbc"], perm=[2, 0, 1]),
        helper.make_node("LSTM", ["tbc", "W", "R"], ["out"], hidden_size=32, direction="bidirectional"),
    ]
    inits = [
        weight("cw", (16, 1, 3, 3)),
        *(numpy_helper.from_array(np.array(i, dtype=np.int64), f"i{i}") for i in range(4)),
        _ints("ax0", [0]),
        weight("W", (2, 4 * 32, 16 * 8)),
        weight("R", (2, 4 * 32, 32)),
    ]
    return model(nodes, [value("x", ["batch", 1, 8, "width"])], [value("out", None)], inits)


def test_a_crnn_computed_reshape_resolves_and_the_lstm_is_costed(cost_of: Cost) -> None:
    cost = cost_of(_crnn(), dims={"width": 100})
    assert not cost.unknown_ops
    lstm = next(n for n in cost.nodes if n.op_type == "LSTM")
    assert cost.model.graph.tensors["out"].shape == (100, 2, 1, 32)
    assert lstm.params == 2 * 4 * 32 * (16 * 8 + 32)
    wider = cost_of(_crnn(), inputs={"x": (4, 1, 8, 200)})
    assert next(n for n in wider.nodes if n.op_type == "LSTM").flops == 8 * lstm.flops


def test_minus_one_declared_dims_are_unknown_not_constraints(cost_of: Cost) -> None:
    """Paddle declares "any size" as dim_value -1 on outputs and value infos."""
    proto = _exported_mlp()
    for info in [*proto.graph.output, *proto.graph.value_info]:
        info.type.tensor_type.shape.dim[0].dim_value = -1
    cost = cost_of(proto)
    assert not cost.unknown_ops
    assert cost.model.graph.tensors["y"].shape == (1, 4)


def test_a_loop_counted_by_an_input_shape_runs_that_many_times(cost_of: Cost) -> None:
    """`for i in range(x.size(1))`: the trip count is Gather(Shape(x), 1)."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("MatMul", ["h_in", "w"], ["h_out"]),
        ],
        "body",
        [value("i", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("h_in", [1, 16])],
        [value("cond_out", [], TensorProto.BOOL), value("h_out", [1, 16])],
    )
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["steps"], axis=0),
        helper.make_node("Loop", ["steps", "", "h0"], ["h"], body=body),
        helper.make_node("MatMul", ["h", "head"], ["y"], name="head"),
    ]
    inits = [numpy_helper.from_array(np.array(1, dtype=np.int64), "one"), weight("w", (16, 16))]
    inits.append(weight("head", (16, 4)))
    proto = model(nodes, [value("x", [1, "steps"]), value("h0", [1, 16])], [value("y", None)], inits)
    cost = cost_of(proto, dims={"steps": 12})
    matmul = next(n for n in cost.nodes if n.op_type == "MatMul")
    assert matmul.repeats == 12 and not cost.notes
    # onnx leaves a Loop's carried output shapeless ("shape may change across iterations"); a
    # body that keeps the carried shape gives it, and the head after the loop is costed.
    assert not cost.unknown_ops
    assert next(n for n in cost.nodes if n.name == "head").flops == 2 * 16 * 4


def test_every_unbound_dimension_is_named_at_once(tmp_path: Path) -> None:
    node = helper.make_node("Add", ["a", "b"], ["y"])
    proto = model([node], [value("a", [1, "seq"]), value("b", [1, "width"])], [value("y", None)])
    with pytest.raises(ShapeError, match=r"symbol 'seq'.*; input 'b' dimension 1 is symbol 'width'"):
        load_model(save(proto, tmp_path / "two.onnx"))


def test_a_scalar_input_can_be_given_a_rank_zero_shape(tmp_path: Path) -> None:
    node = helper.make_node("Mul", ["x", "scale"], ["y"])
    proto = model([node], [value("x", [1, 4]), value("scale", None)], [value("y", None)])
    model_ = load_model(save(proto, tmp_path / "scale.onnx"), inputs={"scale": ()})
    assert model_.graph.tensors["y"].shape == (1, 4)


def test_loading_leaves_the_callers_proto_unchanged(tmp_path: Path) -> None:
    from archlint.api import resolve_model

    proto = _shape_driven_if(3)
    before = proto.SerializeToString()
    resolve_model(proto, "in-memory", inputs={"x": (2, 4, 50)})
    assert proto.SerializeToString() == before


def test_an_undecided_if_reports_the_range_of_both_branches(tmp_path: Path) -> None:
    from archlint.api import analyze
    from archlint.report.analysis_json import document
    from archlint.targets.registry import resolve

    path = save(_sample_rate_model(), tmp_path / "vad.onnx")
    analysis = analyze(path, [resolve("cpu")])
    cost, prediction = analysis.cost, analysis.predictions[0]
    low, high = cost.flops_range
    conv = lambda channels: 2 * channels * 64 * 4 * 3 + channels * 64  # noqa: E731  (conv + relu)
    assert (low, high) == (1 + conv(8), 1 + conv(16)) and cost.flops == high
    assert prediction.latency_min_s < prediction.latency_s
    totals = document(analysis, prediction)["totals"]
    assert totals["flops_range"] == [low, high]
    assert totals["predicted_latency_range_s"] == [prediction.latency_min_s, prediction.latency_s]
    assert totals["complete"] is True and totals["operators"] == totals["costed_operators"] == 3


def test_totals_say_how_many_operators_were_costed(tmp_path: Path) -> None:
    from archlint.api import analyze
    from archlint.report.analysis_json import document

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Mystery", ["a"], ["y"], domain="acme")]
    proto = model(nodes, [value("x", [1, 4])], [value("y", None)], extra_opsets={"acme": 1})
    analysis = analyze(save(proto, tmp_path / "custom.onnx"))
    totals = document(analysis, None)["totals"]
    assert totals["complete"] is False
    assert (totals["costed_operators"], totals["operators"]) == (1, 2)
    assert totals["uncosted"] == ["Mystery_1"]


def test_constant_computations_inside_a_loop_body_resolve_its_shapes(cost_of: Cost) -> None:
    """TorchScript writes `x[:, i]` in a loop as Slice(x, starts, ends, axes=Unsqueeze(outer
    Constant)) then Gather(.., i): onnx infers bodies without propagating such values."""
    body = helper.make_graph(
        [
            helper.make_node("Unsqueeze", ["one", "zero_axis"], ["axes"]),
            helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["all_steps"]),
            helper.make_node("Gather", ["all_steps", "i"], ["step"], axis=1),
            helper.make_node("MatMul", ["step", "w"], ["proj"]),
            helper.make_node("Add", ["proj", "h_in"], ["h_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "body",
        [value("i", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("h_in", None)],
        [value("cond_out", [], TensorProto.BOOL), value("h_out", None)],
    )
    nodes = [
        helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.array(1, dtype=np.int64))),
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["steps"], axis=0),
        helper.make_node("Loop", ["steps", "", "h0"], ["h"], body=body),
    ]
    inits = [_ints("zero_axis", [0]), _ints("starts", [0]), _ints("ends", [1 << 62]), weight("w", (16, 8))]
    proto = model(nodes, [value("x", [1, 10, 16]), value("h0", [1, 8])], [value("h", None)], inits)
    cost = cost_of(proto, inputs={"x": (4, 12, 16), "h0": (4, 8)})
    assert not cost.unknown_ops
    matmul = next(n for n in cost.nodes if n.op_type == "MatMul")
    assert (matmul.repeats, matmul.flops) == (12, 12 * 2 * 4 * 16 * 8)


def _patch_stages(stages: int) -> onnx.ModelProto:
    """What a torchscript opset-13 export of MobileViT-style unfolding writes: each stage reads
    its input's height, computes ceil(h / 2) through a float Div and Ceil (which onnx's data
    propagation does not follow) and reshapes to it, so every stage's Shape reads a tensor whose
    shape only that computed value decides."""
    nodes: list[onnx.NodeProto] = []
    inits = [_ints("zero", [0]), _ints("two_axis", [2]), _ints("rest", [-1])]
    inits.append(numpy_helper.from_array(np.array(2.0, dtype=np.float32), "half"))
    current = "x"
    for i in range(stages):
        s = f"s{i}_"
        nodes += [
            helper.make_node("Shape", [current], [s + "shape"]),
            helper.make_node("Gather", [s + "shape", "two_axis"], [s + "h"], axis=0),
            helper.make_node("Cast", [s + "h"], [s + "hf"], to=TensorProto.FLOAT),
            helper.make_node("Div", [s + "hf", "half"], [s + "halved"]),
            helper.make_node("Ceil", [s + "halved"], [s + "ceiled"]),
            helper.make_node("Cast", [s + "ceiled"], [s + "patches"], to=TensorProto.INT64),
            helper.make_node("Concat", ["zero", "zero", s + "patches", "rest"], [s + "target"], axis=0),
            helper.make_node("Reshape", [current, s + "target"], [s + "out"]),
            helper.make_node("Relu", [s + "out"], [s + "act"]),
        ]
        current = s + "act"
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    return model(nodes, [value("x", [1, 4, "h", "w"])], [value("y", None)], inits)


@pytest.fixture
def inferences(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per whole-graph shape inference that resolution runs."""
    from archlint.model import resolution

    calls: list[int] = []
    infer = resolution.run_inference
    monkeypatch.setattr(resolution, "run_inference", lambda proto: calls.append(1) or infer(proto))
    return calls


def test_values_behind_an_unpropagated_division_fold_without_an_inference_per_stage(
    tmp_path: Path, inferences: list[int]
) -> None:
    path = save(_patch_stages(6), tmp_path / "stages.onnx")
    graph = load_model(path, inputs={"x": (1, 4, 64, 8)}).graph
    # ceil(64 / 2) = 32 rows of 16 values, then 16 of 32, ... each stage halving the height.
    assert [graph.tensors[f"s{i}_out"].shape for i in range(6)] == [
        (1, 4, 32, 16),
        (1, 4, 16, 32),
        (1, 4, 8, 64),
        (1, 4, 4, 128),
        (1, 4, 2, 256),
        (1, 4, 1, 512),
    ]
    assert graph.tensors["y"].shape == (1, 4, 1, 512)  # the graph's output, inferred node by node
    # Without per-operator inference this took a whole-graph inference per stage (6 here), and
    # until every tensor settling in the first round ended resolution, a second one to confirm.
    assert len(inferences) == 1


def test_a_chain_of_contrib_operators_is_declared_in_one_walk(tmp_path: Path, inferences: list[int]) -> None:
    # onnx infers none of onnxruntime's operators: before, each FastGelu in the chain waited for
    # the inference that gave its input a shape, one inference per link (9 here).
    nodes, current = [], "x"
    for i in range(8):
        nodes.append(helper.make_node("FastGelu", [current], [f"g{i}"], domain="com.microsoft"))
        nodes.append(helper.make_node("Relu", [f"g{i}"], [f"r{i}"]))
        current = f"r{i}"
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    proto = model(nodes, [value("x", [1, "n"])], [value("y", None)], extra_opsets={"com.microsoft": 1})
    graph = load_model(save(proto, tmp_path / "chain.onnx"), inputs={"x": (1, 64)}).graph
    assert all(graph.tensors[f"r{i}"].shape == (1, 64) for i in range(8))
    assert len(inferences) <= 2


def test_inference_is_given_only_the_known_values_a_remaining_node_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlint.model import resolution

    given: list[set[str]] = []
    infer = resolution.run_inference

    def recording(proto: onnx.ModelProto) -> onnx.ModelProto:
        given.append({init.name for init in proto.graph.initializer})
        return infer(proto)

    monkeypatch.setattr(resolution, "run_inference", recording)
    # The exporters' shape chain: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch_1d"]),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    zero = numpy_helper.from_array(np.array(0, dtype=np.int64), "zero")
    inits = [zero, _ints("axes", [0]), _ints("minus_one", [-1])]
    proto = model(nodes, [value("x", ["n", 4, 8])], [value("y", None)], inits)
    graph = load_model(save(proto, tmp_path / "chain.onnx"), inputs={"x": (3, 4, 8)}).graph
    assert graph.tensors["y"].shape == (3, 32)
    # Only the Reshape's target is read by a node inference still has; the values only folded
    # nodes read keep their shapes all the same.
    assert given and all("target" in names and not names & {"shape", "batch", "batch_1d"} for names in given)
    assert graph.tensors["shape"].shape == (3,) and graph.tensors["batch_1d"].shape == (1,)
