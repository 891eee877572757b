"""A Conv the exporter fused with its BatchNorm is placed on the conv's line, and noqa works there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archlint.api import load_model
from archlint.cli import main
from archlint.lint.diagnostics import Location
from archlint.model.graph import Graph, Model, Node
from archlint.model.loader import ModelRequest
from archlint.model.source_locations import (
    CLASS_HIERARCHY,
    NAME_SCOPES,
    ORIGINS_KEY,
    SOURCE_MAP_KEY,
    locate,
    node_sources,
)

MODEL = """\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = Block(3, 30)
        self.tail = nn.Conv2d(30, 32, 3, padding=1)
        self.tail_bn = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.tail_bn(self.tail(self.stem(x))).mean((2, 3)))
"""
BLOCK_CONV, BLOCK_BN, TAIL, TAIL_BN = 8, 9, 20, 21
ARGS = ["models.py::Net", "--input", "x=1x3x16x16", "--target", "gpu", "--format", "json"]


@pytest.fixture
def project(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path_factory.mktemp("fused")
    (folder / "models.py").write_text(MODEL)
    monkeypatch.chdir(folder)
    return folder


def _found(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    main(["check", *ARGS, *args])
    found: list[dict[str, object]] = json.loads(capsys.readouterr().out)["diagnostics"]
    return found


def _lines(found: list[dict[str, object]], code: str) -> set[int]:
    return {
        place["location"]["line"]  # type: ignore[index]
        for d in found
        if d["code"] == code
        for place in d["locations"]  # type: ignore[attr-defined]
    }


def _with_comments(folder: Path, comments: dict[int, str]) -> None:
    lines = MODEL.splitlines()
    for line, comment in comments.items():
        lines[line - 1] += f"  # {comment}"
    (folder / "models.py").write_text("\n".join(lines) + "\n")


def test_a_conv_folded_with_its_batchnorm_is_found_on_the_conv_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _found(capsys, "--select", "AL101")
    assert _lines(found, "AL101") == {BLOCK_CONV, TAIL}  # 30 output channels, 30 input channels
    messages = {str(d["message"]).split(":")[0] for d in found}
    assert messages == {"stem.conv", "tail"}  # the conv's module path, not the BatchNorm's


def test_the_batchnorm_lines_are_secondary_locations(project: Path) -> None:
    request = ModelRequest("models.py::Net", {"x": (1, 3, 16, 16)})
    sources = node_sources(load_model("models.py::Net", request=request))
    convs = {s.location.line: s for s in sources.values() if s.module in ("stem.conv", "tail")}
    assert set(convs) == {BLOCK_CONV, TAIL}
    assert convs[BLOCK_CONV].secondary == (Location("models.py", BLOCK_BN),)
    assert convs[TAIL].secondary == (Location("models.py", TAIL_BN),)


def test_noqa_on_the_conv_line_silences_and_a_stray_one_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_comments(
        project,
        {
            TAIL: "archlint: noqa: AL101",  # used: silences the tail's finding
            BLOCK_CONV: "archlint: noqa: AL201",  # nothing of AL201 on this line
            TAIL_BN: "archlint: noqa: AL101",  # the BatchNorm's line: nothing is reported there
        },
    )
    found = _found(capsys, "--select", "AL101,AL001")
    assert _lines(found, "AL101") == {BLOCK_CONV}
    unused = {int(d["location"]["line"]): str(d["message"]) for d in found if d["code"] == "AL001"}  # type: ignore[index]
    assert set(unused) == {BLOCK_CONV, TAIL_BN}
    assert "AL201" in unused[BLOCK_CONV] and "AL101" in unused[TAIL_BN]


def _node(op_type: str, scopes: list[str], classes: list[str], origins: list[dict[str, object]]) -> Node:
    metadata = {NAME_SCOPES: repr(scopes), CLASS_HIERARCHY: repr(classes)}
    if origins:
        metadata[ORIGINS_KEY] = json.dumps(origins)
    return Node("n", op_type, "", ("x",), ("y",), metadata=metadata)


def test_the_module_whose_operator_the_node_performs_wins() -> None:
    """A Gemm tagged with the module of an Add it absorbed is placed on its linear layer."""
    lines = {"head.fc": ["net.py", 4], "head.scale": ["net.py", 5]}
    graph = Graph("g", (), (), (), {}, frozenset())
    model = Model("net.py::Net", graph, {}, "", metadata={SOURCE_MAP_KEY: json.dumps(lines)})
    linear = {
        "module": "head.fc",
        "layer": "torch.nn.modules.linear.Linear",
        "op": "aten.mm.default",
        "frame": None,
    }
    gemm = _node(
        "Gemm",
        ["", "head", "head.scale", "add"],
        ["Net", "Head", "torch.nn.Scale", "aten.add.Tensor"],
        [linear],
    )
    source = locate(model, gemm)
    assert source is not None
    assert (source.module, source.location, source.secondary) == (
        "head.fc",
        Location("net.py", 4),
        (Location("net.py", 5),),
    )
    relu = _node(
        "Relu",
        ["", "head", "head.scale", "relu"],
        ["Net", "Head", "torch.nn.Scale", "aten.relu.default"],
        [linear],
    )
    placed = locate(model, relu)
    assert placed is not None and placed.module == "head.scale"  # no absorbed operation is a Relu
