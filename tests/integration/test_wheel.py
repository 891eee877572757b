"""The built wheel in a fresh virtual environment: rules/ and hardware/ are installed as
archlint.rules and archlint.hardware and work from there, and no top-level ``rules`` or
``hardware`` package lands in site-packages (where ``import rules`` would return archlint's)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.integration.test_light_models import LIGHT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    # Build from a clean copy: a build/ folder left in the checkout would leak stale files.
    source = tmp_path / "source"
    leftovers = ("build", "dist", ".git", ".venv*", ".models", "__pycache__", "*.egg-info", ".*_cache")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*leftovers))
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        check=True,
    )
    (wheel,) = dist.glob("archlint-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert top_level == {"archlint", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)

    def run(*args: str) -> str:
        # Run from an empty folder so that nothing of the source tree can be imported.
        result = subprocess.run(
            [str(python), *args], capture_output=True, text=True, cwd=tmp_path, check=True
        )
        return result.stdout

    located = run("-c", "import archlint.hardware as h, archlint.rules as r; print(h.__file__, r.__file__)")
    assert located.count(str(env_dir)) == 2 and str(ROOT) not in located
    assert "/archlint/hardware/" in located and "/archlint/rules/" in located
    missing = run("-c", "import importlib.util as u; print(u.find_spec('rules'), u.find_spec('hardware'))")
    assert missing.split() == ["None", "None"]
    listing = run("-m", "archlint", "hardware")
    assert "a100" in listing and "cortex-a53" in listing
    document = json.loads(
        run(
            "-m",
            "archlint",
            "analyze",
            str(LIGHT / "light_resnet50.onnx"),
            "--target",
            "gpu",
            "--format",
            "json",
        )
    )
    assert document["target"] == "a100"
    assert document["totals"]["params"] > 25e6
    # The HTML report inlines its script and style sheet from package data.
    page = run("-m", "archlint", "analyze", str(LIGHT / "light_resnet50.onnx"), "--format", "html")
    assert "function" in page and "</style>" in page
