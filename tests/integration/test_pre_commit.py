"""The pre-commit hook, end to end with pre-commit itself.

The working tree (tracked and untracked files, as a commit would take them) is copied into a
temporary git repository with one commit, and a project that uses the hook points its
.pre-commit-config.yaml at that commit. pre-commit then does what it does for users: clones the
repository, builds a virtual environment, installs archlint into it from source (its
dependencies come from the package index) and runs the hook on the staged ONNX files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from onnx import helper

from tests.builders import conv_model, model, save, value, weight

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    # A test run from inside a git hook inherits GIT_DIR and friends; they would point every git
    # command below at the wrong repository.
    clean = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return {**clean, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def git(cwd: Path, *args: str) -> str:
    identity = [
        "-c",
        "user.name=archlint tests",
        "-c",
        "user.email=tests@example.com",
        "-c",
        "commit.gpgsign=false",
    ]
    result = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True, env=_env()
    )
    return result.stdout.strip()


def commit_all(folder: Path, message: str) -> str:
    """A new repository in ``folder`` with everything in it committed; its HEAD."""
    git(folder, "init", "--quiet")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", message)
    return git(folder, "rev-parse", "HEAD")


def snapshot_of_the_working_tree(destination: Path) -> str:
    """Copy what a commit of the working tree would hold into a new repository; its HEAD."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return commit_all(destination, "snapshot")


def thirty_channel_model(path: Path) -> Path:
    """An RGB stem, then a conv to 30 channels: AL101 warns on a GPU (blocks of 4 in fp32)."""
    wiring = (("x", "w0", "a"), ("a", "w1", "b"), ("b", "w2", "y"))
    nodes = [helper.make_node("Conv", [x, w], [y], pads=[1] * 4) for x, w, y in wiring]
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (30, 32, 3, 3)), weight("w2", (32, 30, 3, 3))]
    return save(model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits), path)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pre-commit")
    source = base / "archlint-src"
    source.mkdir()
    head = snapshot_of_the_working_tree(source)
    project = base / "project"
    project.mkdir()
    thirty_channel_model(project / "thirty.onnx")
    save(conv_model(32, 32, 28, 3), project / "aligned.onnx")
    (project / "notes.txt").write_text("not a model\n")
    # AL101 only: the test is about the hook, and must not depend on which other rules exist.
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {head}\n    hooks:\n      - id: archlint\n"
        "        args: [--target, gpu, --select, AL101]\n"
    )
    commit_all(project, "models")
    return project


def pre_commit(project: Path, *files: str) -> subprocess.CompletedProcess[str]:
    # PRE_COMMIT_HOME: a cache of its own, so the hook's environment is built from this tree.
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--files", *files],
        cwd=project,
        capture_output=True,
        text=True,
        env=_env(PRE_COMMIT_HOME=str(project.parent / "cache")),
        check=False,
        timeout=600,
    )


@pytest.mark.slow
def test_the_hook_fails_on_a_finding_and_passes_a_clean_model(project: Path) -> None:
    started = time.monotonic()
    failing = pre_commit(project, "thirty.onnx")
    built_in = time.monotonic() - started
    output = failing.stdout + failing.stderr
    assert failing.returncode == 1, output
    assert "archlint" in output and "Failed" in output
    assert "AL101 channel-alignment" in output and "thirty.onnx:Conv_1" in output

    passing = pre_commit(project, "aligned.onnx")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout

    skipped = pre_commit(project, "notes.txt")  # files: \.onnx$
    assert skipped.returncode == 0 and "Skipped" in skipped.stdout
    total = time.monotonic() - started
    print(f"pre-commit: first run (builds the environment) {built_in:.0f} s, {total:.0f} s in all")


MODEL_CODE = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1)
        self.narrow = nn.Conv2d(32, 30, 3, padding=1)
        self.head = nn.Conv2d(30, 32, 3, padding=1)

    def forward(self, x):
        return self.head(self.narrow(self.stem(x)))
"""


@pytest.fixture(scope="module")
def models_project(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Path:
    """A project whose configured PyTorch model has a 30-channel conv on line 8 of models.py."""
    source = project.parent / "archlint-src"
    head = git(source, "rev-parse", "HEAD")
    root = tmp_path_factory.mktemp("models-project")
    (root / "models.py").write_text(MODEL_CODE)
    (root / "helpers.py").write_text("VALUE = 1\n")
    (root / "pyproject.toml").write_text(
        '[tool.archlint]\ntarget = ["gpu"]\nselect = ["AL101"]\n\n'
        '[[tool.archlint.models]]\nentry = "models.py::Net"\ninputs = { x = "1x3x32x32" }\n'
    )
    # The hook's environment gets the CPU torch build that `pip install torch==2.13.0` finds on
    # these machines; an unpinned torch would pull gigabytes of CUDA wheels.
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {head}\n    hooks:\n      - id: archlint-models\n"
        '        additional_dependencies: ["torch==2.13.0", "onnxscript"]\n'
    )
    commit_all(root, "models")
    return root


@pytest.mark.slow
def test_the_models_hook_lints_configured_models_whose_source_changed(models_project: Path) -> None:
    failing = pre_commit(models_project, "models.py")
    output = failing.stdout + failing.stderr
    assert failing.returncode == 1, output
    assert "AL101" in output and "models.py:8" in output  # the line that builds self.narrow
    unrelated = pre_commit(models_project, "helpers.py")  # not a source file of any model
    assert unrelated.returncode == 0, unrelated.stdout + unrelated.stderr
