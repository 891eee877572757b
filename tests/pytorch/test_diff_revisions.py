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
