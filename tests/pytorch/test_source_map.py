"""Module paths -> the lines that construct them, read from a live module's class sources."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from archlint.pytorch.source_map import module_lines

BLOCKS = """\
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pw = nn.Sequential(
            nn.Conv2d(c, c, 1),
            nn.ReLU(),
        )
        self.add_module("extra", nn.Identity())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.tail = self._make_tail()
        self.loop = nn.Sequential(*[nn.ReLU() for _ in range(2)])

    def _make_tail(self):
        return nn.Linear(4, 4)
"""


def test_attributes_container_elements_and_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocks.py").write_text(BLOCKS)
    spec = importlib.util.spec_from_file_location("archlint_test_blocks", tmp_path / "blocks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "archlint_test_blocks", module)
    spec.loader.exec_module(module)
    lines = module_lines(module.Net())
    assert lines["blocks"] == ("blocks.py", 17)
    assert lines["blocks.1"] == ("blocks.py", 17)  # elements written on one line
    assert lines["blocks.0.pw"] == ("blocks.py", 7)
    assert lines["blocks.0.pw.0"] == ("blocks.py", 8)
    assert lines["blocks.0.pw.1"] == ("blocks.py", 9)
    assert lines["blocks.0.extra"] == ("blocks.py", 11)
    assert lines["tail"] == ("blocks.py", 18)  # the assignment, not the helper's return
    assert lines["loop"] == ("blocks.py", 19)
    assert "loop.0" not in lines  # built in a loop: found through its container
