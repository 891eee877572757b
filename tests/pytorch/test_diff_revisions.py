"""``archlint diff BASE HEAD --model models.py::Net``: one model definition at two git revisions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from archlint.cli import main

MODELS = """\
from torch import nn

from layers import WIDTH


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1)
        self.narrow = nn.Conv2d(32, WIDTH, 3, padding=1)
        self.head = nn.Conv2d(WIDTH, 32, 3, padding=1)

    def forward(self, x):
        return self.head(self.narrow(self.stem(x)))
"""


def _git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two commits: the width lives in a sibling module, 30 channels first, then 32."""
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "layers.py").write_text("WIDTH = 30\n")
    _git(tmp_path, "init", "--quiet")
    _git(tmp_path, "add", "--all")
    _git(tmp_path, "commit", "--quiet", "-m", "narrow")
    _git(tmp_path, "tag", "before")
    (tmp_path / "layers.py").write_text("WIDTH = 32\n")
    _git(tmp_path, "commit", "--quiet", "-am", "aligned")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_definition_is_compared_at_two_revisions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "diff",
        "before",
        "HEAD",
        "--model",
        "models.py::Net",
        "--input",
        "x=1x3x32x32",
        "--target",
        "gpu",
    ]
    assert main([*args, "--select", "AL101", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    text = json.dumps(document)
    # Both AL101 findings (30 output channels, 30 input channels) are gone at HEAD: the sibling
    # module was re-imported from the second snapshot, not reused from the first.
    assert '"fixed"' in text and "AL101" in text
    assert "models.py::Net @ before" in text and "models.py::Net @ HEAD" in text
    assert main([*args, "--select", "AL101"]) == 0
    assert "2 fixed" in capsys.readouterr().out


def test_an_unknown_revision_is_one_line_and_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diff", "nope", "HEAD", "--model", "models.py::Net", "--input", "x=1x3x32x32"])
    assert code == 2
    assert "git revision 'nope'" in capsys.readouterr().err


def test_a_same_named_module_imported_earlier_does_not_shadow_the_revision(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib
    import sys

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "layers.py").write_text("UNRELATED = True\n")  # no WIDTH here
    sys.path.insert(0, str(elsewhere))
    try:
        importlib.import_module("layers")
        args = ["diff", "before", "HEAD", "--model", "models.py::Net", "--input", "x=1x3x32x32"]
        assert main([*args, "--target", "gpu", "--select", "AL101"]) == 0
        assert "2 fixed" in capsys.readouterr().out
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop("layers", None)


BLOCKS = """\
from torch import nn


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Block(3, 32)
        self.extra = nn.Conv2d(32, 32, 3, padding=1)
        self.features = nn.Sequential(Block(32, 32), Block(32, WIDTH))
        self.head = nn.Conv2d(WIDTH, 16, 1)

    def forward(self, x):
        return self.head(self.features(self.extra(self.stem(x))))
"""
EXTRA = "        self.extra = nn.Conv2d(32, 32, 3, padding=1)\n"


def _commit(repo: Path, source: str, tag: str) -> None:
    (repo / "models.py").write_text(source)
    _git(repo, "add", "models.py")
    _git(repo, "commit", "--quiet", "-m", tag)
    _git(repo, "tag", tag)


@pytest.fixture
def revisions(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """slow: 30 channels; faster: without the layer in front; aligned: 32 channels as well."""
    _git(tmp_path, "init", "--quiet")
    slow = BLOCKS.replace("WIDTH", "30")
    _commit(tmp_path, slow, "slow")
    faster = slow.replace(EXTRA, "").replace("self.extra(self.stem(x))", "self.stem(x)")
    _commit(tmp_path, faster, "faster")
    _commit(tmp_path, faster.replace("30", "32"), "aligned")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _diff(capsys: pytest.CaptureFixture[str], base: str, head: str, *args: str) -> str:
    command = ["diff", base, head, "--model", "models.py::Net", "--input", "x=1x3x32x32", "--target", "gpu"]
    assert main([*command, "--select", "AL101", *args]) == 0
    return capsys.readouterr().out


def test_a_finding_whose_model_only_got_faster_is_not_new(
    revisions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(_diff(capsys, "slow", "faster", "--format", "json"))
    # The layer in front is gone: torch renumbers the nodes after it and the findings' figures
    # move, but they are the same findings on the same modules.
    assert document["new"] == document["fixed"] == []
    assert [(layer["name"], layer["status"]) for layer in document["layers"]] == [("extra", "removed")]
    assert document["totals"]["head"]["time_s"]["a100"] < document["totals"]["base"]["time_s"]["a100"]


def test_findings_and_layers_are_named_by_module_path(
    revisions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _diff(capsys, "faster", "aligned")
    assert "Fixed (2):" in out
    fixed = out.split("Fixed (2):")[1].split("###")[0]
    assert "| AL101 | `features.1.conv` |" in fixed and "| AL101 | `head` |" in fixed
    assert "| `features.1.conv` | Conv | changed |" in out and "| `head` | Conv | changed |" in out
