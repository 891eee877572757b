"""``[[tool.archlint.models]]``: a bare ``archlint check`` lints them; ``--changed`` picks some."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from archlint.cli import main

LAYERS = """\
from torch import nn


def conv(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1)
"""
NET = """\
import torch
from torch import nn

from layers import conv


class Net(nn.Module):
    def __init__(self, width=30):
        super().__init__()
        self.a = conv(3, 32)
        self.b = conv(32, width)
        self.c = conv(width, 32)

    def forward(self, x):
        return self.c(self.b(self.a(x)))
"""
PYPROJECT = """\
[tool.archlint]
target = "gpu"

[[tool.archlint.models]]
entry = "src/net.py::Net"
inputs = { x = "1x3x32x32" }
kwargs = { width = 30 }
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "layers.py").write_text(LAYERS)
    (tmp_path / "src" / "net.py").write_text(NET)
    (tmp_path / "src" / "other.py").write_text("X = 1\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "layers", raising=False)  # one process, one tmp_path per test
    return tmp_path


def _models(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["check", "--format", "json", "--select", "AL101", *args]) in (0, 1)
    return list(json.loads(capsys.readouterr().out)["models"])


def test_a_bare_check_lints_the_configured_models(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--format", "json", "--select", "AL101"]) == 1
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert {(d["path"], d["location"]["line"]) for d in found} == {
        ("src/net.py::Net", 11),
        ("src/net.py::Net", 12),
    }


def test_changed_files_pick_the_models_they_define(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _models(capsys, "--changed", "src/layers.py") == ["src/net.py::Net"]  # imported by net.py
    assert main(["check", "--changed", "src/other.py", "README.md"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["check", "x.onnx", "--changed", "src/net.py"]) == 2
    assert "give no MODEL" in capsys.readouterr().err
