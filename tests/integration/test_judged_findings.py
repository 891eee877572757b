"""What the engine does with findings: one per pattern, savings that add up, exempt widths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx import helper

from archlint.cli import main
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.savings import combined_saving
from tests.builders import model, save, value, weight

EXAMPLE = Path(__file__).parents[2] / "examples" / "mobilenet_tiny.onnx"


def _repeated_blocks(tmp_path: Path, blocks: int = 3) -> Path:
    """A stem, then ``blocks`` identical 3x3 convs 30 -> 30 behind a 30-channel stem."""
    nodes = [helper.make_node("Conv", ["x", "w0"], ["h0"], pads=[1] * 4, name="stem")]
    inits = [weight("w0", (30, 3, 3, 3))]
    for i in range(blocks):
        nodes.append(
            helper.make_node("Conv", [f"h{i}", f"w{i + 1}"], [f"h{i + 1}"], pads=[1] * 4, name=f"block{i}")
        )
        inits.append(weight(f"w{i + 1}", (30, 30, 3, 3)))
    nodes.append(helper.make_node("Conv", [f"h{blocks}", "wout"], ["y"], pads=[1] * 4, name="out"))
    inits.append(weight("wout", (32, 30, 3, 3)))
    return save(
        model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits), tmp_path / "blocks.onnx"
    )


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    main(["check", *args, "--format", "json"])
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def test_identical_operators_are_one_finding_with_every_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_repeated_blocks(tmp_path))
    document = _json(capsys, path, "--target", "gpu", "--select", "AL101")
    diagnostics = document["diagnostics"]
    assert isinstance(diagnostics, list)
    grouped = [d for d in diagnostics if d["node"] == "block0"]
    assert len(grouped) == 1
    places = [p["node"] for p in grouped[0]["locations"]]
    assert places == ["block0", "block1", "block2"]
    same = "The same holds for 2 identical operators: 'block1', 'block2'; their fixes save"
    assert same in grouped[0]["message"]
    assert not any(d["node"] in ("block1", "block2") for d in diagnostics)

    main(["check", path, "--target", "gpu", "--select", "AL101", "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    names = [[loc["logicalLocations"][0]["name"] for loc in r["locations"]] for r in results]
    assert ["block0", "block1", "block2"] in names

    main(["check", path, "--target", "gpu", "--select", "AL101", "--format", "github"])
    annotations = capsys.readouterr().out.splitlines()
    assert sum(f"blocks.onnx:block{i}:" in a for a in annotations for i in range(3)) == 3


def test_the_summary_saving_never_exceeds_the_latency(capsys: pytest.CaptureFixture[str]) -> None:
    document = _json(capsys, str(EXAMPLE), "--target", "gpu,arm,npu,cpu")
    summary = document["summary"]
    assert isinstance(summary, list) and len(summary) == 4
    for row in summary:
        assert 0 <= row["saving_s"] <= row["latency_s"]
        assert row["latency_after_fixes_s"] == pytest.approx(row["latency_s"] - row["saving_s"])
    diagnostics = document["diagnostics"]
    assert isinstance(diagnostics, list)
    for d in diagnostics:  # a fix that saves nothing raises nothing; a small one is info
        assert d["saving_s"] >= 0
        if d["severity"] == "warning" and d["saving_s"] > 0:
            latency = next(r["latency_s"] for r in summary if r["target"] == d["target"])
            assert d["saving_s"] >= 0.01 * latency


def _diagnostic(code: str, saving: float, touched: set[str]) -> Diagnostic:
    return Diagnostic(
        code, code, Severity.WARNING, "t", "m", None, "", "", saving, touched=frozenset(touched)
    )


def test_fixes_of_one_operator_count_once_and_disjoint_fixes_add_up() -> None:
    narrow_weights = _diagnostic("AL502", 3.0, {"fc"})
    fuse = _diagnostic("AL501", 2.0, {"fc"})
    elsewhere = _diagnostic("AL101", 1.0, {"conv"})
    assert combined_saving([narrow_weights, fuse, elsewhere]) == 4.0
    whole_model = _diagnostic("AL403", 5.0, set())  # names no operator: conflicts with all
    assert combined_saving([narrow_weights, whole_model, elsewhere]) == 5.0


def _detector_head(tmp_path: Path) -> Path:
    """A backbone conv, then a class head 64 -> 18 whose output is a model output after a
    Reshape and a Sigmoid: the task fixes those 18 channels."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["f"], pads=[1] * 4, name="backbone"),
        helper.make_node("Conv", ["f", "w1"], ["c"], name="cls_head"),
        helper.make_node("Reshape", ["c", "shape"], ["r"], name="flatten"),
        helper.make_node("Sigmoid", ["r"], ["scores"], name="sigmoid"),
    ]
    inits = [weight("w0", (64, 3, 3, 3)), weight("w1", (18, 64, 1, 1))]
    inits.append(helper.make_tensor("shape", 7, [3], [1, 18, -1]))
    proto = model(nodes, [value("x", [1, 3, 40, 40])], [value("scores", None)], inits)
    return save(proto, tmp_path / "head.onnx")


def test_a_class_head_width_is_exempt_and_shown_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_detector_head(tmp_path))
    quiet = _json(capsys, path, "--target", "npu", "--select", "AL101,AL102")
    assert quiet["diagnostics"] == []
    main(["check", path, "--target", "npu", "--select", "AL101,AL102", "--show-exempt", "--format", "json"])
    shown = json.loads(capsys.readouterr().out)["diagnostics"]
    assert all(d["severity"] == "info" and "Exempt: " in d["message"] for d in shown)
    (head,) = [d for d in shown if d["node"] == "cls_head"]
    assert "Exempt: its output reaches the model output 'scores'" in head["message"]
    (stem,) = [d for d in shown if d["node"] == "backbone"]  # RGB: the data's 3 channels
    assert "Exempt: its input channels come from the model input 'x'" in stem["message"]


def test_folded_source_lines_travel_to_sarif_and_json() -> None:
    from archlint.lint.diagnostics import Location
    from archlint.report.check_json import diagnostic_dict
    from archlint.report.sarif import result

    conv, bn = Location("models.py", 8), Location("models.py", 9)
    d = Diagnostic(
        "AL101", "channel-alignment", Severity.INFO, "a100", "m", "conv", "", "", 0.0, conv, related=(bn,)
    )
    sarif = result(d, 0)
    assert sarif["locations"][0]["physicalLocation"]["region"]["startLine"] == 8
    assert sarif["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 9
    assert diagnostic_dict(d)["locations"][0]["related"] == [{"path": "models.py", "line": 9}]


def test_a_fix_that_overlaps_a_larger_one_says_so() -> None:
    from archlint.lint.savings import with_overlaps_noted

    weights = _diagnostic("AL502", 3.0, {"fc", "proj"})
    budget = _diagnostic("AL503", 3.0 - 1e-9, {"fc", "proj", "embed"})
    noted = with_overlaps_noted([budget, weights])
    assert "changes the operators AL502's fix changes" in noted[0].message
    assert noted[1] == weights
