"""Malformed models are refused at the door in one line with exit code 2, never a crash: each
case here is a class of crash mutation fuzzing found (benchmarks/fuzz.py), rebuilt in code; a
slice of the fuzzer itself runs at the end with a fixed seed."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.cli import main
from tests.builders import conv_model, model, save, value


def _raw_data_too_short(proto: onnx.ModelProto) -> None:
    tensor = proto.graph.initializer[0]
    tensor.raw_data = tensor.raw_data[:10]


def _undefined_dtype(proto: onnx.ModelProto) -> None:
    proto.graph.initializer[0].data_type = TensorProto.UNDEFINED


def _group_as_string(proto: onnx.ModelProto) -> None:
    group = next(a for a in proto.graph.node[0].attribute if a.name == "group")
    group.type, group.s = onnx.AttributeProto.STRING, b"\xff"


def _huge_declared_dim(proto: onnx.ModelProto) -> None:
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 2**40


MUTATIONS: dict[str, tuple[Callable[[onnx.ModelProto], None], str]] = {
    "raw data of the wrong length": (
        _raw_data_too_short,
        r"tensor 'w': 10 bytes of data for dims \[8, 8, 3, 3\]",
    ),
    "an undefined dtype": (_undefined_dtype, r"tensor 'w' has no element type"),
    "an attribute of the wrong type": (
        _group_as_string,
        r"attribute 'group' is of type string, the operator takes int",
    ),
    "a dimension beyond int32": (_huge_declared_dim, r"declares a dimension of 1099511627776"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_malformed_structure_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, expected = MUTATIONS[case]
    proto = conv_model(8, 8, 16, 3)
    mutate(proto)
    path = save(proto, tmp_path / "model.onnx")
    assert main(["check", str(path), "--target", "gpu,cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(expected, err), err


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proto = conv_model(8, 8, 16, 3)
    proto.producer_name = "pytorch"
    data = proto.SerializeToString().replace(b"pytorch", b"\xc1ytorch")
    (tmp_path / "model.onnx").write_bytes(data)
    assert main(["check", str(tmp_path / "model.onnx")]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err


def test_an_if_condition_of_several_elements_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def branch(name: str) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node("Relu", ["x"], [f"{name}_y"])], name, [], [value(f"{name}_y", None)]
        )

    node = helper.make_node("If", ["c"], ["y"], then_branch=branch("t"), else_branch=branch("e"))
    condition = numpy_helper.from_array(np.array([True, False]), "c")
    path = save(model([node], [value("x", [1, 4])], [value("y", None)], [condition]), tmp_path / "if.onnx")
    assert main(["check", str(path)]) == 2
    assert "its condition has 2 elements" in capsys.readouterr().err


def test_a_huge_group_count_is_checked_in_bounded_time(tmp_path: Path) -> None:
    """``group = 2**40`` made AL202 walk every smaller group count: now divisors in sqrt time."""
    from archlint.rules.many_groups import _divisors_below

    assert _divisors_below(12) == [1, 2, 3, 4, 6]
    assert len(_divisors_below(2**40)) == 40


def test_a_fixed_seed_slice_of_the_fuzzer_finds_no_internal_error_or_hang() -> None:
    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    if str(benchmarks) not in sys.path:
        sys.path.insert(0, str(benchmarks))
    import fuzz

    results = fuzz.fuzz(cases=300, seed=0, timeout=20)
    bad = [r for r in results if r.outcome in ("internal", "hang")]
    assert bad == [], fuzz.report(results, 5)
    assert {r.outcome for r in results} >= {"ok", "error"}


@pytest.mark.parametrize(
    ("trips", "expected"),
    [
        (np.array(-1, np.int64), "its trip count is negative"),
        (np.array(float("nan"), np.float32), "its trip count must be one integer"),
        (np.array([3, 4], np.int64), "its trip count must be one integer"),
    ],
)
def test_a_loop_trip_count_that_cannot_be_is_refused(
    trips: np.ndarray, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_control_flow import _loop_model

    proto = _loop_model(np.array(1, np.int64))
    next(t for t in proto.graph.initializer if t.name == "M").CopyFrom(numpy_helper.from_array(trips, "M"))
    assert main(["check", str(save(proto, tmp_path / "loop.onnx"))]) == 2
    assert expected in capsys.readouterr().err


def test_a_loop_that_runs_zero_times_costs_nothing(tmp_path: Path) -> None:
    from archlint.api import analyze
    from tests.unit.test_control_flow import _loop_model

    cost = analyze(save(_loop_model(np.array(0, np.int64)), tmp_path / "loop.onnx")).cost
    assert not [n for n in cost.nodes if n.op_type == "MatMul"]
    assert any("0 times" in note for note in cost.notes)


def test_an_external_data_location_with_a_nul_byte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proto = conv_model(8, 8, 16, 3)
    tensor = proto.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="weights\x00.bin")
    assert main(["check", str(save(proto, tmp_path / "model.onnx"))]) == 2
    assert "is no path" in capsys.readouterr().err


def test_a_configuration_that_is_not_utf8_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.archlint]\ntarget = ["\xff\xfe"]\n')
    path = save(conv_model(8, 8, 16, 3), tmp_path / "model.onnx")
    assert main(["check", str(path), "--config", str(tmp_path / "pyproject.toml")]) == 2
    assert "cannot read configuration" in capsys.readouterr().err


def _external(tmp_path: Path) -> Path:
    onnx.save(
        conv_model(8, 8, 16, 3),
        str(tmp_path / "model.onnx"),
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    return tmp_path / "model.onnx"


@pytest.mark.parametrize("command", ["check", "fix"])
def test_external_data_past_the_end_of_its_file_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _external(tmp_path)
    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "offset":
            entry.value = str(2**60)
    onnx.save(proto, str(path))
    extra = ["-o", str(tmp_path / "out.onnx")] if command == "fix" else []
    assert main([command, str(path), *extra]) == 2
    assert "lie outside 'weights.bin'" in capsys.readouterr().err


def test_a_hard_linked_external_data_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _external(tmp_path)
    (tmp_path / "elsewhere.bin").hardlink_to(tmp_path / "weights.bin")
    assert main(["fix", str(path), "-o", str(tmp_path / "out.onnx")]) == 2
    assert "has 2 hard links" in capsys.readouterr().err


def _exit_code(proto: onnx.ModelProto, tmp_path: Path, *flags: str) -> int:
    return main(["check", str(save(proto, tmp_path / "model.onnx")), "--target", "gpu,cpu,npu", *flags])


def test_an_if_without_its_branches_is_refused(tmp_path: Path) -> None:
    node = helper.make_node("If", ["c"], ["y"])
    condition = numpy_helper.from_array(np.array(True), "c")
    assert _exit_code(model([node], [value("x", [1, 4])], [value("y", None)], [condition]), tmp_path) == 2


def test_a_shape_node_without_an_input_is_no_crash(tmp_path: Path) -> None:
    nodes = [helper.make_node("Shape", [], ["s"]), helper.make_node("Relu", ["x"], ["y"])]
    assert _exit_code(model(nodes, [value("x", [1, 4])], [value("y", None), value("s", None)]), tmp_path) in (
        0,
        1,
        2,
    )


def test_a_scan_axis_out_of_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = helper.make_graph(
        [
            helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
            helper.make_node("Identity", ["s_out"], ["y_t"]),
        ],
        "body",
        [value("s_in", [4]), value("x_t", [4])],
        [value("s_out", [4]), value("y_t", [4])],
    )
    scan = helper.make_node(
        "Scan", ["s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1, scan_input_axes=[5]
    )
    proto = model([scan], [value("s0", [4]), value("xs", [3, 4])], [value("s", None), value("ys", None)])
    assert _exit_code(proto, tmp_path) == 2


@pytest.mark.parametrize("channels", [0, 30])
def test_zero_width_layers_and_a_rank_0_value_info_are_no_crash(tmp_path: Path, channels: int) -> None:
    """AL101, AL102, AL201, AL203, AL304 once divided by zero channels or read a rank-0 shape."""
    proto = conv_model(8, channels, 16, 3) if channels else conv_model(8, 8, 16, 3)
    if not channels:
        proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((0, 8, 3, 3), np.float32), "w"))
    proto.graph.value_info.append(value("scalar_info", []))
    assert _exit_code(proto, tmp_path) in (0, 1, 2)


def test_a_group_count_of_2_to_the_40_ends_quickly(tmp_path: Path) -> None:
    proto = conv_model(8, 8, 16, 3)
    next(a for a in proto.graph.node[0].attribute if a.name == "group").i = 2**40
    assert _exit_code(proto, tmp_path) in (1, 2)


def test_an_input_dimension_beyond_int32_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(conv_model(8, 8, 16, 3), tmp_path, "--input", f"x=1x8x{10**30}x16") == 2
    assert "dimensions must be between 0 and 2**31 - 1" in capsys.readouterr().err
