"""``archlint diff``: a 30-channel and a 32-channel version of one net, and a version with a layer
more; totals and layer deltas from the analyses, new and fixed findings, exit codes, golden files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from onnx import helper

from archlint.api import analyze
from archlint.cli import main
from archlint.targets.registry import resolve_many
from tests.builders import model, save, value, weight
from tests.integration.test_reporters import assert_golden

ARGS = ["--target", "gpu,cpu", "--select", "AL101"]


def net(path: Path, mid: int, extra_relu: bool = False) -> str:
    """stem 3 -> 32, narrow 32 -> mid, widen mid -> 32, and optionally a Relu at the end."""
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["a"], name="stem", pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="narrow", pads=[1] * 4),
        helper.make_node(
            "Conv", ["b", "w2"], ["c" if extra_relu else "features"], name="widen", pads=[1] * 4
        ),
    ]
    if extra_relu:
        nodes.append(helper.make_node("Relu", ["c"], ["features"], name="act"))
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (mid, 32, 3, 3)), weight("w2", (32, mid, 3, 3))]
    save(model(nodes, [value("image", [1, 3, 56, 56])], [value("features", None)], inits), path)
    return path.name


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    monkeypatch.chdir(tmp_path)
    return (
        net(tmp_path / "c30.onnx", 30),
        net(tmp_path / "c32.onnx", 32),
        net(tmp_path / "relu.onnx", 32, True),
    )


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["diff", *args])
    return code, capsys.readouterr().out


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out = diff(capsys, *args, "--format", "json")
    assert code == 0
    document: dict[str, Any] = json.loads(out)
    return document


def test_totals_and_layers_come_from_the_analyses(
    versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    c30, c32, _ = versions
    document = as_json(capsys, c30, c32, *ARGS)
    profiles = resolve_many("gpu,cpu")
    base, head = analyze(c30, profiles), analyze(c32, profiles)
    assert document["schema"] == "archlint.diff/1" and document["targets"] == ["a100", "xeon-avx512"]
    assert document["totals"]["base"]["flops"] == base.cost.flops
    assert document["totals"]["head"]["flops"] == head.cost.flops
    assert document["totals"]["head"]["time_s"]["a100"] == head.predictions[0].latency_s
    assert {layer["name"] for layer in document["layers"]} == {"narrow", "widen"}  # the stem is unchanged
    narrow = document["layers"][0]
    # A 3x3 conv 32 -> c on 56x56: 2 * 9 * 32 * c * 56 * 56 FLOPs.
    assert (narrow["base"]["flops"], narrow["head"]["flops"]) == (
        2 * 9 * 32 * 30 * 56 * 56,
        2 * 9 * 32 * 32 * 56 * 56,
    )
    assert narrow["status"] == "changed"


def test_findings_fixed_and_new_by_code_node_and_target(
    versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    c30, c32, _ = versions
    forward = as_json(capsys, c30, c32, *ARGS)
    assert forward["new"] == []
    assert {(d["code"], d["node"], d["target"]) for d in forward["fixed"]} == {
        ("AL101", node, target) for node in ("narrow", "widen") for target in ("a100", "xeon-avx512")
    }
    backward = as_json(capsys, c32, c30, *ARGS)
    assert len(backward["new"]) == 4 and backward["fixed"] == []
    same = as_json(capsys, c30, c30, *ARGS)
    assert same["new"] == same["fixed"] == same["layers"] == []


def test_added_and_removed_layers(versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, c32, relu = versions
    added = as_json(capsys, c32, relu, *ARGS)["layers"]
    assert [(layer["name"], layer["status"], layer["base"]) for layer in added] == [("act", "added", None)]
    removed = as_json(capsys, relu, c32, *ARGS)["layers"]
    assert [(layer["name"], layer["status"], layer["head"]) for layer in removed] == [
        ("act", "removed", None)
    ]


def test_exit_code_is_informational_unless_fail_on_new(
    versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    c30, c32, _ = versions
    assert diff(capsys, c32, c30, *ARGS)[0] == 0
    assert diff(capsys, c32, c30, *ARGS, "--fail-on-new")[0] == 1  # new warnings on a100
    assert diff(capsys, c32, c30, *ARGS, "--fail-on-new", "--fail-level", "error")[0] == 0
    assert diff(capsys, c30, c32, *ARGS, "--fail-on-new")[0] == 0  # only fixes
    assert diff(capsys, c30, "missing.onnx", *ARGS)[0] == 2


def test_markdown_golden(versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    c30, c32, _ = versions
    code, out = diff(capsys, c30, c32, *ARGS)
    assert code == 0
    assert "Findings: 0 new findings, 4 fixed." in out
    assert_golden("diff.md", out)


def test_markdown_added_layer_and_new_findings_golden(
    versions: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    c30, _, relu = versions
    code, out = diff(capsys, relu, c30, *ARGS)
    assert code == 0
    assert "| `act` | Relu | removed |" in out and "New (4):" in out
    assert_golden("diff-removed-layer.md", out)
