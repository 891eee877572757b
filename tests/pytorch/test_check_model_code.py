"""``archlint check models.py::Net``: findings on the lines that construct the layers, noqa, cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archlint.cli import main

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width: int = 30) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1)
        self.narrow = nn.Conv2d(32, width, 3, padding=1)
        self.head = nn.Conv2d(width, 32, 3, padding=1)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dw(self.head(self.narrow(self.stem(x))))
"""
NARROW_LINE, HEAD_LINE = 9, 10
ARGS = ["models.py::Net", "--input", "x=1x3x64x64", "--target", "gpu", "--format", "json"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("project")
    (folder / "models.py").write_text(MODEL)
    return folder


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    (project / "models.py").write_text(MODEL)
    return project


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["check", *args])
    return code, json.loads(capsys.readouterr().out)["diagnostics"]


def _at(found: list[dict[str, object]], code: str) -> set[object]:
    return {(d["location"] or {}).get("line") for d in found if d["code"] == code}  # type: ignore[attr-defined]


def test_findings_land_on_the_lines_that_construct_the_layers(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check(capsys, *ARGS)
    assert code == 1
    assert _at(found, "AL101") == {NARROW_LINE, HEAD_LINE}  # 30 output channels, 30 input channels
    head = next(d for d in found if d["code"] == "AL101" and str(d["message"]).startswith("head: "))
    assert head["location"] == {"path": "models.py", "line": HEAD_LINE}
    assert head["path"] == "models.py::Net"


def test_noqa_silences_its_line_and_an_unused_noqa_is_reported(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = MODEL.splitlines()
    lines[NARROW_LINE - 1] += "  # archlint: noqa: AL101"
    lines[7] += "  # archlint: noqa: AL201"  # the stem: no depthwise finding there to silence
    (in_project / "models.py").write_text("\n".join(lines) + "\n")
    _, found = _check(capsys, *ARGS)
    assert _at(found, "AL101") == {HEAD_LINE}
    unused = [d for d in found if d["code"] == "AL001"]
    assert [(d["name"], d["location"]) for d in unused] == [("unused-noqa", {"path": "models.py", "line": 8})]
    assert "AL201" in str(unused[0]["message"])
    _, found = _check(capsys, *ARGS, "--ignore", "unused-noqa")
    assert not [d for d in found if d["code"] == "AL001"]


def test_an_unchanged_model_is_not_exported_again(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    _check(capsys, *ARGS)  # exported here unless an earlier test did

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    (in_project / "models.py").write_text(MODEL.replace("super().__init__()", "super().__init__()  # why"))
    code, found = _check(capsys, *ARGS)  # a comment changes no token: still cached
    assert code == 1 and _at(found, "AL101") == {NARROW_LINE, HEAD_LINE}
    assert main(["check", *ARGS, "--kwargs", '{"width": 32}']) == 2  # new arguments: exported again
    assert "exported again" in capsys.readouterr().err


@pytest.mark.slow  # two whole processes, the first exporting with torch
def test_the_whole_process_uses_the_cache(in_project: Path, cache_dir: Path) -> None:
    _run(in_project, cache_dir)  # fills the cache, if no test did before
    result = _run(in_project, cache_dir)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""  # the exporter's chatter stays off the terminal
    found = json.loads(result.stdout)["diagnostics"]
    assert _at(found, "AL101") == {NARROW_LINE, HEAD_LINE}


def _run(folder: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARCHLINT_CACHE_DIR": str(cache_dir)}
    command = [sys.executable, "-m", "archlint", "check", *ARGS]
    return subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py::Net", "--input", "x=1x3x8x8"], "missing.py::Net: no such file 'missing.py'"),
        (["models.py::Nope", "--input", "x=1x3x8x8"], "has no attribute 'Nope'"),
        (["models.py::Net"], "give the shape of every input of forward(), e.g. --input x=1x3x224x224"),
        (["models.py::Net", "--input", "y=1x3x8x8"], "forward() has no parameter 'y'"),
        (["models.py::Net", "--input", "x=1x3x8x8", "--kwargs", '{"depth": 2}'], "building the model raised"),
        (["models.py::Net", "--input", "x=1x3x8x8", "--kwargs", "[1]"], "expected a JSON object"),
        (["models.py::Net", "--input", "x=1x3x8x8:int7"], "bad input dtype 'int7'"),
    ],
)  # fmt: skip
def test_bad_references_are_one_line_and_exit_2(
    in_project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["check", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_github_annotations_and_sarif_alerts_land_on_the_model_code(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ARGS[:-2]  # without --format json
    main(["check", *base, "--select", "AL101", "--format", "github"])
    annotations = capsys.readouterr().out.splitlines()
    assert any(f"file=models.py,line={NARROW_LINE}," in a and "AL101" in a for a in annotations)
    assert any(f"file=models.py,line={HEAD_LINE}," in a and "AL101" in a for a in annotations)
    main(["check", *base, "--select", "AL101", "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    places = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in results
    }  # fmt: skip
    assert ("AL101", "models.py", NARROW_LINE) in places
    assert ("AL101", "models.py", HEAD_LINE) in places
